"""App layer: what the media plane notices, turned into what rooms see — who is speaking, and recovery.

* ``speaking`` / ``stopped_speaking`` change a room's set of current speakers; ``flush_speakers`` sends each changed
  set as one ``speakers`` signal, and ``run_media_events`` calls it at most every ``SPEAKERS_INTERVAL_S`` (≤ 5
  updates per second per room, however chatty the media plane is).
* ``speaker_tracks`` (which track of the per-speaker mix carries each speaker changed): the room's new mapping goes
  out at once as a ``speaker_tracks`` signal, so listeners on that mix re-map their volumes. It changes only when
  people come on or leave the stage, so nothing needs coalescing.
* ``speaker_mix_ended`` (the per-speaker mix was taken down for a channel or a broadcast audience): a
  ``speaker_mix_ended`` signal to the room's followers, so its listeners' clients go back to the one mix at once
  (their per-speaker connections are cut) and say why.
* ``media_reset`` (the media server restarted and lost everything): ``recover_media`` waits for it to answer, then
  re-creates every live room from the database — the stage and the audience, each participant admitted with their
  role and mute — and tells each room's followers to reconnect their media (``media_reset`` signal). The rooms'
  own state is untouched: the database is the source of truth. ``release_media`` is the shutdown counterpart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from salon.app.interpretation_media import open_channels
from salon.app.ports import MediaEvent, MediaUnavailable, SharesRooms
from salon.app.services import Services
from salon.store import repo_interpretation
from salon.store import repo_rooms as repo

log = logging.getLogger(__name__)

SPEAKERS_INTERVAL_S = 0.2
RECOVERY_RETRY_S = (1.0, 30.0)  # first wait after a failed recovery, and the longest


@dataclass
class Speaking:
    """Who is speaking in each room, and which rooms changed since the last flush."""

    now: dict[str, set[str]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

    def apply(self, event: MediaEvent) -> None:
        if event.user_id is None or event.kind not in ("speaking", "stopped_speaking"):
            return
        speakers = self.now.setdefault(event.room_id, set())
        before = len(speakers)
        if event.kind == "speaking":
            speakers.add(event.user_id)
        else:
            speakers.discard(event.user_id)
        if len(speakers) != before:
            self.dirty.add(event.room_id)
        if not speakers:
            del self.now[event.room_id]

    def forget_room(self, room_id: str) -> None:
        self.now.pop(room_id, None)
        self.dirty.add(room_id)


async def flush_speakers(services: Services, speaking: Speaking) -> None:
    dirty = sorted(speaking.dirty)
    speaking.dirty.clear()
    for room_id in dirty:
        await services.bus.publish_signal(room_id, "speakers", {"user_ids": sorted(speaking.now.get(room_id, ()))})


async def recover_media(services: Services) -> list[str]:
    """Re-create the media of every live room after the media plane lost its state; the rooms re-created. With
    several instances (``SharesRooms``), only the rooms this instance drives: those it holds, and those nobody
    holds, which it takes."""
    await services.media.reconnect()
    async with services.db.read() as conn:
        live = await repo.live_rooms(conn)
    if isinstance(services.media, SharesRooms):
        mine = set(await services.media.claim([room.id for room in live]))
        live = [room for room in live if room.id in mine]
    for room in live:
        await _restore(services, room.id)
    for room in live:
        await services.bus.publish_signal(room.id, "media_reset", {})
    log.info("media re-created for %d live rooms", len(live))
    return [room.id for room in live]


async def _restore(services: Services, room_id: str) -> None:
    """One room's media from the database: its stage and audience (each participant admitted with their role and
    mute), then its interpretation channels (a channel hears its floor)."""
    async with services.db.read() as conn:
        people = await repo.visible_participants(conn, room_id, False)
        channels = await repo_interpretation.load(conn, room_id)
    await services.media.create_room(room_id)
    for p in people:
        await services.media.admit(room_id, p.user_id, "speaker" if p.role.on_stage else "listener", p.muted)
    await open_channels(services, room_id, channels)


async def live_room_ids(services: Services) -> list[str]:
    async with services.db.read() as conn:
        return [room.id for room in await repo.live_rooms(conn)]


async def rebuild_room(services: Services, room_id: str) -> bool:
    """Take over one room's media on this instance (its previous driver is gone: docs/ARCHITECTURE.md, "Several
    instances: who drives a room's media"): re-create it from the database, as after a media reset, and tell its
    followers to reconnect their media. False, doing nothing, when the room is not live (it ended meanwhile)."""
    async with services.db.read() as conn:
        live = await repo.live_ids(conn, [room_id])
    if room_id not in live:
        return False
    await _restore(services, room_id)
    await services.bus.publish_signal(room_id, "media_reset", {})
    log.info("media of room %s taken over and re-created here", room_id)
    return True


async def release_media(services: Services) -> None:
    """At shutdown: take every live room's media down, so a media server that outlives the app keeps nothing (the
    rooms stay live in the database; the next start re-creates their media)."""
    async with services.db.read() as conn:
        live = await repo.live_rooms(conn)
    for room in live:
        try:
            await services.media.destroy_room(room.id, restarting=True)
        except MediaUnavailable:
            log.warning("media of room %s not released: the media plane is unreachable", room.id)
            return


async def recover_until_done(services: Services, retry_s: tuple[float, float] = RECOVERY_RETRY_S) -> None:
    """``recover_media`` until it succeeds: a media plane down for longer than one ``reconnect`` waits still gets
    its rooms back once it answers. Waits ``retry_s[0]`` after the first failure, doubling up to ``retry_s[1]``."""
    delay, longest = retry_s
    while True:
        try:
            await recover_media(services)
            return
        except MediaUnavailable:
            log.warning("media plane still unreachable; recovering again in %.0f s", delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, longest)


async def handle(services: Services, speaking: Speaking, event: MediaEvent) -> None:
    if event.kind == "media_reset":  # one per loss, for every room (room_id ALL_ROOMS)
        for room_id in list(speaking.now):
            speaking.forget_room(room_id)
        await recover_until_done(services)
    elif event.kind == "speaker_tracks":
        tracks = services.media.speaker_tracks(event.room_id)
        await services.bus.publish_signal(event.room_id, "speaker_tracks", {"tracks": tracks})
    elif event.kind == "speaker_mix_ended":
        await services.bus.publish_signal(event.room_id, "speaker_mix_ended", {"code": "speaker_mix_unavailable"})
    else:
        speaking.apply(event)


async def run_media_events(services: Services, interval: float = SPEAKERS_INTERVAL_S) -> None:
    """For the life of the app: follow the media plane's events, flushing speaker changes every ``interval``."""
    speaking = Speaking()

    async def flusher() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await flush_speakers(services, speaking)
            except Exception:
                log.exception("speakers flush failed; retrying next tick")

    task = asyncio.create_task(flusher(), name="speakers-flusher")
    try:
        async for event in services.media.events():
            try:
                await handle(services, speaking, event)
            except Exception:
                log.exception("media event %s failed", event.kind)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
