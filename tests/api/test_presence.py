"""Presence over real sockets: a member whose last live connection closed leaves their rooms once the grace period
ran out; coming back inside it (a reload, a network blip) keeps their place; a second open tab keeps it too; a
server shutdown takes nobody out of a room."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from salon.app.fakes import FakeClock, FakeMedia
from salon.app.ratelimit import RateLimits
from salon.app.rooms import get_snapshot
from salon.app.services import Services
from salon.app.settings import Settings
from salon.app.system import RandomIds
from salon.store.database import Database
from salon.web.app import install_presence
from salon.web.hub import Hub
from tests.api.test_ws import member, new_room, opener
from tests.support.live_server import serve

GRACE_S = 0.3


@pytest.fixture
async def services(database: Database, settings: Settings) -> Services:
    settings = settings.model_copy(update={"presence_grace_s": GRACE_S})
    hub = Hub(settings)
    services = Services(
        settings=settings,
        db=database,
        clock=FakeClock(),
        ids=RandomIds(),
        bus=hub,
        media=FakeMedia(),
        limits=RateLimits(settings),
        secret=settings.secret_key,
    )
    install_presence(services, hub)  # the app's lifespan does this; the test server runs without one
    return services


@pytest.fixture
async def url(services: Services) -> AsyncIterator[str]:
    async with serve(services) as port:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"


async def people_in(services: Services, viewer: str, room_id: str) -> set[str]:
    view = await get_snapshot(services, viewer, room_id)
    return {p["user"]["id"] for p in [*view["stage"], *view["audience"]]}


async def test_gone_for_good_leaves_back_in_time_stays(services: Services, url: str) -> None:
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
    await asyncio.sleep(GRACE_S / 3)
    back = await open_client(blip)  # a reload: back before the grace ran out
    await back.expect("hello")
    await asyncio.sleep(GRACE_S * 3)

    assert await people_in(services, mod.id, room) == {mod.id, blip.id, two_tabs.id}
    await back.ws.close()
    await second_tab.ws.close()
    await asyncio.sleep(GRACE_S * 3)
    assert await people_in(services, mod.id, room) == {mod.id}


async def test_a_shutdown_is_nobody_going_away(services: Services, url: str) -> None:
    hub = services.bus
    assert isinstance(hub, Hub)
    assert hub.departures is not None
    mod, fan = await member(services, "mod"), await member(services, "fan")
    room = await new_room(services, mod)
    client = await opener(url)(fan)
    await client.expect("hello")
    await client.call("join", room_id=room)
    await hub.close_all()
    await asyncio.sleep(GRACE_S * 3)
    assert hub.departures.pending() == set()
    assert await people_in(services, mod.id, room) == {mod.id, fan.id}
