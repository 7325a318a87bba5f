"""Salon: self-hostable live audio rooms.

Layers (dependencies point inward): ``domain`` (pure rules) ← ``app`` (use cases, ports) ← ``adapters``
(database, bus, media) and ``web`` / ``cli`` (the edges).
"""
