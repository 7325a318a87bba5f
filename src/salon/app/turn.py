"""App layer: which ICE servers (STUN, and TURN with fresh credentials) a signed-in member's clients are told.

The TURN secret is ``SALON_TURN_SECRET`` (an external coturn's ``static-auth-secret``) or, for the managed coturn,
derived from the app's secret (domain/turn.py); the URLs are ``SALON_TURN_URLS`` or, managed, the public URL's host
on the TURN port over UDP and TCP. Nothing is stored: coturn checks the credentials itself.
"""

from __future__ import annotations

import functools
import time
from typing import Any
from urllib.parse import urlsplit

from salon.app.sessions import Actor
from salon.app.settings import Settings
from salon.domain.turn import derive_turn_secret, ice_servers, turn_credentials


@functools.cache
def _derived(app_secret: str) -> str:
    return derive_turn_secret(app_secret)


def turn_secret(settings: Settings) -> str:
    return settings.turn_secret or _derived(settings.resolved_secret())


def public_host(settings: Settings) -> str:
    return urlsplit(settings.public_url).hostname or settings.host


def client_turn_urls(settings: Settings) -> list[str]:
    if settings.turn == "off":
        return []
    if settings.turn_urls:
        return list(settings.turn_urls)
    host = public_host(settings)
    host = f"[{host}]" if ":" in host else host
    urls = [f"turn:{host}:{settings.turn_port}?transport=udp", f"turn:{host}:{settings.turn_port}?transport=tcp"]
    if settings.turn_tls_port is not None:
        urls.append(f"turns:{host}:{settings.turn_tls_port}?transport=tcp")
    return urls


def ice_servers_for(settings: Settings, actor: Actor, *, now: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """The ``iceServers`` for ``actor`` and when their TURN credentials expire (0: none given)."""
    urls = client_turn_urls(settings)
    creds = None
    if urls:
        at = int(time.time()) if now is None else now
        creds = turn_credentials(turn_secret(settings), actor.user_id, now=at, ttl_s=settings.turn_ttl_s)
    return ice_servers(urls, list(settings.stun_urls), creds), creds.expires_at if creds else 0
