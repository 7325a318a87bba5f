"""Two Salon instances on one database (SQLite file or PostgreSQL) sharing their live state through a real, private
``redis-server`` (tests/support/redis.py), as tests/integration/test_redis_bus.py does for the event bus.

- A rate limit hit through A and through B refuses at the one shared bound; the log-in lock earned on A holds on B;
  with Redis away each instance counts in its own memory (no 500, the failure counted).
- Presence: a member connected only to B is not taken out by A's sweep; once their B connection closes they leave
  after the grace period; when B dies (its Redis record expires) its members are held for the grace period and then
  leave, unless connected to A too; A restarting (the start-up rule) does not take out B's members.

Each instance runs on its own fake clock (both start at the same time), so a test moves one instance's time and
knows whose sweep ran.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from salon.adapters.redis_state.presence import RedisLiveness
from salon.app import accounts, stage
from salon.app.audience import flush_counts
from salon.app.fakes import FakeClock
from salon.app.ratelimit import LOGIN_PAIR_FAILURES, SEARCHES_PER_MINUTE
from salon.app.services import Services
from salon.app.settings import Settings
from salon.domain.errors import DomainError, ErrorCode
from salon.store import repo_presence, repo_rooms
from salon.store.database import Database
from salon.web.app import install_presence
from salon.web.bus import make_audience_pace, make_limits, redis_bus, start_bus, stop_bus
from salon.web.hub import Hub
from salon.web.metrics import SalonMetrics
from salon.web.presence import Departures
from tests.api.test_ws import Client, Member, member, new_room, opener
from tests.support.accounts import PASSWORD, sign_up
from tests.support.live_server import serve
from tests.support.redis import RedisServer, private_redis
from tests.support.services import make_services

# Database-only and a private redis-server on a unix socket: safe beside other tests, so it runs on two workers.
pytestmark = pytest.mark.parallel

WAIT_S = 10.0
GRACE_S = 20.0
IDLE_S = 120.0
BATCHED_PAST = 3  # listeners: past this a room's audience is a batched count


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client of the test's Redis, emptied first: each test starts with no limits, locks or presence."""
    if not redis_server.running:
        redis_server.start()
    client = Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def settings(tmp_path: Path, redis_server: RedisServer) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        dev=True,
        secret_key="x" * 40,
        redis_url=redis_server.url,
        presence_grace_s=GRACE_S,
        presence_idle_s=IDLE_S,
        audience_batch_threshold=BATCHED_PAST,
    )


@dataclass
class Instance:
    services: Services
    hub: Hub
    clock: FakeClock
    liveness: RedisLiveness
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"

    @property
    def departures(self) -> Departures:
        assert self.hub.departures is not None
        return self.hub.departures

    def http(self, m: Member) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}/api/v1", headers=m.bearer, trust_env=False)

    async def client(self, m: Member) -> Client:
        client = await opener(self.ws_url)(m)
        await client.expect("hello")
        return client


# Start an instance: on the given database (its connections), or on its own connections to the test's one.
Start = Callable[[Database | None, datetime | None], Awaitable[Instance]]


@pytest.fixture
async def start(database: Database, db_url: str, settings: Settings, redis: Redis) -> AsyncIterator[Start]:
    """Starts an instance as `salon serve` wires it with Redis: the Redis bus, the shared limits, presence asking
    Redis; stopped when the test ends, before the test's database closes (hence ``database`` here)."""
    assert settings.redis_url is not None
    url = settings.redis_url
    async with AsyncExitStack() as stack:

        async def start_one(db: Database | None, at: datetime | None = None) -> Instance:
            if db is None:
                db = Database(db_url)
                stack.push_async_callback(db.dispose)
            hub = Hub(settings)
            clock = FakeClock() if at is None else FakeClock(at)
            services = make_services(settings, db, clock=clock, bus=redis_bus(hub, url))
            services.limits = make_limits(settings)
            stack.push_async_callback(services.limits.aclose)
            services.audience_pace = pace = make_audience_pace(settings)
            assert pace is not None
            stack.push_async_callback(pace.close)
            await start_bus(services)
            stack.push_async_callback(stop_bus, services)
            liveness = RedisLiveness(url, hub.user_ids, settle_s=0)
            liveness.start()
            install_presence(services, hub, liveness)
            stack.push_async_callback(hub.close_all)  # stops presence, then the writer (left to expire)
            port = await stack.enter_async_context(serve(services))
            await until(lambda: liveness.beats >= 1, "the first heartbeat")
            return Instance(services, hub, clock, liveness, port)

        yield start_one


@pytest.fixture
async def pair(start: Start, database: Database) -> tuple[Instance, Instance]:
    """Instance A on the test's database, instance B on its own connections to the same one."""
    return await start(database, None), await start(None, None)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for something another task does (a socket closing, a heartbeat), failing after ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def until_async(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def in_room(services: Services, room_id: str) -> set[str]:
    async with services.db.read() as conn:
        return {p.user_id for p in await repo_rooms.visible_participants(conn, room_id, batched=False)}


# --- rate limits ---------------------------------------------------------------------------------------------------


async def test_a_limit_hit_through_both_instances_refuses_at_the_shared_bound(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    ann = await member(a.services, "ann")
    async with a.http(ann) as on_a, b.http(ann) as on_b:
        through_a = SEARCHES_PER_MINUTE * 2 // 3
        for api, times in ((on_a, through_a), (on_b, SEARCHES_PER_MINUTE - through_a)):
            for _ in range(times):
                assert (await api.get("/search", params={"q": "ann"})).status_code == 200
        for api in (on_a, on_b):
            refused = await api.get("/search", params={"q": "ann"})
            assert refused.status_code == 429, "the bound is the one shared window's"
            assert refused.json()["data"]["limit"] == "search"
    assert (a.services.limits.refusals["search"], b.services.limits.refusals["search"]) == (1, 1), "per instance"


async def test_the_login_lock_earned_on_a_holds_on_b(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    await sign_up(a.services, "ada")

    async def log_in(on: Instance, password: str) -> DomainError:
        with pytest.raises(DomainError) as refused:
            await accounts.log_in(on.services, username="ada", password=password, kind="bearer", client_ip="7.7.7.7")
        return refused.value

    for i in range(LOGIN_PAIR_FAILURES):  # the failures counted on either instance add up
        assert (await log_in(a if i % 2 else b, "wrong")).code is ErrorCode.BAD_CREDENTIALS
    locked = await log_in(b, PASSWORD)  # the right password, on the other instance
    assert (locked.code, locked.data["limit"]) == (ErrorCode.RATE_LIMITED, "login_pair")
    assert (await log_in(a, PASSWORD)).data["limit"] == "login_pair"


async def test_with_redis_away_each_instance_counts_in_its_own_memory(
    pair: tuple[Instance, Instance], redis_server: RedisServer
) -> None:
    a, _ = pair
    ann = await member(a.services, "ann")
    redis_server.stop()
    try:
        async with a.http(ann) as on_a:
            for _ in range(SEARCHES_PER_MINUTE):
                assert (await on_a.get("/search", params={"q": "ann"})).status_code == 200, "fails open to memory"
            assert (await on_a.get("/search", params={"q": "ann"})).status_code == 429, "still bounded here"
        errors = a.services.limits.outage.errors
        assert 1 <= errors < SEARCHES_PER_MINUTE, "asked, then memory until the retry time, not once a request"
        exposed = (await SalonMetrics().render(a.services)).decode()
        assert f"salon_rate_limit_store_errors_total {float(errors)}" in exposed
    finally:
        redis_server.start()


# --- listener counts -----------------------------------------------------------------------------------------------


async def test_a_batched_room_gets_one_listener_count_a_second_whichever_instances_saw_it_change(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    mod = await member(a.services, "mod")
    room = await new_room(a.services, mod)
    crowd = [await member(a.services, f"l{i}") for i in range(BATCHED_PAST + 3)]
    for i, m in enumerate(crowd):  # arrivals through both instances: each marks the room dirty
        await stage.join((a if i % 2 else b).services, m.id, room)
    assert room in a.services.dirty_audiences
    assert room in b.services.dirty_audiences
    counts = [m.data for m in [*await flush_counts(a.services), *await flush_counts(b.services)] if m.room_id == room]
    assert counts == [{"listener_count": len(crowd)}], "one count in the second, read from the database"
    assert room in b.services.dirty_audiences, "B's change is kept for its next tick, not lost"


# --- presence ------------------------------------------------------------------------------------------------------


async def test_a_member_connected_only_to_b_stays_until_they_leave_b(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    mod, fan = await member(a.services, "mod"), await member(a.services, "fan")
    room = await new_room(a.services, mod)
    moderator = await a.client(mod)  # the moderator stays connected to A throughout
    on_b = await b.client(fan)
    await on_b.call("join", room_id=room)
    await until_async(lambda: _connected(a, fan.id), "B to write that fan is connected")

    await a.clock.elapse(IDLE_S * 1.5)  # fan's deadline passes on A's clock: A's sweep must ask Redis
    assert fan.id in await in_room(a.services, room)
    async with a.services.db.read() as conn:
        renewed = await repo_presence.deadline(conn, room, fan.id)
    assert renewed is not None
    assert renewed > a.clock.now(), "A renewed a member connected elsewhere"
    await b.clock.elapse(IDLE_S * 1.5)  # B's clock catches up with A's

    await on_b.ws.close()
    await until(lambda: b.hub.connection_count == 0, "B to see the socket go")
    await b.departures.settle()  # held for the grace period from B's now
    await until_async(lambda: _not_connected(a, fan.id), "B to write that fan left")
    await a.clock.elapse(GRACE_S / 2)
    assert fan.id in await in_room(a.services, room), "within the grace period"
    await a.clock.elapse(GRACE_S)
    assert await in_room(a.services, room) == {mod.id}, "A's sweep took them out after it"
    await moderator.ws.close()


async def test_members_of_an_instance_that_died_leave_after_the_grace_period(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    mod, fan, both = [await member(a.services, n) for n in ("mod", "fan", "both")]
    room = await new_room(a.services, mod)
    await stage.join(a.services, fan.id, room)
    await stage.join(a.services, both.id, room)
    clients = [await a.client(mod), await b.client(fan), await b.client(both), await a.client(both)]
    await until_async(lambda: _connected(a, fan.id), "B to write that fan is connected")
    await a.clock.elapse(IDLE_S * 1.5)
    assert await in_room(a.services, room) == {mod.id, fan.id, both.id}

    await b.liveness.stop_beating()  # B dies: its sockets stay open, nothing tells anyone
    assert await b.liveness._redis.pexpire(b.liveness.alive_key, 1)  # ... and its record runs out
    await until_async(lambda: _not_connected(a, fan.id), "B's record to expire")
    await a.clock.elapse(GRACE_S / 2)
    assert await in_room(a.services, room) == {mod.id, fan.id, both.id}, "held for the grace period from then"
    await a.clock.elapse(GRACE_S)
    assert await in_room(a.services, room) == {mod.id, both.id}, "both is still connected to A"
    for client in clients:
        await client.ws.close()


async def test_an_instance_restarting_does_not_take_out_members_of_another(
    start: Start, pair: tuple[Instance, Instance]
) -> None:
    a, b = pair
    mod, fan = await member(a.services, "mod"), await member(a.services, "fan")
    room = await new_room(a.services, mod)
    moderator, on_b = await a.client(mod), await b.client(fan)
    await on_b.call("join", room_id=room)
    await until_async(lambda: _connected(a, fan.id), "B to write that fan is connected")

    later = a.clock.now() + timedelta(seconds=GRACE_S / 2)
    restarted = await start(None, later)  # "A again": the start-up rule holds everyone for the grace period only
    await until_async(lambda: _cut(restarted, room, fan.id), "the start-up rule")
    await restarted.clock.elapse(GRACE_S * 3)
    assert fan.id in await in_room(restarted.services, room), "connected to B, so kept"
    for client in (moderator, on_b):
        await client.ws.close()


async def _connected(on: Instance, user_id: str) -> bool:
    return user_id in await on.liveness.connected([user_id])


async def _not_connected(on: Instance, user_id: str) -> bool:
    return not await _connected(on, user_id)


async def _cut(on: Instance, room: str, user_id: str) -> bool:
    """Whether the member's deadline in the room is within the grace period of ``on``'s now."""
    async with on.services.db.read() as conn:
        deadline = await repo_presence.deadline(conn, room, user_id)
    return deadline is not None and deadline <= on.clock.now() + timedelta(seconds=GRACE_S)
