"""App layer: the audience count of big rooms, published at most once per second per room.

Past the batching threshold a listener arriving or leaving emits no event of its own (5,000 people joining would
otherwise be 5,000 events to 5,000 clients); ``flush_counts`` turns the rooms marked dirty into one
``listener_count`` event each. ``run_flusher`` calls it every second for the life of the app. The count is read
from the database, so it is right whichever instance publishes it; with several instances ``Services.audience_pace``
(Redis) lets one of them publish a given room's count in a second, not each. ``audience_tiers``
tells a room's moderators how its audience hears it (WebRTC or the broadcast tier).
"""

from __future__ import annotations

import asyncio
import logging

from salon.app.media import ask_media
from salon.app.ports import AudiencePace, RoomMessage, SharedStateUnavailable
from salon.app.room_access import access_room
from salon.app.services import Services
from salon.domain.media import check_audience_reader
from salon.domain.rooms import Role
from salon.store import repo_rooms as repo

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0


async def flush_counts(services: Services) -> list[RoomMessage]:
    dirty = sorted(services.dirty_audiences)
    services.dirty_audiences.clear()
    if dirty and services.audience_pace is not None:
        dirty = await _paced(services, services.audience_pace, dirty)
    published: list[RoomMessage] = []
    for room_id in dirty:
        async with services.db.transaction() as conn:
            found = await repo.get_room(conn, room_id, lock=True)
            if found is None or found[0].ended:
                continue
            count = await repo.headcount(conn, room_id, role=Role.LISTENER)
            data = {"listener_count": count}
            seq = found[1] + 1
            await repo.append_events(
                conn, room_id, seq, [("listener_count", data)], services.clock.now(), services.settings.event_window
            )
        message = RoomMessage(room_id, seq, "listener_count", data)
        await services.bus.publish_room([message])
        published.append(message)
    return published


async def _paced(services: Services, pace: AudiencePace, dirty: list[str]) -> list[str]:
    """Several instances: the rooms another instance published a count for within the second stay dirty here for
    the next tick (the count is read from the database then, so it is never stale). Redis away: every instance
    publishes its own, as a single one would (at most one a second per instance)."""
    try:
        claimed = await pace.claim(dirty, FLUSH_INTERVAL_S)
    except SharedStateUnavailable:
        return dirty
    services.dirty_audiences.update(r for r in dirty if r not in claimed)
    return [r for r in dirty if r in claimed]


async def audience_tiers(services: Services, user_id: str, room_id: str) -> dict[str, int]:
    """For the room's moderators: its listeners, and how many of them hear it on each tier right now."""
    async with services.db.read() as conn:
        reached = await access_room(conn, room_id, user_id, "see")
        check_audience_reader(reached.room, reached.access, reached.participant)
        listeners = await repo.headcount(conn, room_id, role=Role.LISTENER)
    split = await ask_media(services.media.audience_split(room_id))
    return {"listeners": listeners, "webrtc": split["webrtc"], "broadcast": split["broadcast"]}


async def run_flusher(services: Services, interval: float = FLUSH_INTERVAL_S) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await flush_counts(services)
        except Exception:
            log.exception("listener count flush failed; retrying next tick")
