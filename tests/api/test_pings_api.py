"""Pings over the API: ``POST /rooms/{id}/ping`` in-process, and the WebSocket op ``ping_member`` on a real server
where the member pinged receives the ``pinged`` notification live (and the keepalive ``ping`` still answers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from salon.app import notifications, social
from salon.app.fakes import FakeClock
from salon.app.ratelimit import PINGS_PER_MINUTE
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.domain.rooms import RoomType
from salon.store.database import Database
from salon.web.hub import Hub
from tests.support.api import assert_error, bearer
from tests.support.live_server import serve
from tests.support.notices import as_actor
from tests.support.people import add_member
from tests.support.services import make_services

TIMEOUT = 5.0


async def member(services: Services, username: str) -> tuple[str, str]:
    """A member and a bearer token of theirs."""
    user_id = await add_member(services, username)
    async with services.db.transaction() as conn:
        return user_id, (await create_session(services, conn, user_id, "bearer")).token


async def open_room(services: Services, mod: str, kind: RoomType = RoomType.OPEN) -> str:
    return str((await create_room(services, mod, NewRoom("Jazz", "", [], kind)))["room"]["id"])


# --- HTTP --------------------------------------------------------------------------------------------------------


async def test_a_notification_says_whether_its_room_has_ended(client: httpx.AsyncClient, services: Services) -> None:
    """The server decides "Join" or "ended": ``room_ended`` per notification, as of the answer."""
    mod, as_mod = await member(services, "mod")
    zed, as_zed = await member(services, "zed")
    live, over = await open_room(services, mod), await open_room(services, mod)
    for room in (live, over):
        assert (await client.post(f"/rooms/{room}/ping", json={"user_id": zed}, headers=bearer(as_mod))).is_success
    async with services.db.transaction() as conn:  # a notification that points to no room
        await notifications.notify(services, conn, [zed], "generic_test", {"title": "x"})
    assert (await client.post(f"/rooms/{over}/end", headers=bearer(as_mod))).is_success
    listed = (await client.get("/notifications", headers=bearer(as_zed))).json()["notifications"]
    assert {n["data"].get("room_id"): n["room_ended"] for n in listed} == {None: None, over: True, live: False}


async def test_a_moderator_pings_a_member_into_a_closed_room(client: httpx.AsyncClient, services: Services) -> None:
    mod, as_mod = await member(services, "mod")
    zed, as_zed = await member(services, "zed")
    room = await open_room(services, mod, RoomType.CLOSED)
    assert_error(await client.get(f"/rooms/{room}", headers=bearer(as_zed)), 404, "not_found")
    response = await client.post(f"/rooms/{room}/ping", json={"user_id": zed}, headers=bearer(as_mod))
    assert response.status_code == 200, response.text
    assert response.json() == {"let_in": True}
    assert (await client.get(f"/rooms/{room}", headers=bearer(as_zed))).status_code == 200
    listed = (await client.get("/notifications", headers=bearer(as_zed))).json()
    assert [(n["kind"], n["data"]["room_id"], n["data"]["by"]["id"]) for n in listed["notifications"]] == [
        ("pinged", room, mod)
    ]
    assert (await client.post(f"/rooms/{room}/join", headers=bearer(as_zed))).status_code == 200
    again = await client.post(f"/rooms/{room}/ping", json={"user_id": zed}, headers=bearer(as_mod))
    assert_error(again, 409, "conflict")


async def test_ping_refusals_over_http(client: httpx.AsyncClient, services: Services) -> None:
    mod, as_mod = await member(services, "mod")
    dee, as_dee = await member(services, "dee")
    zed, _ = await member(services, "zed")
    room = await open_room(services, mod)
    await social.block(services, as_actor(zed), mod)
    assert_error(
        await client.post(f"/rooms/{room}/ping", json={"user_id": zed}, headers=bearer(as_mod)), 403, "blocked"
    )
    assert_error(await client.post(f"/rooms/{room}/ping", json={"user_id": zed}), 401, "not_authenticated")
    assert_error(
        await client.post(f"/rooms/{room}/ping", json={"user_id": zed}, headers=bearer(as_dee)), 409, "not_in_room"
    )
    assert_error(
        await client.post(f"/rooms/{room}/ping", json={"user_id": dee, "x": 1}, headers=bearer(as_mod)),
        422,
        "invalid_input",
    )
    assert_error(await client.post(f"/rooms/{room}/ping", json={}, headers=bearer(as_mod)), 422, "invalid_input")
    assert_error(
        await client.post(f"/rooms/{room}/ping", json={"user_id": mod}, headers=bearer(as_mod)), 422, "self_target"
    )


async def test_pinging_is_rate_limited_over_http(client: httpx.AsyncClient, services: Services) -> None:
    mod, as_mod = await member(services, "mod")
    room = await open_room(services, mod)
    for _ in range(PINGS_PER_MINUTE):
        await client.post(f"/rooms/{room}/ping", json={"user_id": mod}, headers=bearer(as_mod))
    body = assert_error(
        await client.post(f"/rooms/{room}/ping", json={"user_id": mod}, headers=bearer(as_mod)), 429, "rate_limited"
    )
    assert body["data"]["limit"] == "ping"


async def test_the_ping_route_is_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/rooms/{room_id}/ping"]["post"]
    assert "moderator" in operation["description"]
    assert set(operation["responses"]) == {"200", "4XX"}  # the one error shape (web/errors.py)


# --- WebSocket ---------------------------------------------------------------------------------------------------


@pytest.fixture
async def live_services(database: Database, settings: Settings, clock: FakeClock) -> Services:
    return make_services(settings, database, clock=clock, bus=Hub(settings))


@pytest.fixture
async def url(live_services: Services) -> AsyncIterator[str]:
    async with serve(live_services) as port:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"


async def frame(ws: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return result


async def test_ping_member_over_the_websocket_reaches_the_member_live(live_services: Services, url: str) -> None:
    services = live_services
    dee, as_dee = await member(services, "dee")
    zed, as_zed = await member(services, "zed")
    room = await open_room(services, dee)
    await social.follow(services, as_actor(dee), zed)
    async with (
        connect(url, additional_headers=bearer(as_dee), proxy=None) as pinger,
        connect(url, additional_headers=bearer(as_zed), proxy=None) as pinged,
    ):
        assert (await frame(pinger))["type"] == (await frame(pinged))["type"] == "hello"
        await pinger.send(json.dumps({"op": "ping", "ref": "alive"}))
        assert (await frame(pinger))["ref"] == "alive"
        await pinger.send(json.dumps({"op": "ping_member", "ref": 1, "data": {"room_id": room, "user_id": zed}}))
        assert await frame(pinger) == {"type": "reply", "ref": 1, "data": {"let_in": False}}
        note = await frame(pinged)
        assert (note["type"], note["name"], note["data"]["kind"]) == ("user_event", "notification", "pinged")
        card = {"id": dee, "username": "dee", "display_name": "Dee", "avatar_url": None}
        assert note["data"]["data"] == {"room_id": room, "title": "Jazz", "by": card}
        page = await notifications.list_notifications(services, as_actor(zed), None)
        pings = [n.id for n in page.notifications if n.kind == "pinged"]  # (zed also heard "dee followed you")
        assert pings == [note["data"]["id"]]
        await pinger.send(json.dumps({"op": "ping_member", "ref": 2, "data": {"room_id": room, "user_id": dee}}))
        error = await frame(pinger)
        assert (error["type"], error["ref"], error["error"]["code"]) == ("error", 2, "self_target")
