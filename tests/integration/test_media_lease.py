"""Two Salon instances on one database (SQLite file or PostgreSQL) and a real, private ``redis-server``
(tests/support/redis.py), each with its own in-memory media plane (``FakeMedia``) behind the lease's routing
(adapters/redis_media), served by uvicorn with WebSocket clients on them.

A room opened on A is driven by A: a member connected to B who listens, answers, joins the stage and speaks has
every media call executed by A's media plane, and the answers come back to B. When A dies (no more renewals, its
lease expires) the next call on B takes the room over and rebuilds its media from the database, and the room's
followers are told to reconnect their media. A holder that does not answer in time is the clear
``media_unavailable``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from salon.adapters.redis_bus.bus import RedisBus
from salon.adapters.redis_media.lease import RedisLeases
from salon.adapters.redis_media.routing import RoutedMedia
from salon.adapters.redis_media.rpc import connect
from salon.app.fakes import FakeMedia
from salon.app.media_events import recover_media, release_media
from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from salon.web.app import create_app
from salon.web.bus import redis_bus, start_bus, stop_bus
from salon.web.hub import Hub
from salon.web.media_routing import routed_media, start_media, stop_media
from salon.web.metrics import SalonMetrics
from tests.api.test_ws import Client, Member, member, new_room, opener
from tests.support.live_server import serve
from tests.support.redis import RedisServer, private_redis
from tests.support.services import make_services

TTL_S = 1.0
OFFER = {"type": "offer", "sdp": "v=0 browser offer"}
ANSWER = {"type": "answer", "sdp": "v=0 browser answer"}


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, redis_server: RedisServer) -> Settings:
    return Settings(data_dir=tmp_path / "data", dev=True, secret_key="x" * 40, redis_url=redis_server.url)


@dataclass
class Instance:
    services: Services
    url: str

    @property
    def media(self) -> RoutedMedia:
        assert isinstance(self.services.media, RoutedMedia)
        return self.services.media

    @property
    def plane(self) -> FakeMedia:
        """This instance's own media plane, behind the routing."""
        assert isinstance(self.media.local, FakeMedia)
        return self.media.local

    async def client(self, m: Member) -> Client:
        client = await opener(self.url)(m)
        await client.expect("hello")
        return client


@pytest.fixture
async def instances(database: Database, db_url: str, settings: Settings) -> AsyncIterator[tuple[Instance, Instance]]:
    """Instance A on the test's database, instance B on its own connections to the same one; each with its own
    media plane, routed by the rooms' leases."""
    assert settings.redis_url is not None
    async with AsyncExitStack() as stack:
        made = []
        for db in (database, Database(db_url)):
            if db is not database:
                stack.push_async_callback(db.dispose)
            services = make_services(
                settings,
                db,
                bus=redis_bus(Hub(settings), settings.redis_url),
                media=routed_media(FakeMedia(), settings.redis_url, ttl_s=TTL_S, rpc_timeout_s=5.0),
            )
            await start_bus(services)
            stack.push_async_callback(stop_bus, services)
            await start_media(services)
            stack.push_async_callback(stop_media, services)
            port = await stack.enter_async_context(serve(services))
            made.append(Instance(services, f"ws://127.0.0.1:{port}/api/v1/ws"))
        a, b = made
        yield a, b


async def following(instance: Instance, m: Member, room: str) -> Client:
    client = await instance.client(m)
    await client.call("subscribe", room_id=room)
    await client.expect("snapshot")
    return client


async def test_a_room_opened_on_a_is_driven_by_a_for_a_member_on_b(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    mod, ann = await member(a.services, "moda"), await member(a.services, "ann")
    room = await new_room(a.services, mod)
    assert a.media.held == {room}
    assert await b.media.leases.holder(room) == a.media.me

    on_b = await b.client(ann)
    await on_b.call("join", room_id=room)  # B's command: its admit runs on A
    assert a.plane.members[(room, ann.id)] == ("listener", False)
    offer = await on_b.call("media_listen", room_id=room)
    assert offer["jsep"] == {"type": "offer", "sdp": f"v=0 fake offer to {ann.id}"}, "A's offer, returned to B"
    await on_b.call("media_answer", room_id=room, jsep=ANSWER)
    assert a.plane.connections[(room, ann.id, "listen")] == "open"

    moderator = await a.client(mod)
    await moderator.call("invite_up", room_id=room, user_id=ann.id)
    await on_b.call("accept_invite", room_id=room)  # on stage through B: A's media plane admits her as a speaker
    assert a.plane.members[(room, ann.id)][0] == "speaker"
    answer = await on_b.call("media_speak", room_id=room, jsep=OFFER)
    assert answer["jsep"] == {"type": "answer", "sdp": f"v=0 fake answer to {ann.id}"}
    assert (room, ann.id, "speak") in a.plane.connections

    assert b.plane.calls == [], "B's own media plane never saw the room"
    assert b.media.held == set()
    assert b.media.forwarded >= 5
    assert a.media.served == b.media.forwarded
    exposed_a, exposed_b = [(await SalonMetrics().render(i.services)).decode() for i in (a, b)]
    assert "salon_media_rooms_held 1.0" in exposed_a
    assert "salon_media_rooms_held 0.0" in exposed_b
    assert f'salon_media_routed_calls_total{{direction="forwarded"}} {float(b.media.forwarded)}' in exposed_b
    assert f'salon_media_routed_calls_total{{direction="served"}} {float(a.media.served)}' in exposed_a


async def test_when_a_dies_b_takes_the_room_over_and_rebuilds_it(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    mod, ann = await member(a.services, "moda"), await member(a.services, "ann")
    room = await new_room(a.services, mod)
    on_b = await b.client(ann)
    await on_b.call("join", room_id=room)
    await on_b.call("media_listen", room_id=room)
    watcher = await following(b, mod, room)

    await a.media.stop(release=False)  # A dies: it answers nothing more and renews nothing; its lease runs out
    loop = asyncio.get_running_loop()
    started = loop.time()
    offer = await on_b.call("media_listen", room_id=room)
    assert loop.time() - started < TTL_S + 2.0, "taken over once the lease expired, not after a timeout"
    assert offer["jsep"]["type"] == "offer"
    assert b.media.held == {room}
    assert b.media.taken_over == 1
    assert "salon_media_rooms_taken_over_total 1.0" in (await SalonMetrics().render(b.services)).decode()
    assert await b.media.leases.holder(room) == b.media.me
    # rebuilt from the database, as after a media reset: the stage and the audience with their roles
    assert b.plane.rooms == {room}
    assert b.plane.members == {(room, mod.id): ("speaker", True), (room, ann.id): ("listener", False)}
    assert b.plane.connections == {(room, ann.id, "listen"): "offered"}
    signal = await watcher.expect("signal")
    assert (signal["room_id"], signal["name"]) == (room, "media_reset"), "its people reconnect their media"

    await watcher.call("invite_up", room_id=room, user_id=ann.id)  # the room goes on, driven by B
    await on_b.call("accept_invite", room_id=room)
    assert b.plane.members[(room, ann.id)][0] == "speaker"


async def test_when_a_dies_b_takes_its_room_over_without_any_call(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    mod = await member(a.services, "moda")
    room = await new_room(a.services, mod)
    watcher = await following(b, mod, room)  # on B; nobody of the room calls the media plane
    await a.media.stop(release=False)
    deadline = asyncio.get_running_loop().time() + 10 * TTL_S  # expiry, then two of B's looks: ~3 TTL_S
    while b.media.held != {room}:
        assert asyncio.get_running_loop().time() < deadline, "B did not take the room over"
        await asyncio.sleep(0.05)
    signal = await watcher.expect("signal")
    assert (signal["room_id"], signal["name"]) == (room, "media_reset")
    assert b.media.held == {room}
    assert b.plane.members == {(room, mod.id): ("speaker", True)}


async def test_a_holder_that_does_not_answer_in_time_is_media_unavailable(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    mod, ann = await member(a.services, "moda"), await member(a.services, "ann")
    room = await new_room(a.services, mod)
    on_b = await b.client(ann)
    await on_b.call("join", room_id=room)
    stuck = asyncio.Event()

    async def hangs(room_id: str, user_id: str) -> dict[str, str]:
        await stuck.wait()
        return {}

    a.plane.open_listen = hangs  # type: ignore[method-assign]
    b.media.rpc_timeout_s = 0.5
    try:
        assert await on_b.refused("media_listen", room_id=room) == "media_unavailable"
    finally:
        stuck.set()
    assert b.media.held == set(), "a slow holder is not a dead one: its room is not taken"


async def test_recovery_on_b_leaves_a_s_rooms_to_a(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    mod = await member(a.services, "moda")
    room = await new_room(a.services, mod)
    watcher = await following(a, mod, room)
    assert await recover_media(b.services) == [], "a start (or Janus restart) on B re-creates only B's rooms"
    assert b.plane.rooms == set()
    assert await watcher.call("ping") == {}
    assert watcher.stash == [], "no media_reset for a room whose media did not move"

    await release_media(a.services)  # A stops gracefully: its leases go at once, no waiting for their expiry
    assert await b.media.leases.holder(room) is None
    assert await recover_media(b.services) == [room]
    assert b.plane.rooms == {room}
    assert b.media.held == {room}


async def test_the_lease_scripts_on_a_real_redis(redis_server: RedisServer) -> None:
    redis = connect(redis_server.url)
    leases = RedisLeases(redis, prefix="test-lease:")
    try:
        assert await leases.acquire("r1", "a", 60_000)
        assert not await leases.acquire("r1", "b", 60_000), "held: nobody else takes it"
        assert await leases.holders(["r1", "r2"]) == ["a", None]
        await leases.release("r1", "b")  # not b's to release
        assert await leases.holder("r1") == "a"
        assert await leases.acquire("r2", "b", 60_000)
        await redis.delete("test-lease:r3")
        # a's own (extended), another's (refused, untouched), and one gone (taken again: Redis restarted empty)
        assert await leases.renew_many(["r1", "r2", "r3"], "a", 90_000) == [True, False, True]
        assert 60_000 < await redis.pttl("test-lease:r1") <= 90_000
        assert await leases.holders(["r1", "r2", "r3"]) == ["a", "b", "a"]
        assert await leases.renew_many([], "a", 1) == []
        await leases.release("r1", "a")
        assert await leases.holder("r1") is None
        assert await leases.acquire("r4", "a", 50)
        await asyncio.sleep(0.2)
        assert await leases.holder("r4") is None, "expired"
    finally:
        await redis.delete("test-lease:r1", "test-lease:r2", "test-lease:r3", "test-lease:r4")
        await redis.aclose()


async def test_the_app_lifespan_routes_media_when_redis_is_configured(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    @asynccontextmanager
    async def fake_janus(_: Settings) -> AsyncIterator[SimpleNamespace]:
        yield SimpleNamespace(media=FakeMedia(), stream_origins=[])

    monkeypatch.setattr("salon.web.app.open_media_plane", fake_janus)
    for config in (settings, settings.model_copy(update={"redis_url": None})):
        app = create_app(config)
        async with app.router.lifespan_context(app):
            media = app.state.services.media
            if config.redis_url is None:
                assert isinstance(media, FakeMedia), "one instance: its media plane itself, as before"
                continue
            assert isinstance(media, RoutedMedia)
            assert isinstance(media.local, FakeMedia)
            assert isinstance(app.state.services.bus, RedisBus)
            assert media.transport.connected  # type: ignore[attr-defined]
        if isinstance(media, RoutedMedia):
            assert not media.transport.connected, "stopped with the app"  # type: ignore[attr-defined]
