"""Two Salon instances on one database (SQLite file or PostgreSQL) sharing live events through a real, private
``redis-server`` (tests/support/redis.py), each served by uvicorn with WebSocket clients on it.

An event committed through instance A reaches a client on B in order with its ``seq``; a bus message dropped on
purpose, or Redis restarted between two events, is filled from the database — nothing lost, nothing twice; closing
a user's sessions on A closes their socket on B; removal from a room on A stops B's delivery.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from salon.adapters.null_media import NullMedia
from salon.adapters.redis_bus.bus import RedisBus
from salon.app import accounts, sessions
from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from salon.web.app import create_app
from salon.web.bus import local_hub, redis_bus, start_bus, stop_bus
from salon.web.errors import WS_CLOSE_SESSION_ENDED
from salon.web.hub import Hub
from salon.web.metrics import SalonMetrics
from tests.api.test_ws import Client, Member, member, new_room, opener
from tests.support.live_server import serve
from tests.support.redis import RedisServer, private_redis
from tests.support.services import make_services

WAIT_S = 10.0


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
    def bus(self) -> RedisBus:
        assert isinstance(self.services.bus, RedisBus)
        return self.services.bus

    @property
    def hub(self) -> Hub:
        hub = local_hub(self.services.bus)
        assert hub is not None
        return hub

    async def client(self, m: Member) -> Client:
        client = await opener(self.url)(m)
        await client.expect("hello")
        return client


@pytest.fixture
async def instances(database: Database, db_url: str, settings: Settings) -> AsyncIterator[tuple[Instance, Instance]]:
    """Instance A on the test's database, instance B on its own connections to the same one."""
    assert settings.redis_url is not None
    async with AsyncExitStack() as stack:
        made = []
        for db in (database, Database(db_url)):
            if db is not database:
                stack.push_async_callback(db.dispose)
            services = make_services(settings, db, bus=redis_bus(Hub(settings), settings.redis_url))
            await start_bus(services)
            stack.push_async_callback(stop_bus, services)
            port = await stack.enter_async_context(serve(services))
            made.append(Instance(services, f"ws://127.0.0.1:{port}/api/v1/ws"))
        a, b = made
        assert a.bus.connected
        assert b.bus.connected
        yield a, b


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` (something another task does: a reconnection), failing after ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def events(client: Client, count: int) -> list[tuple[int, str]]:
    frames = [await client.expect("event") for _ in range(count)]
    return [(f["seq"], f["name"]) for f in frames]


async def nothing_more(client: Client) -> None:
    """No frame is waiting after the ones read: a ping's reply comes back first (frames go out in order)."""
    assert await client.call("ping") == {}
    assert client.stash == [], client.stash


async def following(instance: Instance, m: Member, room: str) -> tuple[Client, int]:
    client = await instance.client(m)
    await client.call("subscribe", room_id=room)
    seq: int = (await client.expect("snapshot"))["data"]["seq"]
    return client, seq


async def test_an_event_committed_through_a_reaches_a_client_on_b_in_order(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    mod, ann = await member(a.services, "moda"), await member(a.services, "ann")
    room = await new_room(a.services, mod)
    on_b, last = await following(b, mod, room)
    on_a, last_a = await following(a, mod, room)
    assert last_a == last
    actor = await a.client(ann)
    await actor.call("join", room_id=room)
    await actor.call("raise_hand", room_id=room)
    await actor.call("lower_hand", room_id=room)
    expected = [(last + 1, "participant_joined"), (last + 2, "hand_raised"), (last + 3, "hand_lowered")]
    assert await events(on_b, 3) == expected
    assert await events(on_a, 3) == expected
    await nothing_more(on_b)
    assert b.bus.sequencer.events_filled == 0, "nothing was missing"


async def test_a_dropped_bus_message_is_filled_from_the_database(
    instances: tuple[Instance, Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = instances
    mod, ann = await member(a.services, "moda"), await member(a.services, "ann")
    room = await new_room(a.services, mod)
    on_b, last = await following(b, mod, room)
    send = a.bus._send
    dropped: list[dict[str, Any]] = []

    async def lose_two(body: dict[str, Any]) -> None:
        # the first event B would have seen since its snapshot, and the next
        if body["k"] == "room" and any(m[2] in {"participant_joined", "hand_raised"} for m in body["m"]):
            dropped.append(body)
            return
        await send(body)

    monkeypatch.setattr(a.bus, "_send", lose_two)
    actor = await a.client(ann)
    await actor.call("join", room_id=room)
    await actor.call("raise_hand", room_id=room)  # neither reaches Redis
    await actor.call("lower_hand", room_id=room)
    assert len(dropped) == 2
    assert await events(on_b, 3) == [
        (last + 1, "participant_joined"),
        (last + 2, "hand_raised"),
        (last + 3, "hand_lowered"),
    ]
    await nothing_more(on_b)
    assert b.bus.sequencer.events_filled == 2
    exposed = (await SalonMetrics().render(b.services)).decode()
    assert "salon_bus_events_filled_total 2.0" in exposed
    assert "salon_bus_connected 1.0" in exposed


async def test_redis_restarted_between_two_events_loses_nothing(
    instances: tuple[Instance, Instance], redis_server: RedisServer
) -> None:
    a, b = instances
    mod, ann = await member(a.services, "moda"), await member(a.services, "ann")
    room = await new_room(a.services, mod)
    on_b, last = await following(b, mod, room)
    actor = await a.client(ann)
    await actor.call("join", room_id=room)
    assert await events(on_b, 1) == [(last + 1, "participant_joined")]

    redis_server.stop()
    await until(lambda: not a.bus.connected and not b.bus.connected, "both instances to notice Redis is gone")
    await actor.call("raise_hand", room_id=room)  # committed and delivered on A only
    redis_server.start()
    await until(lambda: a.bus.connected and b.bus.connected, "both instances to subscribe again")
    assert (a.bus.reconnects, b.bus.reconnects) == (1, 1)
    # B catches up from the database on reconnecting, before any further event
    assert await events(on_b, 1) == [(last + 2, "hand_raised")]
    await actor.call("lower_hand", room_id=room)
    assert await events(on_b, 1) == [(last + 3, "hand_lowered")]
    await nothing_more(on_b)


async def test_closing_a_user_on_a_closes_their_socket_on_b(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    admin = await member(a.services, "admin", admin=True)
    bob, cy = await member(a.services, "bob"), await member(a.services, "cy")
    bob_on_b, bob_on_a = await b.client(bob), await a.client(bob)
    cy_on_b = await b.client(cy)
    await accounts.disable_user(a.services, sessions.Actor(admin.id, "admin", True, admin.token_hash), bob.id)
    assert await bob_on_b.closed_with() == WS_CLOSE_SESSION_ENDED
    assert await bob_on_a.closed_with() == WS_CLOSE_SESSION_ENDED
    await sessions.end_session(a.services, cy.token_hash)  # logging out on A: close_sessions
    assert await cy_on_b.closed_with() == WS_CLOSE_SESSION_ENDED


# SQLite only: what is proven is the console's bus message; its database write is any command's, tested on both
# engines in tests/cli. A console process on PostgreSQL took ~55 s of make test here (its start-up under load).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_disabling_from_the_console_closes_the_socket_on_a_running_instance(
    instances: tuple[Instance, Instance], db_url: str, settings: Settings
) -> None:
    a, b = instances
    bob = await member(a.services, "bob")
    bob_on_b = await b.client(bob)
    env = {
        **os.environ,
        "SALON_DATA_DIR": str(settings.data_dir),
        "SALON_DATABASE_URL": db_url,
        "SALON_SECRET_KEY": settings.secret_key,
        "SALON_REDIS_URL": str(settings.redis_url),
    }
    console = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from salon.cli.main import main; main()", "user", "disable", "bob",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(console.communicate(), 60)
    assert console.returncode == 0, out.decode()
    assert await bob_on_b.closed_with() == WS_CLOSE_SESSION_ENDED, "at once, not at the next session sweep"


async def test_removal_on_a_stops_delivery_on_b(instances: tuple[Instance, Instance]) -> None:
    a, b = instances
    mod, ann, bob = await member(a.services, "moda"), await member(a.services, "ann"), await member(a.services, "bob")
    room = await new_room(a.services, mod)
    on_b, _ = await following(b, bob, room)
    await on_b.call("join", room_id=room)
    moderator = await a.client(mod)
    await moderator.call("remove", room_id=room, user_id=bob.id)
    frames = [await on_b.recv() for _ in range(3)]
    assert [f.get("name", f["type"]) for f in frames] == ["participant_joined", "participant_left", "removed"]
    actor = await a.client(ann)
    await actor.call("join", room_id=room)
    await nothing_more(on_b)


async def test_the_app_lifespan_runs_the_redis_bus_when_configured(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    @asynccontextmanager
    async def no_janus(_: Settings) -> AsyncIterator[SimpleNamespace]:
        yield SimpleNamespace(media=NullMedia(), stream_origins=[])

    monkeypatch.setattr("salon.web.app.open_media_plane", no_janus)
    for config in (settings, settings.model_copy(update={"redis_url": None})):
        app = create_app(config)
        async with app.router.lifespan_context(app):
            bus = app.state.services.bus
            if config.redis_url is None:
                assert isinstance(bus, Hub), "one instance: the hub alone, as before"
                continue
            assert isinstance(bus, RedisBus)
            assert bus.connected, "subscribed before serving"
            assert local_hub(bus) is bus.local
            assert isinstance(bus.local, Hub)
            assert bus.local.on_following == bus.sequencer.known
        if isinstance(bus, RedisBus):
            assert not bus.connected, "stopped with the app"
