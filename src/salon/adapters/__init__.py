"""Adapters layer: implementations of the app's ports (``salon.app.ports``) — the media plane (Janus), the
Redis event bus (``redis_bus``), the broadcast tier and TURN.

Above ``salon.app``: may import ``salon.domain`` and ``salon.app`` (for the ports it implements), never
``salon.store``, ``salon.web`` or ``salon.cli``.
"""
