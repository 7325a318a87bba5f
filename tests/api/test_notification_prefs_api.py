"""Notification settings over in-process HTTP (``GET``/``PUT /me/notification-settings``), on both engines: who may
call them, what is accepted, and what they do — a group turned off is not written at all; while a pause lasts,
notifications are listed but not pushed live."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from salon.app.fakes import FakeClock, RecordingBus
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.sessions import create_session
from salon.domain.notification_prefs import GROUPS
from salon.domain.rooms import RoomType
from salon.store.tables import users
from salon.web.schemas_notifications import NotificationGroups
from tests.support.api import assert_error, bearer, client_for, signup
from tests.support.people import add_member

PATH = "/me/notification-settings"
ALL_ON = dict.fromkeys(GROUPS, True)


async def member(services: Services, username: str) -> tuple[str, dict[str, str]]:
    user_id = await add_member(services, username)
    async with services.db.transaction() as conn:
        return user_id, bearer((await create_session(services, conn, user_id, "bearer")).token)


def iso(services: Services, **delta: float) -> str:
    return (services.clock.now() + timedelta(**delta)).isoformat()


async def ping(client: httpx.AsyncClient, services: Services, target: str) -> None:
    """A moderator (new each time) pings ``target`` into a fresh room of theirs."""
    mod, as_mod = await member(services, f"mod{services.ids.new_id()[:6]}")
    room = (await create_room(services, mod, NewRoom("Jazz", "", [], RoomType.OPEN)))["room"]["id"]
    response = await client.post(f"/rooms/{room}/ping", json={"user_id": target}, headers=as_mod)
    assert response.status_code == 200, response.text


def pushed_to(services: Services, user_id: str) -> list[str]:
    assert isinstance(services.bus, RecordingBus)
    return [data["kind"] for who, name, data in services.bus.users if who == user_id and name == "notification"]


async def listed(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/notifications", headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


# --- who may call --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_who_may_call(app: FastAPI, client: httpx.AsyncClient, services: Services, method: str) -> None:
    """The matrix for these routes (tests/api/test_authorization_matrix.py lists them here): anonymous and a bad
    token 401, a disabled member 401, a cookie session without the CSRF token refused on PUT, a member 200 — and a
    member only ever reads and writes their own settings."""
    body = {"groups": {"pings": False}}
    assert_error(await client.request(method, PATH, json=body), 401, "not_authenticated")
    assert_error(await client.request(method, PATH, json=body, headers=bearer("nope")), 401, "not_authenticated")
    gone, as_gone = await member(services, "gone")
    async with services.db.transaction() as conn:
        await conn.execute(users.update().where(users.c.id == gone).values(disabled_at=services.clock.now()))
    assert_error(await client.request(method, PATH, json=body, headers=as_gone), 401, "not_authenticated")
    _, as_ada = await member(services, "ada")
    response = await client.request(method, PATH, json=body, headers=as_ada)
    assert response.status_code == 200, response.text
    async with client_for(app) as browser:
        csrf = (await signup(browser, services, "cookie"))["csrf_token"]
        if method == "PUT":
            assert_error(await browser.put(PATH, json=body), 403, "csrf_failed")
        mine = await browser.request(method, PATH, json=body, headers={"X-CSRF-Token": csrf})
        assert mine.status_code == 200, mine.text
        assert mine.json()["groups"] == ALL_ON | ({"pings": False} if method == "PUT" else {})
    _, as_bob = await member(services, "bob")
    assert (await client.get(PATH, headers=as_bob)).json()["groups"] == ALL_ON  # ada's choice is hers alone


# --- what is accepted ----------------------------------------------------------------------------------------------


async def test_the_defaults_and_a_round_trip(client: httpx.AsyncClient, services: Services) -> None:
    _, as_ada = await member(services, "ada")
    got = (await client.get(PATH, headers=as_ada)).json()
    assert got == {
        "groups": ALL_ON,
        "kinds": {name: list(kinds) for name, kinds in GROUPS.items()},
        "paused_until": None,
        "pause_max_s": 7 * 24 * 3600,
    }
    assert "followed_you" in got["kinds"]["people"]
    # a pause sent in the member's own offset comes back in UTC; groups left out are on
    until = (services.clock.now() + timedelta(hours=8)).astimezone(timezone(timedelta(hours=-5)))
    put = await client.put(PATH, json={"groups": {"events": False}, "paused_until": until.isoformat()}, headers=as_ada)
    assert put.status_code == 200, put.text
    assert put.json()["paused_until"] == (services.clock.now() + timedelta(hours=8)).isoformat()
    assert (await client.get(PATH, headers=as_ada)).json() == put.json()
    assert put.json()["groups"] == ALL_ON | {"events": False}
    # resume: null ends the pause; an empty body is "everything on, no pause"
    resumed = await client.put(PATH, json={"groups": {"events": False}, "paused_until": None}, headers=as_ada)
    assert resumed.json()["paused_until"] is None
    assert (await client.put(PATH, json={}, headers=as_ada)).json()["groups"] == ALL_ON


async def test_an_ended_pause_reads_as_none(client: httpx.AsyncClient, services: Services, clock: FakeClock) -> None:
    _, as_ada = await member(services, "ada")
    put = await client.put(PATH, json={"paused_until": iso(services, hours=1)}, headers=as_ada)
    assert put.json()["paused_until"] is not None
    clock.advance(3600)
    assert (await client.get(PATH, headers=as_ada)).json()["paused_until"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"groups": {"weather": False}},  # no such group
        {"groups": {"pings": "no"}},  # not a boolean
        {"groups": {"pings": 0}},
        {"groups": ["pings"]},
        {"paused_until": "2026-01-01T13:00:00"},  # no offset
        {"paused_until": "tomorrow"},
        {"paused_until": "0001-01-01T00:00:00+14:00"},  # in the past
        {"paused_until": "9999-12-31T23:59:59-14:00"},  # past the week
        {"mute": True},  # unknown field
    ],
)
async def test_bad_input_is_a_clear_422(client: httpx.AsyncClient, services: Services, body: dict[str, Any]) -> None:
    _, as_ada = await member(services, "ada")
    assert_error(await client.put(PATH, json=body, headers=as_ada), 422, "invalid_input")
    assert (await client.get(PATH, headers=as_ada)).json()["groups"] == ALL_ON  # nothing changed


async def test_a_pause_must_end_in_the_future_and_within_a_week(client: httpx.AsyncClient, services: Services) -> None:
    _, as_ada = await member(services, "ada")
    for when in (iso(services), iso(services, seconds=-1), iso(services, days=7, seconds=1)):
        refused = assert_error(
            await client.put(PATH, json={"paused_until": when}, headers=as_ada), 422, "invalid_input"
        )
        assert refused["data"]["field"] == "paused_until"
    week = await client.put(PATH, json={"paused_until": iso(services, days=7)}, headers=as_ada)
    assert week.status_code == 200, week.text


def test_the_schema_names_every_group_of_the_domain() -> None:
    assert set(NotificationGroups.model_fields) == set(GROUPS)


# --- what it does --------------------------------------------------------------------------------------------------


async def test_a_group_turned_off_is_not_written(client: httpx.AsyncClient, services: Services) -> None:
    zed, as_zed = await member(services, "zed")
    await ping(client, services, zed)
    assert [n["kind"] for n in (await listed(client, as_zed))["notifications"]] == ["pinged"]
    assert (await client.put(PATH, json={"groups": {"pings": False}}, headers=as_zed)).status_code == 200
    await ping(client, services, zed)
    page = await listed(client, as_zed)
    assert [n["kind"] for n in page["notifications"]] == ["pinged"]  # the second ping was not written
    assert page["unread_count"] == 1
    assert pushed_to(services, zed) == ["pinged"]
    # other groups still arrive
    assert (await client.put(PATH, json={"groups": {"events": False}}, headers=as_zed)).status_code == 200
    await ping(client, services, zed)
    assert len((await listed(client, as_zed))["notifications"]) == 2


async def test_while_paused_notifications_are_listed_but_not_pushed(
    client: httpx.AsyncClient, services: Services, clock: FakeClock
) -> None:
    zed, as_zed = await member(services, "zed")
    await ping(client, services, zed)
    assert pushed_to(services, zed) == ["pinged"]
    assert (await client.put(PATH, json={"paused_until": iso(services, hours=1)}, headers=as_zed)).status_code == 200
    await ping(client, services, zed)
    assert pushed_to(services, zed) == ["pinged"]  # not pushed
    page = await listed(client, as_zed)
    assert (len(page["notifications"]), page["unread_count"]) == (2, 2)  # but listed, unread
    clock.advance(3600)  # the pause is over
    await ping(client, services, zed)
    assert pushed_to(services, zed) == ["pinged", "pinged"]
