"""Client layer: which one of Salon's TURN URLs an aiortc connection gets.

aiortc hands aioice only the first TURN URL it is given (``rtcicetransport.connection_kwargs``: "only a single TURN
server is supported"), while Salon names several, UDP first (``turn:…?transport=udp``, ``…?transport=tcp``,
``turns:…``): a browser gathers a relay from each, but an aiortc client on a network that drops UDP would try only
TURN over UDP and never get through. So before a connection is made the client tries each TURN URL (a real
allocation, released at once), all at the same time, and keeps the first in Salon's order that answers: TURN over
UDP wherever it works, TCP or TLS where only those do. STUN URLs are kept as they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aioice.turn import create_turn_endpoint
from aiortc import RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

log = logging.getLogger(__name__)

# How long a TURN server has to answer an allocation. A dropped UDP request is only retried by aioice after
# 0.5, 1.5, 3.5 s..., so this is what a client with UDP blocked waits before it falls back to TCP or TLS.
PROBE_TIMEOUT_S: Final = 3.0

Probe = Callable[[str, RTCIceServer], Awaitable[None]]


async def allocate(url: str, server: RTCIceServer) -> None:
    """Allocate a relay on the TURN server at ``url`` with ``server``'s credentials, then release it; raises when
    the server cannot be reached or refuses."""
    parsed = parse_stun_turn_uri(url)
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol,
        server_addr=(parsed["host"], parsed["port"]),
        username=server.username,
        password=server.credential,
        ssl=parsed["scheme"] == "turns",  # checked against the default CA store, as aioice does for the real one
        transport=parsed["transport"],
    )
    transport.close()


def _turn_urls(servers: list[RTCIceServer]) -> list[tuple[str, RTCIceServer]]:
    found = []
    for server in servers:
        for url in [server.urls] if isinstance(server.urls, str) else server.urls:
            if url.startswith("turn"):
                found.append((url, server))
    return found


async def usable_turn(
    servers: list[RTCIceServer], *, probe: Probe = allocate, wait_s: float = PROBE_TIMEOUT_S
) -> list[RTCIceServer]:
    """``servers`` with their TURN URLs narrowed to the first (in Salon's order) whose server allocates a relay
    within ``wait_s`` seconds; unchanged when there is at most one TURN URL, or when none answers (ICE then fails as it
    would have, and says so)."""
    turn = _turn_urls(servers)
    if len(turn) < 2:
        return servers
    tries = [asyncio.ensure_future(asyncio.wait_for(probe(url, server), wait_s)) for url, server in turn]
    chosen: tuple[str, RTCIceServer] | None = None
    try:
        for (url, server), attempt in zip(turn, tries, strict=True):
            try:
                await attempt
            except Exception as e:  # unreachable, refused, timed out: the next URL in Salon's order
                log.info("TURN %s did not allocate a relay: %r", url, e)
                continue
            chosen = (url, server)
            break
    finally:
        for attempt in tries:
            attempt.cancel()
        await asyncio.wait(tries)  # the losers' sockets closed before we go on; their errors are not ours
    if chosen is None:
        log.warning("none of the TURN servers %s allocated a relay", [url for url, _ in turn])
        return servers
    url, server = chosen
    stun = [
        RTCIceServer(urls=urls, username=s.username, credential=s.credential)
        for s in servers
        if (urls := [u for u in ([s.urls] if isinstance(s.urls, str) else s.urls) if not u.startswith("turn")])
    ]
    return [RTCIceServer(urls=[url], username=server.username, credential=server.credential), *stun]
