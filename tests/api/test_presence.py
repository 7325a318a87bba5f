"""Presence over real sockets and real HTTP (the rule: docs/ARCHITECTURE.md, "Presence"). A member whose last live
connection closed leaves their rooms once the grace period ran out, but not a room they joined or acted in since;
coming back inside it (a reload, a network blip) keeps their place; a second open tab keeps it too; a member who
only uses HTTP leaves a room they stop acting in; after a restart, members who do not come back leave; a server
shutdown takes nobody out of a room; listener counts follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from salon.app import stage
from salon.app.audience import flush_counts
from salon.app.fakes import FakeClock
from salon.app.rooms import get_snapshot
from salon.app.services import Services
from salon.app.settings import Settings
from salon.store import repo_rooms
from salon.store.database import Database
from salon.web.app import install_presence
from salon.web.hub import Hub
from tests.api.test_ws import TIMEOUT, Member, member, new_room, opener
from tests.support.live_server import serve
from tests.support.services import make_services


@pytest.fixture
async def services(database: Database, settings: Settings, clock: FakeClock) -> AsyncIterator[Services]:
    services = presence_services(database, settings, clock)
    yield services
    assert isinstance(services.bus, Hub)
    await services.bus.close_all()


def presence_services(database: Database, settings: Settings, clock: FakeClock) -> Services:
    """One instance: its own hub, on the shared database and clock. What the app's lifespan does (the test server
    runs without one) is done here; the timers run on the services' clock, so the test moves time on rather than
    waiting the default 60 s out."""
    hub = Hub(settings)
    services = make_services(settings, database, clock=clock, bus=hub)
    install_presence(services, hub)
    return services


@pytest.fixture
async def url(services: Services) -> AsyncIterator[str]:
    async with serve(services) as port:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"


def http(url: str, m: Member) -> httpx.AsyncClient:
    """A client of the same server's HTTP API, as ``m`` (a bearer token: an API script)."""
    base = url.replace("ws://", "http://").removesuffix("/ws")
    return httpx.AsyncClient(base_url=base, headers=m.bearer, trust_env=False)


async def people_in(services: Services, viewer: str, room_id: str) -> set[str]:
    """Everyone in the room, as stored (a batched room's snapshot lists only notable listeners); ``viewer`` must
    still see the room."""
    await get_snapshot(services, viewer, room_id)
    async with services.db.read() as conn:
        everyone = await repo_rooms.visible_participants(conn, room_id, batched=False)
    return {p.user_id for p in everyone}


async def listeners(services: Services, viewer: str, room_id: str) -> int:
    count: int = (await get_snapshot(services, viewer, room_id))["listener_count"]
    return count


async def until_connected(hub: Hub, count: int) -> None:
    """Wait until the server saw the sockets the test closed go (real I/O): their grace periods have started."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            if hub.connection_count == count:
                return
            await asyncio.sleep(0.01)


async def test_gone_for_good_leaves_back_in_time_stays(services: Services, clock: FakeClock, url: str) -> None:
    hub = services.bus
    assert isinstance(hub, Hub)
    grace_s = services.settings.presence_grace_s
    open_client = opener(url)
    mod, gone, blip, two_tabs = [await member(services, n) for n in ("mod", "gone", "blip", "tabs")]
    room = await new_room(services, mod)
    clients = {}
    for m in (gone, blip, two_tabs):
        clients[m.id] = await open_client(m)
        await clients[m.id].expect("hello")
        await clients[m.id].call("join", room_id=room)
    second_tab = await open_client(two_tabs)
    await second_tab.expect("hello")

    for m in (gone, blip, two_tabs):
        await clients[m.id].ws.close()
    await until_connected(hub, 1)  # the second tab
    await clock.elapse(grace_s / 3)
    back = await open_client(blip)  # a reload: back before the grace ran out
    await back.expect("hello")
    await clock.elapse(grace_s * 3)

    assert await people_in(services, mod.id, room) == {mod.id, blip.id, two_tabs.id}
    await back.ws.close()
    await second_tab.ws.close()
    await until_connected(hub, 0)
    await clock.elapse(grace_s * 3)
    assert await people_in(services, mod.id, room) == {mod.id}


async def test_a_shutdown_is_nobody_going_away(services: Services, clock: FakeClock, url: str) -> None:
    hub = services.bus
    assert isinstance(hub, Hub)
    assert hub.departures is not None
    mod, fan = await member(services, "mod"), await member(services, "fan")
    room = await new_room(services, mod)
    client = await opener(url)(fan)
    await client.expect("hello")
    await client.call("join", room_id=room)
    await hub.close_all()
    await clock.elapse(services.settings.presence_grace_s * 3)
    assert hub.departures.pending() == set()
    assert await people_in(services, mod.id, room) == {mod.id, fan.id}


async def test_a_room_joined_over_http_in_the_grace_is_kept(services: Services, clock: FakeClock, url: str) -> None:
    """The finding: closing the WebSocket, then joining another room over HTTP within the grace period, no longer
    takes the member out of that room when the grace period ends; a moderator's action on them then succeeds."""
    hub = services.bus
    assert isinstance(hub, Hub)
    grace_s = services.settings.presence_grace_s
    mod_a, mod_b, fan, *crowd = [
        await member(services, n) for n in ("moda", "modb", "fan", "c1", "c2", "c3", "c4", "c5")
    ]
    room_a, room_b = await new_room(services, mod_a), await new_room(services, mod_b)
    for m in crowd:  # past the threshold (5): room B's audience is batched
        await stage.join(services, m.id, room_b)
    client = await opener(url)(fan)
    await client.expect("hello")
    await client.call("join", room_id=room_a)
    await client.ws.close()
    await until_connected(hub, 0)
    await clock.elapse(grace_s / 2)
    async with http(url, fan) as api:
        assert (await api.post(f"/rooms/{room_b}/join")).status_code == 200
        await clock.elapse(grace_s * 3)

        assert await people_in(services, mod_a.id, room_a) == {mod_a.id}  # gone for good from the room left
        assert fan.id in await people_in(services, mod_b.id, room_b)
        counts = [m.data for m in await flush_counts(services) if m.room_id == room_b]
        assert counts == [{"listener_count": 6}]
        assert (await api.post(f"/rooms/{room_b}/hand/raise")).status_code == 200
    await stage.invite_up(services, mod_b.id, room_b, fan.id)


async def test_members_who_only_use_http_leave_rooms_they_stop_acting_in(
    services: Services, clock: FakeClock, url: str
) -> None:
    idle_s = services.settings.presence_idle_s
    mod, quiet, busy = [await member(services, n) for n in ("mod", "quiet", "busy")]
    room = await new_room(services, mod)
    moderator = await opener(url)(mod)  # a live connection keeps the moderator in, acting or not
    await moderator.expect("hello")
    async with http(url, quiet) as quiet_api, http(url, busy) as busy_api:
        for api in (quiet_api, busy_api):
            assert (await api.post(f"/rooms/{room}/join")).status_code == 200
        for step in ("raise", "lower", "raise"):
            await clock.elapse(idle_s * 0.6)
            assert (await busy_api.post(f"/rooms/{room}/hand/{step}")).status_code == 200
        await clock.elapse(idle_s * 0.6)

        assert await people_in(services, mod.id, room) == {mod.id, busy.id}
        assert (await quiet_api.post(f"/rooms/{room}/hand/raise")).json()["code"] == "not_in_room"


async def test_after_a_restart_members_who_do_not_come_back_leave(
    services: Services, database: Database, settings: Settings, clock: FakeClock, url: str
) -> None:
    """Members of a live room are held for the grace period after a start, as if their connection had closed
    then: those who reconnect or act stay, the others leave, and the batched listener count says so."""
    mod, back, active, *ghosts = [await member(services, n) for n in ("mod", "back", "active", "g1", "g2", "g3", "g4")]
    room = await new_room(services, mod)
    for m in (back, active, *ghosts):
        await stage.join(services, m.id, room)
    assert await listeners(services, mod.id, room) == 6  # past the threshold (5): the audience is batched
    first = services.bus
    assert isinstance(first, Hub)
    await first.close_all()  # the first instance stops
    await clock.elapse(settings.presence_grace_s * 3)
    assert await people_in(services, mod.id, room) == {mod.id, back.id, active.id, *(g.id for g in ghosts)}

    restarted = presence_services(database, settings, clock)
    try:
        async with serve(restarted) as port:
            again = opener(f"ws://127.0.0.1:{port}/api/v1/ws")
            for m in (mod, back):
                client = await again(m)
                await client.expect("hello")
            await clock.elapse(settings.presence_grace_s / 2)
            await stage.raise_hand(restarted, active.id, room)
            restarted.dirty_audiences.clear()
            await clock.elapse(settings.presence_grace_s * 3)

            assert await people_in(restarted, mod.id, room) == {mod.id, back.id, active.id}
            counts = [m.data for m in await flush_counts(restarted) if m.room_id == room]
            assert counts == [{"listener_count": 2}]
            assert await listeners(restarted, mod.id, room) == 2
    finally:
        assert isinstance(restarted.bus, Hub)
        await restarted.bus.close_all()
