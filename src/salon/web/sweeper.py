"""Web layer: closing WebSockets whose session ended elsewhere.

Logging out or an admin disabling someone through this instance closes their sockets at once (the use case tells
the hub). A session can also end where this process cannot see it: ``salon user disable`` from the console,
another instance, or plain expiry. Every ``SWEEP_INTERVAL_S`` the sweeper asks the database which of the connected
sessions still stand and closes the rest (code 4001).
"""

from __future__ import annotations

import asyncio
import logging

from salon.app.services import Services
from salon.app.sessions import standing_sessions
from salon.web.hub import Hub

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 15.0
# Sessions checked per query: one query for 5,000 hashes held the event loop for ~45 ms (docs/BENCHMARKS.md);
# chunks keep each step short and let fan-out run in between.
SWEEP_CHUNK = 250


async def sweep_once(services: Services, hub: Hub) -> list[str]:
    """Close the connections of sessions that no longer stand; the session hashes closed."""
    connected = hub.session_hashes()
    standing: set[str] = set()
    for start in range(0, len(connected), SWEEP_CHUNK):
        standing |= await standing_sessions(services, connected[start : start + SWEEP_CHUNK])
        await asyncio.sleep(0)
    gone = sorted(set(connected) - standing)
    if gone:
        log.info("closing WebSockets of %d ended session(s)", len(gone))
        await hub.close_sessions(gone, "session_ended")
    return gone


async def run_sweeper(services: Services, hub: Hub, interval: float = SWEEP_INTERVAL_S) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await sweep_once(services, hub)
        except Exception:
            log.exception("session sweep failed; retrying next tick")
