"""Domain layer: TURN credentials in the "TURN REST API" scheme coturn checks with ``use-auth-secret``.

A member gets a username ``<expiry unix time>:<member id>`` and, as the password, base64 of HMAC-SHA1 keyed by the
secret Salon shares with coturn over that username. coturn recomputes the HMAC and refuses the allocation (401) once
the expiry has passed, so a leaked credential is worthless after the TTL and nothing is stored on either side.
HMAC-SHA1 is what coturn implements for this scheme (its ``static-auth-secret``), not a choice of ours. Pure: time
is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from salon.domain.errors import DomainError, ErrorCode

TTL_MIN_S = 60  # shorter and a slow ICE gathering outlives its own credential
TTL_MAX_S = 86_400  # a day: longer and a leaked credential is a long-lived open relay ticket
SECRET_MIN_CHARS = 32
_TURN_LABEL = b"salon.turn.secret"
# turn:/turns:/stun: URIs (RFC 7064/7065): a host (name, IPv4, [IPv6]), an optional port and ?transport=udp|tcp.
_ICE_URL_RE = re.compile(
    r"(?P<scheme>turns?|stuns?):(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?"
)


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    credential: str
    expires_at: int  # unix seconds


def derive_turn_secret(app_secret: str) -> str:
    """coturn's ``static-auth-secret`` for the managed coturn: derived from the app's secret for this one purpose, so
    the coturn config never holds the app's own secret."""
    if len(app_secret) < SECRET_MIN_CHARS:
        raise ValueError("the app secret is too short to derive a TURN secret from")
    return hmac.new(app_secret.encode(), _TURN_LABEL, hashlib.sha256).hexdigest()


def turn_credentials(secret: str, member_id: str, *, now: int, ttl_s: int) -> TurnCredentials:
    """Fresh credentials for ``member_id``, valid for ``ttl_s`` seconds from ``now``."""
    if len(secret) < SECRET_MIN_CHARS:
        raise ValueError("the TURN secret is shorter than 32 characters")
    if not TTL_MIN_S <= ttl_s <= TTL_MAX_S:
        raise ValueError(f"the TURN credential TTL must be {TTL_MIN_S}..{TTL_MAX_S} seconds")
    # A colon would let a member id pass for another expiry; ids are opaque tokens without one, but say so.
    if not member_id or ":" in member_id:
        raise DomainError(ErrorCode.INVALID_INPUT, "a TURN username needs a member id without ':'")
    expires_at = now + ttl_s
    username = f"{expires_at}:{member_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(digest).decode("ascii"), expires_at)


def check_ice_url(url: str, *, turn: bool) -> str:
    """``url`` if it is a TURN (``turn=True``: turn:/turns:) or STUN (stun:/stuns:) URI a browser accepts."""
    match = _ICE_URL_RE.fullmatch(url)
    if match is None:
        raise ValueError(f"{url!r} is not a turn:, turns:, stun: or stuns: URI (host[:port][?transport=udp|tcp])")
    if match["scheme"].startswith("turn") != turn:
        raise ValueError(f"{url!r}: expected a {'turn: or turns:' if turn else 'stun: or stuns:'} URI")
    if match["scheme"].startswith("stun") and match["transport"]:
        raise ValueError(f"{url!r}: a STUN URI takes no ?transport")
    if match["port"] is not None and not 1 <= int(match["port"]) <= 65535:
        raise ValueError(f"{url!r}: the port must be 1..65535")
    return url


def ice_servers(
    turn_urls: list[str], stun_urls: list[str], credentials: TurnCredentials | None
) -> list[dict[str, Any]]:
    """The ``iceServers`` of an ``RTCConfiguration``: STUN without credentials, TURN with them (none: no TURN)."""
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and credentials is not None:
        servers.append(
            {"urls": list(turn_urls), "username": credentials.username, "credential": credentials.credential}
        )
    return servers
