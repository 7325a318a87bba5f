"""Adapters layer: implementations of the app's ports (``salon.app.ports``) — the media plane (Janus) now; the
Redis event bus and the broadcast tier next.

Above ``salon.app``: may import ``salon.domain`` and ``salon.app`` (for the ports it implements), never
``salon.store``, ``salon.web`` or ``salon.cli``.
"""
