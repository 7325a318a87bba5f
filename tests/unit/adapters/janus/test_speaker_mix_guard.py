"""The per-speaker mix against an in-memory Janus, beside the floor's other whole-mix forwards (forward_rules.py:
Janus 1.1.2 spoils a second whole-mix forward while group forwards exist): refused in a room with a channel or a
broadcast audience, and taken down — forwards, mountpoint, listeners' connections, one event — when either comes
after an opt-in. The sound of it: tests/integration/media/test_speaker_mix.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import pytest

from salon.adapters.broadcast.fleet import BroadcastFleet, BroadcastNode
from salon.adapters.janus.media import JanusMedia
from salon.app.ports import MediaEvent, SpeakerMixUnavailable, StreamGrant
from salon.domain.forward_keys import ForwardKey
from tests.support.fake_janus import ADMIN_KEY, FakeJanus
from tests.unit.adapters.janus.test_speaker_mix import JMIX, JROOM, ROOM, URL, group_forwards, janus, on_stage

__all__ = ["janus"]


class OneNode:
    """A broadcast fleet of one node that takes everything (what the media adapter asks of a fleet)."""

    def __init__(self) -> None:
        self.node = BroadcastNode("w0", "http://127.0.0.1:1", "http://127.0.0.1:2", "127.0.0.1", 5004)
        self.rooms: set[str] = set()

    async def place(self, room_id: str) -> BroadcastNode:
        return self.node

    def carries(self, node: BroadcastNode, room_id: str) -> bool:
        return room_id in self.rooms

    async def register_room(self, node: BroadcastNode, room_id: str, key: ForwardKey) -> None:
        self.rooms.add(room_id)

    def grant(self, node: BroadcastNode, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        return StreamGrant(f"http://127.0.0.1:1/v1/stream/{room_id}", 0)

    async def cut(self, room_id: str, user_ids: list[str], reason: str) -> None:
        return None

    async def listeners(self, room_id: str) -> int:
        return 0

    async def end_room(self, room_id: str, reason: str) -> None:
        self.rooms.discard(room_id)


@pytest.fixture
async def media(janus: FakeJanus) -> AsyncIterator[JanusMedia]:
    fleet = cast(BroadcastFleet, OneNode())
    async with janus.client() as client, JanusMedia(URL, janus.api_secret, ADMIN_KEY, http_client=client,
                                                      broadcast=fleet) as media:  # fmt: skip
        yield media


def whole_mix_forwards(janus: FakeJanus) -> int:
    return sum(1 for f in janus.model.rooms[JROOM]["forwarders"].values() if f["group"] is None)


async def collected(media: JanusMedia) -> list[MediaEvent]:
    events: list[MediaEvent] = []
    while True:
        try:
            events.append(await asyncio.wait_for(anext(aiter(media.events())), 0.05))
        except TimeoutError:
            return events


async def test_a_room_with_a_channel_refuses_the_mix_and_makes_none_of_it(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "a")
    await media.admit(ROOM, "l", "listener", False)
    await media.create_channel(ROOM, "fr", -15)

    with pytest.raises(SpeakerMixUnavailable):
        await media.open_speaker_mix(ROOM, "l")

    assert JMIX not in janus.model.mountpoints
    assert group_forwards(janus) == {}
    assert whole_mix_forwards(janus) == 2  # the Original and the channel's floor feed

    await media.destroy_channel(ROOM, "fr")
    await media.open_speaker_mix(ROOM, "l")  # the channel gone, the mix may be made
    assert JMIX in janus.model.mountpoints


async def test_a_channel_made_after_an_opt_in_takes_the_mix_down_first(janus: FakeJanus, media: JanusMedia) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "a")
    for user_id in ("l1", "l2", "l3"):
        await media.admit(ROOM, user_id, "listener", False)
    await media.open_speaker_mix(ROOM, "l1")
    await media.open_speaker_mix(ROOM, "l2")
    await media.open_listen(ROOM, "l3")  # on the one mix: stays
    await collected(media)

    await media.create_channel(ROOM, "fr", -15)

    assert JMIX not in janus.model.mountpoints
    assert group_forwards(janus) == {}, "no group forward is left beside the channel's floor feed"
    assert whole_mix_forwards(janus) == 2
    assert (await media.audience_split(ROOM))["webrtc"] == 1, "the per-speaker listeners' connections ended"
    assert await collected(media) == [MediaEvent(ROOM, "speaker_mix_ended")]  # once, for the room
    with pytest.raises(SpeakerMixUnavailable):
        await media.open_speaker_mix(ROOM, "l1")
    await media.open_listen(ROOM, "l1")  # the one mix is there


async def test_a_broadcast_forward_made_after_an_opt_in_takes_the_mix_down_first(
    janus: FakeJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    await on_stage(media, "a")
    for user_id in ("l1", "l2"):
        await media.admit(ROOM, user_id, "listener", False)
    await media.open_speaker_mix(ROOM, "l1")
    await collected(media)

    await media.open_stream(ROOM, "l2", "conn-1")

    assert JMIX not in janus.model.mountpoints
    assert group_forwards(janus) == {}
    assert whole_mix_forwards(janus) == 2  # the Original and the broadcast node
    assert await collected(media) == [MediaEvent(ROOM, "speaker_mix_ended")]
    with pytest.raises(SpeakerMixUnavailable):
        await media.open_speaker_mix(ROOM, "l1")
    await media.open_stream(ROOM, "l1", "conn-2")  # the same node carries the room: nothing more to take down
    assert await collected(media) == []
