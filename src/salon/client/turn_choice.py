"""Client layer: which one of Salon's TURN URLs an aiortc connection gets.

aiortc hands aioice only the first TURN URL it is given (``rtcicetransport.connection_kwargs``: "only a single TURN
server is supported"), while Salon names several, UDP first (``turn:…?transport=udp``, ``…?transport=tcp``,
``turns:…``): a browser gathers a relay from each, but an aiortc client on a network that drops UDP would try only
TURN over UDP and never get through. So before a connection is made the client tries each TURN URL (a real
allocation, released at once), all at the same time, and keeps Salon's first if it answers within a few seconds,
else the first in Salon's order that has answered by then, else the next to answer: TURN over UDP wherever it works,
TCP or TLS where only those do. STUN URLs are kept as they are.
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

# How long Salon's first TURN URL (UDP) has to allocate before the others may be taken instead. A dropped UDP
# request is only retried by aioice after 0.5, 1.5, 3.5 s..., so this is what a client with UDP blocked waits before
# it falls back to TCP or TLS. The others may take up to LATE_S (a TLS handshake and two requests on a loaded box).
PROBE_TIMEOUT_S: Final = 3.0
LATE_S: Final = 10.0

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
    servers: list[RTCIceServer], *, probe: Probe = allocate, wait_s: float = PROBE_TIMEOUT_S, late_s: float = LATE_S
) -> list[RTCIceServer]:
    """``servers`` with their TURN URLs narrowed to one that allocates a relay: the first of Salon's if it does so
    within ``wait_s`` seconds, else the first in Salon's order of those that have by then, else the next to answer
    (within ``late_s``). Unchanged when there is at most one TURN URL, or when none answers (ICE then fails as it
    would have, and says so)."""
    turn = _turn_urls(servers)
    if len(turn) < 2:
        return servers
    tries = [
        asyncio.ensure_future(asyncio.wait_for(probe(url, server), wait_s if i == 0 else late_s))
        for i, (url, server) in enumerate(turn)
    ]
    chosen: tuple[str, RTCIceServer] | None = None
    try:
        await asyncio.wait(tries[:1])
        while chosen is None:
            for (url, server), attempt in zip(turn, tries, strict=True):
                if attempt.done() and attempt.exception() is None:
                    chosen = (url, server)
                    break
            pending = [attempt for attempt in tries if not attempt.done()]
            if chosen is not None or not pending:
                break
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for attempt in tries:
            attempt.cancel()
        await asyncio.wait(tries)  # the losers' sockets closed before we go on; their errors are not ours
    for (url, _), attempt in zip(turn, tries, strict=True):
        if not attempt.cancelled() and attempt.exception() is not None:  # unreachable, refused, timed out
            log.info("TURN %s did not allocate a relay: %r", url, attempt.exception())
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
