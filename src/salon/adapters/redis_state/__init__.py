"""Adapters layer: live state shared by several instances in Redis (``SALON_REDIS_URL``) — the rate limits' windows
and the log-in lock (``limits.py``), who is connected to any instance (``presence.py``) and the listener counts'
pace (``audience.py``). The rules stay in ``app/``; these are stores behind its ports."""
