"""Volume per speaker over the WebSocket, against the in-memory media plane: a listener opts into the per-speaker mix
(each speaker on a track of their own), someone on stage is refused it, a room at its cap says so with its own code,
a room with interpretation channels or a broadcast audience refuses it with another (and a channel made later ends
it, with a signal), and the room hears which track carries whom as people come on stage."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from salon.app.media_events import run_media_events
from salon.app.services import Services
from tests.api.test_ws import Client, services, settings, url
from tests.api.test_ws_media import ANSWER, moderator_and_member

__all__ = ["services", "settings", "url"]  # the fixtures, shared with test_ws.py


@pytest.fixture
async def media_events(services: Services) -> AsyncIterator[None]:
    """The app's loop that turns the media plane's events into room signals (the test server runs no lifespan)."""
    task = asyncio.create_task(run_media_events(services, interval=0.01))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def signal(client: Client, name: str) -> dict[str, object]:
    while True:
        frame = await client.recv()
        if frame["type"] == "signal" and frame["name"] == name:
            data: dict[str, object] = frame["data"]
            return data


async def test_a_listener_hears_each_speaker_on_a_track_of_their_own(services: Services, url: str) -> None:
    fake, room, (mod, _m), (ann, a) = await moderator_and_member(services, url)
    assert await a.refused("media_speaker_mix", room_id=room) == "not_in_room", "join first"
    await a.call("join", room_id=room)
    await a.call("media_listen", room_id=room)

    mix = await a.call("media_speaker_mix", room_id=room)
    assert mix["jsep"]["type"] == "offer"
    assert mix["tracks"] == {mod.id: "t0"}, "the moderator, alone on stage, has the first track"
    assert (room, ann.id) in fake.speaker_mix
    assert await a.call("media_answer", room_id=room, jsep=ANSWER) == {"room_id": room}
    assert fake.connections[(room, ann.id, "listen")] == "open", "it replaced her listen connection"

    await a.call("media_listen", room_id=room)
    assert (room, ann.id) not in fake.speaker_mix, "media_listen goes back to the one mix"


async def test_people_on_stage_are_refused_the_per_speaker_mix(services: Services, url: str) -> None:
    fake, room, (_mod, m), (ann, a) = await moderator_and_member(services, url)
    assert await m.refused("media_speaker_mix", room_id=room) == "media_refused", "the moderator is on stage"
    await a.call("join", room_id=room)
    await m.call("invite_up", room_id=room, user_id=ann.id)
    await a.call("accept_invite", room_id=room)
    assert await a.refused("media_speaker_mix", room_id=room) == "media_refused"
    assert not fake.speaker_mix
    await m.call("remove", room_id=room, user_id=ann.id)
    assert await a.refused("media_speaker_mix", room_id=room) == "removed_from_room"


async def test_a_room_at_its_cap_says_so_and_the_one_mix_still_plays(services: Services, url: str) -> None:
    fake, room, _, (_ann, a) = await moderator_and_member(services, url)
    fake.speaker_mix_max_listeners = 0
    await a.call("join", room_id=room)
    frame = await a.answer(await a.send("media_speaker_mix", room_id=room))
    assert frame["type"] == "error", frame
    assert frame["error"]["code"] == "speaker_mix_full"
    assert "one mix" in frame["error"]["message"]
    assert (await a.call("media_listen", room_id=room))["jsep"]["type"] == "offer", "the one mix is there"


@pytest.mark.usefixtures("media_events")
async def test_the_room_hears_which_track_carries_whom(services: Services, url: str) -> None:
    _, room, (mod, m), (ann, a) = await moderator_and_member(services, url)
    await a.call("join", room_id=room)
    await a.call("subscribe", room_id=room)
    await a.call("media_speaker_mix", room_id=room)
    await m.call("invite_up", room_id=room, user_id=ann.id)
    await a.call("accept_invite", room_id=room)
    assert await signal(a, "speaker_tracks") == {"tracks": {mod.id: "t0", ann.id: "t1"}}
    await m.call("move_to_audience", room_id=room, user_id=ann.id)
    assert await signal(a, "speaker_tracks") == {"tracks": {mod.id: "t0"}}


async def test_a_room_with_a_channel_or_a_broadcast_audience_refuses_the_mix_with_its_own_code(
    services: Services, url: str
) -> None:
    fake, room, (_mod, m), (ann, a) = await moderator_and_member(services, url)
    await a.call("join", room_id=room)
    await m.call("set_languages", room_id=room, floor="en", channels=["fr"])
    frame = await a.answer(await a.send("media_speaker_mix", room_id=room))
    assert frame["type"] == "error", frame
    assert frame["error"]["code"] == "speaker_mix_unavailable"
    assert "interpretation channels or a broadcast audience" in frame["error"]["message"]
    assert (room, ann.id) not in fake.speaker_mix
    assert (await a.call("media_listen", room_id=room))["jsep"]["type"] == "offer", "the one mix is there"

    await m.call("set_languages", room_id=room, floor=None)
    await a.call("media_speaker_mix", room_id=room)  # no channel any more: the mix again
    await a.call("media_stream", room_id=room)  # a broadcast audience
    assert await a.refused("media_speaker_mix", room_id=room) == "speaker_mix_unavailable"


@pytest.mark.usefixtures("media_events")
async def test_a_channel_made_after_an_opt_in_ends_the_mix_and_the_room_is_told(services: Services, url: str) -> None:
    fake, room, (_mod, m), (ann, a) = await moderator_and_member(services, url)
    await a.call("join", room_id=room)
    await a.call("subscribe", room_id=room)
    await a.call("media_speaker_mix", room_id=room)
    assert (room, ann.id) in fake.speaker_mix

    await m.call("set_languages", room_id=room, floor="en", channels=["fr"])
    assert await signal(a, "speaker_mix_ended") == {"code": "speaker_mix_unavailable"}
    assert (room, ann.id) not in fake.speaker_mix
    assert (room, ann.id, "listen") not in fake.connections, "her per-speaker connection ended with it"
