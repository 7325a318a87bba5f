"""Domain layer: pure rules and value objects.

May import only the standard library and other ``salon.domain`` modules. No I/O, no async, no clock of its own
(time is passed in), no framework.
"""
