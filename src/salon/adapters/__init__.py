"""Adapters layer: the outside world behind the app's ports — database, event bus, media server.

May import ``salon.domain`` and ``salon.app`` (for the ports it implements), never ``salon.web`` or ``salon.cli``.
"""
