"""adapters/redis_media/routing.py: every media call of a room runs on the instance holding its lease — here, or
carried to the holder and its result (or refusal) brought back as plain data — and a room whose holder died is taken
over and rebuilt. With in-memory leases (expiring on the loop's clock) and an in-memory network of instances that
passes every request and reply through JSON, and ``FakeMedia`` as each instance's own media adapter; no Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from salon.adapters.redis_media.routing import RoutedMedia
from salon.adapters.redis_media.rpc import Handler, InstanceGone
from salon.app.fakes import FakeMedia
from salon.app.ports import (
    Booth,
    MediaFull,
    MediaRefused,
    MediaUnavailable,
    SharesRooms,
    SpeakerMixUnavailable,
    StreamGrant,
)

TTL_S = 0.3
ROOM = "r1"


class MemoryLeases:
    """The leases as ``RedisLeases`` keeps them, expiring on the event loop's clock; ``away`` makes every call fail
    as an unreachable Redis does."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, float]] = {}
        self.away = False

    def _now(self) -> float:
        if self.away:
            raise OSError("Redis is away")
        return asyncio.get_running_loop().time()

    def _live(self, room_id: str) -> str | None:
        now = self._now()
        held = self.keys.get(room_id)
        if held is None or held[1] <= now:
            self.keys.pop(room_id, None)
            return None
        return held[0]

    async def acquire(self, room_id: str, holder: str, ttl_ms: int) -> bool:
        if self._live(room_id) is not None:
            return False
        self.keys[room_id] = (holder, self._now() + ttl_ms / 1000)
        return True

    async def renew(self, room_id: str, holder: str, ttl_ms: int) -> bool:
        if self._live(room_id) not in (None, holder):
            return False
        self.keys[room_id] = (holder, self._now() + ttl_ms / 1000)
        return True

    async def renew_many(self, room_ids: list[str], holder: str, ttl_ms: int) -> list[bool]:
        return [await self.renew(room_id, holder, ttl_ms) for room_id in room_ids]

    async def release(self, room_id: str, holder: str) -> None:
        if self._live(room_id) == holder:
            del self.keys[room_id]

    async def holder(self, room_id: str) -> str | None:
        return self._live(room_id)

    async def holders(self, room_ids: list[str]) -> list[str | None]:
        return [self._live(room_id) for room_id in room_ids]


class Network:
    """The instances' channels: a request reaches a started instance's handler, as JSON both ways."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}


class MemoryTransport:
    def __init__(self, network: Network, me: str) -> None:
        self.network = network
        self.me = me

    async def start(self, handler: Handler) -> None:
        self.network.handlers[self.me] = handler

    async def stop(self) -> None:
        self.network.handlers.pop(self.me, None)

    async def request(self, to: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        handler = self.network.handlers.get(to)
        if handler is None:
            raise InstanceGone(to)
        async with asyncio.timeout(timeout):
            reply = await handler(orjson.loads(orjson.dumps(body)))
        decoded: dict[str, Any] = orjson.loads(orjson.dumps(reply))
        return decoded


class Cluster:
    """Instances on one network and one lease store; each rebuilds a room it takes over from ``people`` (what the
    database would say), as the app's ``rebuild_room`` does, through its own routed port."""

    def __init__(self) -> None:
        self.network = Network()
        self.leases = MemoryLeases()
        self.people: dict[str, list[tuple[str, str]]] = {}  # room -> (user, role)
        self.live: set[str] = set()
        self.rebuilt: list[tuple[str, str]] = []  # (instance, room)

    async def instance(
        self, name: str, *, rpc_timeout_s: float = 2.0, watching: bool = False
    ) -> tuple[RoutedMedia, FakeMedia]:
        local = FakeMedia()
        routed = RoutedMedia(
            local, self.leases, MemoryTransport(self.network, name), ttl_s=TTL_S, rpc_timeout_s=rpc_timeout_s
        )
        await routed.start(self._rebuilder(name, routed), self._live_rooms if watching else None)
        return routed, local

    async def _live_rooms(self) -> list[str]:
        return sorted(self.live)

    def _rebuilder(self, name: str, routed: RoutedMedia) -> Callable[[str], Awaitable[bool]]:
        async def rebuild(room_id: str) -> bool:
            if room_id not in self.live:
                return False
            self.rebuilt.append((name, room_id))
            await routed.create_room(room_id)  # through the routed port: runs here, the room being rebuilt
            for user_id, role in self.people.get(room_id, []):
                await routed.admit(room_id, user_id, "speaker" if role == "speaker" else "listener", False)
            return True

        return rebuild


@pytest.fixture
async def cluster() -> Cluster:
    return Cluster()


async def opened(cluster: Cluster, routed: RoutedMedia, room_id: str = ROOM) -> None:
    """A room goes live through ``routed``, its creator (``mod``) on stage, ``ann`` listening."""
    cluster.live.add(room_id)
    cluster.people[room_id] = [("mod", "speaker"), ("ann", "listener")]
    await routed.create_room(room_id)
    await routed.admit(room_id, "mod", "speaker", False)
    await routed.admit(room_id, "ann", "listener", False)


async def test_a_room_opened_on_a_is_driven_by_a_and_b_s_calls_run_there(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    b, b_media = await cluster.instance("b")
    await opened(cluster, a)
    assert a.held == {ROOM}
    assert await cluster.leases.holder(ROOM) == "a"

    offer = await b.open_listen(ROOM, "ann")
    assert offer == {"type": "offer", "sdp": "v=0 fake offer to ann"}
    await b.answer_listen(ROOM, "ann", {"type": "answer", "sdp": "v=0 ann"})
    await b.add_candidate(ROOM, "ann", "listen", {"candidate": "c", "sdpMid": "0"})
    answer = await b.open_speak(ROOM, "mod", {"type": "offer", "sdp": "v=0 mod"})
    assert answer == {"type": "answer", "sdp": "v=0 fake answer to mod"}
    await b.set_muted(ROOM, "mod", True)
    assert await b.audience_split(ROOM) == {"webrtc": 1, "broadcast": 0}

    assert a_media.connections == {(ROOM, "ann", "listen"): "open", (ROOM, "mod", "speak"): "open"}
    assert a_media.candidates == [(ROOM, "ann", "listen")]
    assert a_media.members[(ROOM, "mod")] == ("speaker", True)
    assert b_media.calls == [], "B's own media adapter never saw the room"
    assert b.held == set()
    assert (b.forwarded, a.served) == (6, 6)


async def test_refusals_come_back_as_the_same_exceptions(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    b, _ = await cluster.instance("b")
    await opened(cluster, a)
    with pytest.raises(MediaRefused, match="not admitted"):
        await b.open_speak(ROOM, "ann", {"type": "offer", "sdp": "v=0"})
    a_media.speaker_mix_max_listeners = 0
    with pytest.raises(MediaFull):
        await b.open_speaker_mix(ROOM, "ann")
    await b.open_stream(ROOM, "ann", "conn-1")  # a broadcast audience rules the per-speaker mix out
    with pytest.raises(SpeakerMixUnavailable):
        await b.open_speaker_mix(ROOM, "ann")


async def test_dataclasses_cross_as_plain_data(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    b, _ = await cluster.instance("b")
    await opened(cluster, a)
    grant = await b.open_stream(ROOM, "ann", "conn-1")
    assert grant == StreamGrant(url=f"http://broadcast.invalid/v1/stream/{ROOM}?ticket=fake-ann", expires_at=0)
    await b.create_channel(ROOM, "fr", -12)
    booth = Booth("fr", ("mod", "ann"), live="mod", handover_to="ann")
    await b.set_booth(ROOM, booth)
    assert a_media.booths[(ROOM, "fr")] == booth
    offer = await b.open_channel_listen(ROOM, "fr", "ann", interpreter_only=True)
    assert offer["type"] == "offer"
    assert a_media.interpreter_only[(ROOM, "ann")] is True, "keyword arguments cross too"


async def test_the_per_speaker_tracks_come_back_with_the_offer(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    b, _ = await cluster.instance("b")
    await opened(cluster, a)
    assert b.speaker_tracks(ROOM) == {}
    await b.open_speaker_mix(ROOM, "ann")
    assert b.speaker_tracks(ROOM) == a_media.speaker_tracks(ROOM) == a.speaker_tracks(ROOM)
    assert b.speaker_tracks(ROOM) == {"mod": "t0"}


async def test_a_dead_holder_s_room_is_taken_over_and_rebuilt_on_the_next_call(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    b, b_media = await cluster.instance("b")
    await opened(cluster, a)
    loop = asyncio.get_running_loop()
    await a.stop(release=False)  # A dies: no more answers, no more renewals; its lease runs out within TTL_S
    assert await cluster.leases.holder(ROOM) == "a"

    started = loop.time()
    offer = await b.open_listen(ROOM, "ann")
    assert loop.time() - started < TTL_S + 0.2, "waited for the lease to expire, not for a timeout"
    assert offer == {"type": "offer", "sdp": "v=0 fake offer to ann"}
    assert cluster.rebuilt == [("b", ROOM)]
    assert b.held == {ROOM}
    assert b.taken_over == 1
    assert await cluster.leases.holder(ROOM) == "b"
    assert b_media.rooms == {ROOM}
    assert b_media.members == {(ROOM, "mod"): ("speaker", False), (ROOM, "ann"): ("listener", False)}
    assert b_media.connections == {(ROOM, "ann", "listen"): "offered"}
    assert ("open_listen", ROOM, "ann") not in a_media.calls


async def test_a_dead_holder_s_room_is_taken_over_without_any_call(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    b, b_media = await cluster.instance("b", watching=True)
    await opened(cluster, a)
    await a.stop(release=False)
    deadline = asyncio.get_running_loop().time() + TTL_S * 6  # expiry, then two looks of B's
    while b.held != {ROOM}:
        assert asyncio.get_running_loop().time() < deadline, "B did not take the orphaned room over"
        await asyncio.sleep(0.02)
    assert cluster.rebuilt == [("b", ROOM)]
    assert b_media.members == {(ROOM, "mod"): ("speaker", False), (ROOM, "ann"): ("listener", False)}


async def test_a_room_seen_unheld_once_is_left_to_its_create_room(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    b, _ = await cluster.instance("b")
    b._live_rooms = cluster._live_rooms  # looks by hand, no timer
    cluster.live.add(ROOM)  # committed live; its create_room not yet made
    await b.watch()
    assert b.held == set()
    await a.create_room(ROOM)
    await b.watch()
    cluster.live.add("r2")  # a live room nobody ever drives (its opener died before create_room)
    await b.watch()
    assert b.held == set()
    await b.watch()
    assert b.held == {"r2"}
    assert cluster.rebuilt == [("b", "r2")]
    assert await cluster.leases.holder(ROOM) == "a"


async def test_a_room_ended_elsewhere_loses_its_media_at_the_next_look(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    a._live_rooms = cluster._live_rooms
    await opened(cluster, a)
    await a.watch()
    assert a_media.rooms == {ROOM}
    cluster.live.discard(ROOM)  # `salon room end` from the console: the database only
    await a.watch()
    assert a_media.rooms == set()
    assert a.held == set()
    assert await cluster.leases.holder(ROOM) is None


async def test_a_held_lease_is_renewed_past_its_ttl(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    b, b_media = await cluster.instance("b")
    await opened(cluster, a)
    await asyncio.sleep(TTL_S * 3)
    assert await cluster.leases.holder(ROOM) == "a"
    await b.open_listen(ROOM, "ann")
    assert b_media.calls == []
    assert cluster.rebuilt == []


async def test_a_call_to_a_holder_that_does_not_answer_is_media_unavailable(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    b, _ = await cluster.instance("b", rpc_timeout_s=0.2)
    await opened(cluster, a)
    stuck = asyncio.Event()

    async def hangs(room_id: str, user_id: str) -> dict[str, str]:
        await stuck.wait()
        return {}

    a_media.open_listen = hangs  # type: ignore[method-assign]
    with pytest.raises(MediaUnavailable, match=r"did not answer within 0\.2 s"):
        await b.open_listen(ROOM, "ann")
    stuck.set()


async def test_ending_the_room_releases_its_lease_and_the_next_room_is_fresh(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    b, b_media = await cluster.instance("b")
    await opened(cluster, a)
    await b.destroy_room(ROOM)
    assert a_media.rooms == set()
    assert a.held == set()
    assert await cluster.leases.holder(ROOM) is None
    await b.create_room(ROOM)  # the same id again (a test's shortcut): a new room, taken without a rebuild
    assert b.held == {ROOM}
    assert cluster.rebuilt == []
    assert b_media.rooms == {ROOM}


async def test_a_room_nobody_drives_is_destroyed_here_without_a_lease(cluster: Cluster) -> None:
    b, b_media = await cluster.instance("b")
    await b.destroy_room(ROOM)
    assert b_media.calls == [("destroy_room", ROOM)]
    assert b.held == set()
    assert await cluster.leases.holder(ROOM) is None


async def test_stopping_releases_only_the_rooms_held_here(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    b, b_media = await cluster.instance("b")
    await opened(cluster, a)
    await opened(cluster, b, "r2")
    for room_id in (ROOM, "r2"):  # what release_media does on B's shutdown
        await b.destroy_room(room_id, restarting=True)
    assert a_media.rooms == {ROOM}, "A's room is not B's to release"
    assert b_media.calls[-1] == ("destroy_room", "r2", "restarting")
    assert await cluster.leases.holder("r2") is None
    assert await cluster.leases.holder(ROOM) == "a"


async def test_a_room_that_ended_meanwhile_is_not_taken_over(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    b, b_media = await cluster.instance("b")
    await opened(cluster, a)
    await a.stop(release=False)
    cluster.live.discard(ROOM)
    with pytest.raises(MediaRefused):  # the call itself meets a media plane without the room
        await b.open_listen(ROOM, "ann")
    assert b.held == set()
    assert await cluster.leases.holder(ROOM) is None
    assert b_media.rooms == set()


async def test_a_lease_lost_to_another_instance_is_dropped_at_renewal(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    await opened(cluster, a)
    cluster.leases.keys[ROOM] = ("b", asyncio.get_running_loop().time() + 10)  # A stalled past its TTL
    await a.renew()
    assert a.held == set()
    assert a.lost == 1


async def test_a_renewal_takes_a_lease_back_from_an_empty_redis(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    await opened(cluster, a)
    cluster.leases.keys.clear()  # Redis restarted empty
    await a.renew()
    assert a.held == {ROOM}
    assert await cluster.leases.holder(ROOM) == "a"


async def test_a_stale_holder_that_denies_the_room_runs_out_the_deadline(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    b, _ = await cluster.instance("b", rpc_timeout_s=0.3)
    await opened(cluster, a)
    a.held.clear()  # A forgot the room but its lease says A (for longer than B's deadline)
    cluster.leases.keys[ROOM] = ("a", asyncio.get_running_loop().time() + 10)
    with pytest.raises(MediaUnavailable, match="did not free it in time"):
        await b.open_listen(ROOM, "ann")


async def test_redis_away_is_media_unavailable(cluster: Cluster) -> None:
    b, _ = await cluster.instance("b")
    cluster.leases.away = True
    with pytest.raises(MediaUnavailable, match="Redis is away"):
        await b.open_listen(ROOM, "ann")
    assert await b.claim([ROOM]) == []
    await b.renew()  # logged, not raised
    await b.stop()


async def test_claim_keeps_held_rooms_takes_free_ones_and_leaves_others(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    b, _ = await cluster.instance("b")
    assert isinstance(b, SharesRooms)
    await opened(cluster, a, "held-by-a")
    await opened(cluster, b, "held-by-b")
    assert await b.claim(["held-by-a", "held-by-b", "free"]) == ["held-by-b", "free"]
    assert b.held == {"held-by-b", "free"}
    assert cluster.rebuilt == [], "claiming takes; the caller re-creates"


async def test_only_media_calls_are_served(cluster: Cluster) -> None:
    a, _ = await cluster.instance("a")
    await opened(cluster, a)
    reply = await cluster.network.handlers["a"]({"op": "reconnect", "room": ROOM, "a": []})
    assert reply["error"] == "unavailable"


async def test_events_and_health_are_the_local_adapter_s(cluster: Cluster) -> None:
    a, a_media = await cluster.instance("a")
    assert (await a.health()).janus[0].name == "fake"
    await opened(cluster, a)
    events = a.events()
    assert (await anext(events)).kind == "speaker_tracks"
    await a.reconnect()
    assert a_media.rooms == set()
