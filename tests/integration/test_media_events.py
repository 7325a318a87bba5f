"""What the media plane reports, as rooms see it: coalesced ``speakers`` signals, and recovery after the media
server lost everything (every live room re-created from the database, followers told to reconnect)."""

from __future__ import annotations

import asyncio

import pytest

from salon.app import stage
from salon.app.fakes import FakeMedia, RecordingBus
from salon.app.media_events import Speaking, flush_speakers, handle, recover_until_done, run_media_events
from salon.app.ports import ALL_ROOMS, MediaEvent, MediaUnavailable
from salon.app.rooms import NewRoom, create_room, end_room
from salon.app.services import Services
from salon.domain.rooms import RoomType
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


def fakes(services: Services) -> tuple[FakeMedia, RecordingBus]:
    assert isinstance(services.media, FakeMedia)
    assert isinstance(services.bus, RecordingBus)
    return services.media, services.bus


async def test_speaking_changes_become_one_signal_per_room_and_tick(services: Services) -> None:
    _, bus = fakes(services)
    speaking = Speaking()
    for _ in range(10):  # a chatty media plane: on, off, on … within one tick
        await handle(services, speaking, MediaEvent("r1", "speaking", "ann"))
        await handle(services, speaking, MediaEvent("r1", "stopped_speaking", "ann"))
    await handle(services, speaking, MediaEvent("r1", "speaking", "bob"))
    await handle(services, speaking, MediaEvent("r2", "speaking", "cat"))
    await handle(services, speaking, MediaEvent("r2", "speaking", "cat"))
    await flush_speakers(services, speaking)
    assert bus.signals == [("r1", "speakers", {"user_ids": ["bob"]}), ("r2", "speakers", {"user_ids": ["cat"]})]
    await flush_speakers(services, speaking)
    assert len(bus.signals) == 2, "nothing changed, nothing sent"
    await handle(services, speaking, MediaEvent("r2", "stopped_speaking", "cat"))
    await handle(services, speaking, MediaEvent("r2", "hung_up", "cat", "speak"))
    await flush_speakers(services, speaking)
    assert bus.signals[2:] == [("r2", "speakers", {"user_ids": []})]


async def test_a_change_of_speaker_tracks_becomes_the_rooms_signal(services: Services) -> None:
    _media, bus = fakes(services)
    mod, bob = [await add_member(services, n) for n in ("moda", "bob")]
    room = (await create_room(services, mod, NewRoom("Live", "", [], RoomType.OPEN)))["room"]["id"]
    await stage.join(services, bob, room)
    await stage.invite_up(services, mod, room, bob)
    await stage.accept_stage_invite(services, bob, room)
    await handle(services, Speaking(), MediaEvent(room, "speaker_tracks"))
    assert bus.signals[-1] == (room, "speaker_tracks", {"tracks": {mod: "t0", bob: "t1"}}), "the mapping of now"


async def test_a_media_reset_recreates_every_live_room_from_the_database(services: Services) -> None:
    media, bus = fakes(services)
    mod, bob, ann = [await add_member(services, n) for n in ("moda", "bob", "ann")]
    room = (await create_room(services, mod, NewRoom("Live", "", [], RoomType.OPEN)))["room"]["id"]
    over = (await create_room(services, mod, NewRoom("Over", "", [], RoomType.OPEN)))["room"]["id"]
    await end_room(services, mod, over)
    for user in (bob, ann):
        await stage.join(services, user, room)
    await stage.invite_up(services, mod, room, bob)
    await stage.accept_stage_invite(services, bob, room)
    await stage.mute(services, mod, room, bob, True)
    before = dict(media.members), set(media.rooms)

    speaking = Speaking()
    await handle(services, speaking, MediaEvent(room, "speaking", bob))
    await handle(services, speaking, MediaEvent(ALL_ROOMS, "media_reset"))
    assert ("reconnect",) in media.calls, "the media plane was asked to come back first"
    assert (
        (dict(media.members), set(media.rooms))
        == before
        == (
            {(room, mod): ("speaker", True), (room, bob): ("speaker", True), (room, ann): ("listener", False)},
            {room},
        )
    ), "the same rooms, roles and mutes as before the loss; the ended room stays gone"
    assert (room, "media_reset", {}) in bus.signals
    await flush_speakers(services, speaking)
    assert (room, "speakers", {"user_ids": []}) in bus.signals, "nobody is speaking after a reset"


async def test_run_media_events_follows_the_media_plane(services: Services) -> None:
    media, bus = fakes(services)
    task = asyncio.create_task(run_media_events(services, interval=0.01))
    try:
        await media.queue.put(MediaEvent("r1", "speaking", "ann"))
        async with asyncio.timeout(5):
            while ("r1", "speakers", {"user_ids": ["ann"]}) not in bus.signals:  # noqa: ASYNC110 - a fake's list
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_recovery_is_retried_until_the_media_plane_answers(services: Services) -> None:
    media, bus = fakes(services)
    mod = await add_member(services, "moda")
    room = (await create_room(services, mod, NewRoom("Live", "", [], RoomType.OPEN)))["room"]["id"]
    failures = 2
    real_reconnect = media.reconnect

    async def flaky_reconnect() -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise MediaUnavailable("still down")
        await real_reconnect()

    media.reconnect = flaky_reconnect  # type: ignore[method-assign]
    await recover_until_done(services, retry_s=(0.01, 0.02))
    assert failures == 0
    assert media.rooms == {room}
    assert (room, "media_reset", {}) in bus.signals
