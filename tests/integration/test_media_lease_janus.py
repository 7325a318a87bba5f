"""The lease's routing (adapters/redis_media) over two real managed Janus processes (Debian's 1.1.2 on 127.0.0.1), one
per instance, and a real ``redis-server``: a room instance A created lives on A's Janus, and a listener's and a
speaker's calls that came through instance B get their session descriptions from that Janus room; B's own Janus never
hears of the room. No media flows (hand-written SDP, as in test_janus_media.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from salon.adapters.janus.media import JanusMedia
from salon.adapters.redis_media.routing import RoutedMedia
from salon.web.media_routing import routed_media
from tests.integration.test_janus_media import SPEAKER_OFFER
from tests.support.janus import managed_janus
from tests.support.redis import RedisServer, private_redis

ROOM = "lease-room"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


async def no_rebuild(room_id: str) -> bool:
    raise AssertionError(f"room {room_id} was not to be taken over")


@pytest.fixture
async def instances(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[list[RoutedMedia]]:
    async with AsyncExitStack() as stack:
        made = []
        for name in ("a", "b"):
            janus = await stack.enter_async_context(managed_janus(tmp_path / f"janus-{name}"))
            local = await stack.enter_async_context(JanusMedia(janus.url, janus.api_secret, janus.admin_key))
            routed = routed_media(local, redis_server.url)
            await routed.start(no_rebuild)
            stack.push_async_callback(routed.stop)
            made.append(routed)
        yield made


async def rooms_on(media: RoutedMedia) -> int:
    health = await media.health()
    return sum(node.rooms for node in health.janus)


async def test_calls_through_b_are_answered_by_the_janus_room_a_created(instances: list[RoutedMedia]) -> None:
    a, b = instances
    await a.create_room(ROOM)
    await b.admit(ROOM, "ann", "listener", False)  # through B, made on A's Janus
    await b.admit(ROOM, "sam", "speaker", False)

    offer = await b.open_listen(ROOM, "ann")
    assert offer["type"] == "offer"
    assert offer["sdp"].startswith("v=0")
    assert "m=audio" in offer["sdp"], "Janus's own offer, from A's mountpoint"
    answer = await b.open_speak(ROOM, "sam", SPEAKER_OFFER)
    assert answer["type"] == "answer"
    assert "m=audio" in answer["sdp"], "A's AudioBridge answered the speaker's offer"

    health_a = await a.health()
    assert await rooms_on(a) == 1
    assert sum(node.speakers for node in health_a.janus) == 1
    assert await rooms_on(b) == 0, "B's Janus never heard of the room"
    assert (b.forwarded, a.served) == (4, 4)
