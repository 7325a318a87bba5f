"""App layer: health — is this instance ready to serve (the database answers, the media plane is up), and what
the media plane reports of its nodes (for the readiness check and the metrics; web/routes_health.py).

The media plane's report comes from what the adapters already hold (the Janus sessions' state, connection counts,
the broadcast workers' last stats, read again at most once per worker and scrape): a health check never walks the
rooms. A media port that cannot report (``NullMedia``: a process with no audio) is not ready.
"""

from __future__ import annotations

import asyncio
import logging

from salon.app.media_health import MediaHealth, ReportsHealth
from salon.app.ports import MediaPort
from salon.app.services import Services
from salon.store.health import count_live_rooms, ping

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0  # a load balancer polls every few seconds: a check that hangs must say "not ready" first


async def media_health(media: MediaPort) -> MediaHealth | None:
    """The media plane's report; None when it has none to give."""
    if not isinstance(media, ReportsHealth):
        return None
    async with asyncio.timeout(CHECK_TIMEOUT_S):
        return await media.health()


async def _database_problem(services: Services) -> str | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), services.db.read() as conn:
            await ping(conn)
    except Exception as exc:  # whatever the driver raises: the answer is "not ready", the reason goes to the log
        log.warning("readiness: the database does not answer: %r", exc)
        return f"the database does not answer ({type(exc).__name__})"
    return None


async def _media_problem(services: Services) -> str | None:
    try:
        health = await media_health(services.media)
    except Exception as exc:
        log.warning("readiness: the media plane gave no report: %r", exc)
        return f"the media plane gave no report ({type(exc).__name__})"
    if health is None:
        return "this process has no media plane"
    if not health.janus:
        return "no Janus node"
    down = sum(1 for node in health.janus if not node.up)
    if down:
        # How many, never which: the answer is public (load balancers poll it), node addresses are private.
        return f"{down} of {len(health.janus)} Janus node(s) have no live session"
    return None


async def readiness(services: Services) -> dict[str, str]:
    """What is not ready, by check (``database``, ``media``); empty when everything is."""
    problems = dict(
        zip(
            ("database", "media"),
            await asyncio.gather(_database_problem(services), _media_problem(services)),
            strict=True,
        )
    )
    return {check: problem for check, problem in problems.items() if problem is not None}


async def live_room_count(services: Services) -> int:
    async with services.db.read() as conn:
        return await count_live_rooms(conn)
