"""Three ``salon serve`` instances as real processes — one PostgreSQL database, one private ``redis-server``, each
its own managed Janus — behind HAProxy running what ``salon front-door-config`` prints, with short health checks.
Clients are Python WebSocket and HTTP clients that only know the front door's address; where each one landed is
the ``X-Salon-Instance`` header the front door adds.

- A moderator's command through the front door reaches the room's clients on all three instances, in order, with
  their ``seq``.
- ``kill -9`` of the instance a client is connected to: HAProxy marks it down, the client reconnects through the
  front door to another instance, resumes with its last ``seq`` and gets every event committed meanwhile once, in
  order; the clients on the other instances see nothing but the events.
- 50 concurrent invite creations by one member spread over the three instances: exactly the quota succeeds, the
  rest are ``no_invites_left``, never a 5xx.
- The client's address reaches the instances through the front door (``X-Forwarded-For`` and
  ``SALON_TRUSTED_PROXIES``).

The engines start once for the module; the kill test comes last (it takes one instance away).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.typing import Origin

from salon.app import sessions
from salon.app.settings import Settings
from salon.app.system import SystemClock
from salon.domain.api_paths import API_PREFIX
from salon.store.database import Database
from salon.store.tables import users
from tests.api.test_ws import Client, Member
from tests.conftest import TEMPLATE
from tests.support.front_door import FrontDoor, instances_behind_a_front_door, wait_for
from tests.support.people import add_member
from tests.support.postgres import PostgresServer, create_database, drop_database
from tests.support.redis import RedisServer, private_redis
from tests.support.services import make_services

pytestmark = pytest.mark.postgres  # one PostgreSQL database for the three instances, whatever SALON_TEST_BACKENDS says

SECRET_KEY = "f" * 48
CHECK_INTERVAL_MS = 200  # HAProxy asks each /readyz five times a second: a dead instance is out in ~0.4 s
CLIENT_ADDRESS = "127.0.0.5"  # loopback too, but not the front door's own address (127.0.0.1)
DATABASE = "front_door"
# short checks; a small connection limit (this machine's file limit is below the default's two per connection); no
# chroot and no user to drop to (the test's own processes)
DOOR_FLAGS = (f"--check-interval-ms={CHECK_INTERVAL_MS}", "--maxconn=1000", "--run-as=")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with private_redis() as server:
        yield server


@pytest.fixture(scope="module")
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """One database for all three instances (and the test's own seeding), migrated: a copy of the template."""
    create_database(postgres_server, DATABASE, template=TEMPLATE)
    yield postgres_server.url(database=DATABASE)
    drop_database(postgres_server, DATABASE)


@pytest.fixture(scope="module")
def door(pg_url: str, redis_server: RedisServer) -> Iterator[FrontDoor]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SALON_")}
    env |= {
        "SALON_SECRET_KEY": SECRET_KEY,
        "SALON_DATABASE_URL": pg_url,
        "SALON_REDIS_URL": redis_server.url,
        "SALON_TRUSTED_PROXIES": "127.0.0.1",  # the front door, as the instances see it
        "SALON_METRICS_ALLOW": f"{CLIENT_ADDRESS}/32",  # who may read /metrics: the client, not the front door
        "SALON_AUDIENCE_TIER": "webrtc",  # no broadcast workers: this test is about events, not audio
        "SALON_INVITES_PER_HOUR": "1000",  # the rate limit is not what the quota test measures
    }
    folder = Path(tempfile.mkdtemp(prefix="salon-front-door-"))
    try:
        with instances_behind_a_front_door(folder, env, 3, *DOOR_FLAGS) as d:
            yield d
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def database(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url)
    yield db
    await db.dispose()


async def new_member(db: Database, name: str) -> Member:
    settings = Settings(data_dir=Path("unused"), dev=True, secret_key=SECRET_KEY)
    services = make_services(settings, db, clock=SystemClock())  # the instances' clock: sessions valid now
    user_id = await add_member(services, name)
    async with db.transaction() as conn:
        session = await sessions.create_session(services, conn, user_id, "bearer")
    return Member(user_id, session.token, session.token_hash)


class Landed(Client):
    """A WebSocket client through the front door, knowing its member and which instance it landed on."""

    def __init__(self, client: Client, member: Member, instance: str) -> None:
        super().__init__(client.ws)
        self.member, self.instance = member, instance


OPENED: list[Landed] = []  # every client a test opened, closed when it ends (``closing``)


@pytest.fixture(autouse=True)
async def closing() -> AsyncIterator[None]:
    yield
    while OPENED:
        await OPENED.pop().ws.close()


async def open_ws(door: FrontDoor, m: Member) -> Landed:
    ws = await connect(
        door.url.replace("http", "ws", 1) + f"{API_PREFIX}/ws",
        additional_headers=m.bearer,
        origin=Origin(door.url),
        proxy=None,
        compression=None,
    )
    assert ws.response is not None
    client = Landed(Client(ws), m, ws.response.headers["X-Salon-Instance"])
    OPENED.append(client)
    await client.expect("hello")
    return client


async def follow(door: FrontDoor, m: Member, room: str, *, last_seq: int | None = None) -> tuple[Landed, int]:
    client = await open_ws(door, m)
    data: dict[str, Any] = {"room_id": room} if last_seq is None else {"room_id": room, "last_seq": last_seq}
    reply = await client.call("subscribe", **data)
    if last_seq is None:
        return client, (await client.expect("snapshot"))["data"]["seq"]
    return client, reply["seq"]


async def one_on_each(door: FrontDoor, members: list[Member], room: str) -> dict[str, tuple[Landed, int]]:
    """Open clients through the front door until each instance holds one following ``room`` (least connections
    spreads them; a client that lands where one already is stays open, so the next goes elsewhere)."""
    placed: dict[str, tuple[Landed, int]] = {}
    for m in members:
        client, seq = await follow(door, m, room)
        placed.setdefault(client.instance, (client, seq))
        if len(placed) == len(door.instances):
            return placed
    raise AssertionError(f"the front door used only {sorted(placed)}")


async def events(client: Client, count: int) -> list[tuple[int, str]]:
    frames = [await client.expect("event") for _ in range(count)]
    return [(f["seq"], f["name"]) for f in frames]


async def nothing_more(client: Client) -> None:
    assert await client.call("ping") == {}
    assert client.stash == [], client.stash


async def api(http: httpx.AsyncClient, m: Member, method: str, path: str, body: Any = None) -> httpx.Response:
    return await http.request(method, f"{API_PREFIX}{path}", json=body, headers=m.bearer)


def front(door: FrontDoor) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=door.url, trust_env=False, timeout=30)


async def new_room(http: httpx.AsyncClient, mod: Member) -> str:
    made = await api(http, mod, "POST", "/rooms", {"title": "Behind the door", "description": ""})
    assert made.status_code == 201, made.text
    room: str = made.json()["room"]["id"]
    return room


async def test_a_moderators_command_reaches_clients_on_all_three_instances_in_order(
    door: FrontDoor, database: Database
) -> None:
    mod = await new_member(database, "moda")
    listeners = [await new_member(database, f"lis{n}") for n in range(6)]
    async with front(door) as http:
        room = await new_room(http, mod)
        placed = await one_on_each(door, listeners, room)
        assert sorted(placed) == ["salon-1", "salon-2", "salon-3"]
        seqs = {seq for _, seq in placed.values()}
        assert len(seqs) == 1, "one snapshot seq on every instance"
        last = seqs.pop()
        for enabled in (False, True, False):
            answer = await api(http, mod, "POST", f"/rooms/{room}/hands", {"enabled": enabled})
            assert answer.status_code == 200, answer.text
    expected = [(last + n, "hands_enabled") for n in (1, 2, 3)]
    for instance, (client, _) in placed.items():
        frames = [await client.expect("event") for _ in range(3)]
        assert [(f["seq"], f["name"]) for f in frames] == expected, instance
        assert [f["data"]["enabled"] for f in frames] == [False, True, False], instance
        await nothing_more(client)


async def test_the_invite_quota_is_exact_with_50_concurrent_requests_over_three_instances(
    door: FrontDoor, database: Database
) -> None:
    inviter = await new_member(database, "inviter")  # a member holds 2 invites (SALON_INVITES_PER_MEMBER)
    async with front(door) as http:
        answers = await asyncio.gather(*(api(http, inviter, "POST", "/invites") for _ in range(50)))
    assert [(a.status_code, a.text) for a in answers if a.status_code >= 500] == []
    assert {a.headers["X-Salon-Instance"] for a in answers} == {"salon-1", "salon-2", "salon-3"}
    made = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(made) == 2, [a.text for a in answers]
    assert {(a.status_code, a.json()["code"]) for a in refused} == {(409, "no_invites_left")}
    assert len(refused) == 48
    async with database.read() as conn:
        left = (await conn.execute(select(users.c.invites_left).where(users.c.id == inviter.id))).scalar_one()
    assert left == 0


async def test_the_client_address_reaches_the_instances_through_the_front_door(door: FrontDoor) -> None:
    """/metrics is open to 127.0.0.5 only: asked from there through the front door it answers; asked from the front
    door's own address, or from 127.0.0.6 with a forged ``X-Forwarded-For: 127.0.0.5``, it refuses. So the instance
    saw the client, not the proxy, and not what the client wrote."""
    for source, forged, status in (
        (CLIENT_ADDRESS, None, 200),
        ("127.0.0.1", None, 403),
        ("127.0.0.6", CLIENT_ADDRESS, 403),  # a client's own X-Forwarded-For line is not believed
    ):
        transport = httpx.AsyncHTTPTransport(local_address=source)
        headers = {"X-Forwarded-For": forged} if forged else {}
        async with httpx.AsyncClient(transport=transport, base_url=door.url, trust_env=False, timeout=30) as http:
            for _ in door.instances:  # each instance in turn (least connections, one at a time)
                answer = await http.get("/metrics", headers=headers)
                assert answer.status_code == status, (source, forged, answer.text)


async def test_killing_an_instance_its_client_resumes_through_the_front_door_and_loses_nothing(
    door: FrontDoor, database: Database
) -> None:
    mod, ann = await new_member(database, "modk"), await new_member(database, "annk")
    listeners = [await new_member(database, f"kil{n}") for n in range(6)]
    async with front(door) as http:
        room = await new_room(http, mod)
        placed = await one_on_each(door, listeners, room)
        victim_name = next(iter(sorted(placed)))
        victim, last = placed[victim_name]
        others = {name: client for name, (client, _) in placed.items() if name != victim_name}
        assert (await api(http, ann, "POST", f"/rooms/{room}/join")).status_code == 200
        assert await events(victim, 1) == [(last + 1, "participant_joined")]
        seen = last + 1

        door.by_name(victim_name).kill()
        wait_for(lambda: door.stats()[victim_name].startswith("DOWN"), f"HAProxy to mark {victim_name} down")
        own = await http.get(f"http://127.0.0.1:{door.stats_port}/healthz")
        assert own.status_code == 200, "the front door itself is fine"
        # while the victim's client is away, through the front door (so on the instances left)
        for step in ("raise", "lower", "raise"):
            assert (await api(http, ann, "POST", f"/rooms/{room}/hand/{step}")).status_code == 200
        await victim.drain()  # the killed instance's socket is gone
        assert victim.ws.close_code != 1000

    back, now = await follow(door, victim.member, room, last_seq=seen)
    assert back.instance != victim_name
    assert now == last + 4
    expected = [(last + 2, "hand_raised"), (last + 3, "hand_lowered"), (last + 4, "hand_raised")]
    assert await events(back, 3) == expected, "each missed event once, in order"
    await nothing_more(back)
    for name, client in others.items():
        assert await events(client, 4) == [(last + 1, "participant_joined"), *expected], name
        await nothing_more(client)
