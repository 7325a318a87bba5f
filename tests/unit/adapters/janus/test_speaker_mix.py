"""JanusMedia's per-speaker mix against an in-memory Janus: the floor room's groups, each speaker joined and moved in
the group of their track, the multistream mountpoint and its group forwards made on the first opt-in, the cap, a room
without groups, and the mix made again after a loss. The sound itself: tests/integration/media/test_speaker_mix.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.media_rooms import room_secret
from salon.adapters.janus.plugins import janus_id
from salon.adapters.janus.speaker_mix import mix_key
from salon.app.ports import MediaEvent, MediaFull, MediaRefused, MediaUnavailable
from salon.domain.speaker_tracks import MIDS
from tests.support.fake_janus import ADMIN_KEY, OFFER, FakeJanus

URL = "http://127.0.0.1:8088/janus"
ROOM = "room-1"
JROOM, JMIX = janus_id(ROOM), janus_id(mix_key(ROOM))
CLIENT_OFFER = {"type": "offer", "sdp": "v=0\r\no=- 3 3 IN IP4 127.0.0.1\r\n"}
CLIENT_ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 4 4 IN IP4 127.0.0.1\r\n"}


@pytest.fixture
def janus() -> FakeJanus:
    return FakeJanus()


@pytest.fixture
async def media(janus: FakeJanus) -> AsyncIterator[JanusMedia]:
    async with (
        janus.client() as client,
        JanusMedia(URL, janus.api_secret, ADMIN_KEY, http_client=client, speaker_mix_listeners=2) as media,
    ):
        yield media


def groups_in_janus(janus: FakeJanus) -> dict[str, str]:
    """Each participant's group in the floor room, by display name (the user id)."""
    return {p["display"]: p["group"] for p in janus.model.rooms[JROOM]["participants"].values()}


def group_forwards(janus: FakeJanus) -> dict[str, int]:
    """The floor room's forwards of one group, by group: their destination port."""
    forwarders = janus.model.rooms[JROOM]["forwarders"].values()
    return {f["group"]: f["port"] for f in forwarders if f["group"] is not None}


async def on_stage(media: JanusMedia, *user_ids: str) -> None:
    for user_id in user_ids:
        await media.admit(ROOM, user_id, "speaker", False)
        await media.open_speak(ROOM, user_id, CLIENT_OFFER)


async def test_speakers_join_in_the_group_of_their_track_and_move_when_a_track_frees_up(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    [create] = janus.bodies("create")[:1]
    assert create["groups"] == list(MIDS)

    await on_stage(media, "a", "b", "c", "d", "e", "f")
    assert groups_in_janus(janus) == {"a": "t0", "b": "t1", "c": "t2", "d": "t3", "e": "others", "f": "others"}
    assert media.speaker_tracks(ROOM) == groups_in_janus(janus)

    await media.admit(ROOM, "b", "listener", False)  # b moves down: e, the longest waiting, takes t1
    assert media.speaker_tracks(ROOM) == {"a": "t0", "e": "t1", "c": "t2", "d": "t3", "f": "others"}
    assert groups_in_janus(janus) == media.speaker_tracks(ROOM)
    assert [b["group"] for b in janus.bodies("configure")] == ["t1"]  # only e was moved

    await media.remove(ROOM, "a")  # t0 goes to f
    assert groups_in_janus(janus)["f"] == "t0"


async def test_a_speaker_admitted_before_connecting_keeps_their_track_for_the_connection(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    for user_id in ("a", "b", "c", "d", "e"):
        await media.admit(ROOM, user_id, "speaker", True)
    await media.admit(ROOM, "a", "listener", True)  # e takes t0 before connecting
    await media.open_speak(ROOM, "e", CLIENT_OFFER)
    [join] = janus.bodies("join")
    assert join["group"] == "t0"


async def test_each_change_of_the_mapping_is_one_speaker_tracks_event(media: JanusMedia) -> None:
    events: list[MediaEvent] = []

    async def collect() -> None:
        async for event in media.events():
            events.append(event)

    task = asyncio.create_task(collect())
    await media.create_room(ROOM)
    await media.admit(ROOM, "a", "speaker", False)
    await media.admit(ROOM, "a", "speaker", True)  # a mute is no change of tracks
    await media.admit(ROOM, "l", "listener", False)
    await media.admit(ROOM, "a", "listener", False)
    await asyncio.sleep(0.05)
    task.cancel()
    assert events == [MediaEvent(ROOM, "speaker_tracks"), MediaEvent(ROOM, "speaker_tracks")]


async def test_the_first_opt_in_makes_a_multistream_mountpoint_fed_by_one_forward_per_group(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "a")
    for user_id in ("l1", "l2"):
        await media.admit(ROOM, user_id, "listener", False)
    assert JMIX not in janus.model.mountpoints  # nothing until someone opts in
    assert group_forwards(janus) == {}

    assert await media.open_speaker_mix(ROOM, "l1") == OFFER
    mountpoint = janus.model.mountpoints[JMIX]
    assert [(m["mid"], m["codec"], m["iface"]) for m in mountpoint["media"]] == [
        (mid, "opus", "127.0.0.1") for mid in MIDS
    ]
    assert mountpoint["secret"] == room_secret(ADMIN_KEY, "mountpoint", mix_key(ROOM))
    assert group_forwards(janus) == {p["mid"]: p["port"] for p in mountpoint["ports"]}
    [watch] = [b for b in janus.bodies("watch")]
    assert watch["id"] == JMIX

    await media.answer_listen(ROOM, "l1", CLIENT_ANSWER)
    await media.open_speaker_mix(ROOM, "l2")
    assert len(janus.bodies("rtp_forward")) == 1 + len(MIDS)  # the room's own forward, then the groups' once
    with pytest.raises(MediaRefused):
        await media.switch_listen(ROOM, "l1", None)  # a channel is one mix: not on a per-speaker connection


async def test_only_listeners_opt_in_up_to_the_cap_and_the_one_mix_frees_a_place(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "s")
    for user_id in ("l1", "l2", "l3"):
        await media.admit(ROOM, user_id, "listener", False)
    with pytest.raises(MediaRefused):
        await media.open_speaker_mix(ROOM, "s")
    with pytest.raises(MediaRefused):
        await media.open_speaker_mix(ROOM, "stranger")

    await media.open_speaker_mix(ROOM, "l1")
    await media.open_speaker_mix(ROOM, "l1")  # again: replaces its own
    await media.open_speaker_mix(ROOM, "l2")
    with pytest.raises(MediaFull):
        await media.open_speaker_mix(ROOM, "l3")
    await media.open_listen(ROOM, "l2")  # back to the one mix
    await media.open_speaker_mix(ROOM, "l3")
    assert (await media.audience_split(ROOM))["webrtc"] == 3


async def test_destroying_the_room_destroys_the_per_speaker_mountpoint(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "l", "listener", False)
    await media.open_speaker_mix(ROOM, "l")

    await media.destroy_room(ROOM)

    assert janus.model.mountpoints == {}
    assert janus.model.rooms == {}
    assert media.speaker_tracks(ROOM) == {}


async def test_a_room_made_without_groups_refuses_the_mix_and_keeps_nothing_of_it(
    janus: FakeJanus, media: JanusMedia
) -> None:
    # An older Salon made the room (no groups) and the app restarted with Janus still up.
    janus.model.rooms[JROOM] = {
        "secret": room_secret(ADMIN_KEY, "room", ROOM), "forwarders": {}, "participants": {}, "groups": [],
    }  # fmt: skip
    await media.create_room(ROOM)
    await on_stage(media, "a")  # its group is ignored by such a room: the stage works
    await media.admit(ROOM, "l", "listener", False)

    with pytest.raises(MediaUnavailable):
        await media.open_speaker_mix(ROOM, "l")

    assert JMIX not in janus.model.mountpoints
    assert len(janus.model.rooms[JROOM]["forwarders"]) == 1  # the room's own forward only
    assert await media.open_listen(ROOM, "l") == OFFER


async def test_after_janus_restarts_the_next_opt_in_makes_the_mix_again(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "a", "b")
    await media.admit(ROOM, "l", "listener", False)
    await media.open_speaker_mix(ROOM, "l")

    janus.restart()
    janus.model.rooms.clear()
    janus.model.mountpoints.clear()
    await asyncio.sleep(0.05)
    await media.reconnect(timeout=5)
    await media.create_room(ROOM)  # the app re-creates the room and re-admits everyone
    for user_id in ("a", "b"):
        await media.admit(ROOM, user_id, "speaker", False)
        await media.open_speak(ROOM, user_id, CLIENT_OFFER)
    await media.admit(ROOM, "l", "listener", False)
    assert groups_in_janus(janus) == {"a": "t0", "b": "t1"}  # the same tracks as before

    await media.open_speaker_mix(ROOM, "l")
    assert set(group_forwards(janus)) == set(MIDS)
    assert JMIX in janus.model.mountpoints
