"""Web layer: the client's address — the one answer every rate limit keyed on an address uses (log-in, waitlist).

``X-Forwarded-For`` is believed only when the connecting peer is one of ``SALON_TRUSTED_PROXIES``; the client is
then the right-most address of the chain that is not itself a trusted proxy (each proxy appends the address it
saw, so everything left of the first untrusted hop was written by the client and may be forged). With no trusted
proxy configured (the default) the header is ignored and the peer is the client. uvicorn's own proxy-header
handling, which believes any peer on 127.0.0.1, is switched off where Salon runs it (``web/ws_server.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from starlette.requests import HTTPConnection

from salon.web.deps import get_services

UNKNOWN = "unknown"  # no peer address at all (an in-process transport): one bucket for all such callers

Network = IPv4Network | IPv6Network


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    """An address as a proxy writes it: bare, ``[v6]``, ``v4:port`` or ``[v6]:port``; None when it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def resolve_client(peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]) -> str:
    """The client's address from the peer, the ``X-Forwarded-For`` header lines (in order) and the trusted proxies."""
    hop = _parse(peer) if peer else None
    if hop is None:
        return peer or UNKNOWN
    if not _trusted(hop, proxies):
        return str(hop)
    chain = [part for line in forwarded_for for part in line.split(",")]
    for entry in reversed(chain):
        address = _parse(entry)
        if address is None:  # a proxy we trust wrote something that is no address: stop at that proxy
            break
        hop = address
        if not _trusted(hop, proxies):
            break
    return str(hop)  # every hop trusted: the left-most one


def client_address(conn: HTTPConnection) -> str:
    """The address of whoever sent this request or opened this WebSocket (see the module's docstring)."""
    peer = conn.client.host if conn.client else None
    proxies = get_services(conn).settings.trusted_proxies
    forwarded = conn.headers.getlist("x-forwarded-for") if proxies else []
    return resolve_client(peer, forwarded, proxies)
