"""Presence over real sockets: a member whose last live connection closed leaves their rooms once the grace period
ran out; coming back inside it (a reload, a network blip) keeps their place; a second open tab keeps it too; a
server shutdown takes nobody out of a room."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from salon.app.fakes import FakeClock
from salon.app.rooms import get_snapshot
from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from salon.web.app import install_presence
from salon.web.hub import Hub
from tests.api.test_ws import TIMEOUT, member, new_room, opener
from tests.support.live_server import serve
from tests.support.services import make_services


@pytest.fixture
async def services(database: Database, settings: Settings, clock: FakeClock) -> Services:
    hub = Hub(settings)
    services = make_services(settings, database, clock=clock, bus=hub)
    # What the app's lifespan does (the test server runs without one); the grace periods run on the services' clock,
    # so the test moves time on rather than waiting the default 60 s out.
    install_presence(services, hub)
    return services


@pytest.fixture
async def url(services: Services) -> AsyncIterator[str]:
    async with serve(services) as port:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"


async def people_in(services: Services, viewer: str, room_id: str) -> set[str]:
    view = await get_snapshot(services, viewer, room_id)
    return {p["user"]["id"] for p in [*view["stage"], *view["audience"]]}


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
