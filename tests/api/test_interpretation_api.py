"""Interpretation channels over in-process HTTP: languages validated at the edge in the one error shape, a room created
with its languages, the hallway card and search carrying and filtering them, events declaring them and their room
inheriting them. (Who may call each route: tests/api/test_authorization_matrix*.py; the rules on both engines:
tests/integration/test_interpretation.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from salon.app.services import Services
from salon.app.settings import Settings
from tests.support.api import app_for, assert_error, bearer, client_for, ok, signup
from tests.support.scheduled_events import with_event_routes

Client = httpx.AsyncClient
STARTS = "2026-01-05T19:00:00+01:00"  # the fake clock starts at 2026-01-01 12:00 UTC


@pytest.fixture
async def client(settings: Settings, services: Services) -> AsyncIterator[Client]:
    async with client_for(with_event_routes(app_for(settings, services))) as c:
        yield c


async def member(client: Client, services: Services, name: str) -> tuple[str, dict[str, str]]:
    body = await signup(client, services, name, mode="bearer")
    return body["user"]["id"], bearer(body["token"])


async def open_room(client: Client, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = await ok(await client.post("/rooms", json={"title": "Talk", **fields}, headers=auth), 201)
    return created


async def test_bad_languages_are_refused_in_the_one_shape(client: Client, services: Services) -> None:
    _, ada = await member(client, services, "ada")
    cases: list[dict[str, Any]] = [
        {"languages": {"floor": "klingon"}},  # not a tag
        {"languages": {"floor": "xx"}},  # a tag, not one of the known languages
        {"languages": {"floor": "EN"}},  # a known language, not written as the document lists it
        {"languages": {"floor": "en", "channels": ["en"]}},  # a channel in the floor language
        {"languages": {"floor": "en", "channels": ["ru", "ru"]}},  # twice
        {"languages": {"floor": "en", "channels": ["ru", "fr", "de", "es", "it"]}},  # more than four
        {"languages": {"floor": "en"}, "ducking_db": 0},  # not a ducking
        {"languages": {"floor": "en"}, "ducking_db": "-15"},  # not an integer
        {"languages": {"floor": "en", "extra": 1}},
    ]
    for body in cases:
        assert_error(await client.post("/rooms", json={"title": "Talk", **body}, headers=ada), 422, "invalid_input")
    room = (await open_room(client, ada))["room"]["id"]
    for bad in ({"floor": "zz"}, {"floor": None, "channels": ["ru"]}, {"floor": "en", "ducking_db": -50}):
        assert_error(await client.post(f"/rooms/{room}/languages", json=bad, headers=ada), 422, "invalid_input")
    for path, body in (
        ("/interpreters", {"language": "zz", "user_id": "x"}),
        ("/booth/take", {"language": "r"}),
        ("/booth/take", {}),
    ):
        assert_error(await client.post(f"/rooms/{room}{path}", json=body, headers=ada), 422, "invalid_input")
    assert_error(await client.post(f"/rooms/{room}/booth/take", json={"language": "de"}, headers=ada), 404, "not_found")


async def test_a_room_opens_with_its_languages_and_shows_them_everywhere(client: Client, services: Services) -> None:
    ada_id, ada = await member(client, services, "ada")
    ivan_id, ivan = await member(client, services, "ivan")
    created = await open_room(client, ada, languages={"floor": "en", "channels": ["ru", "fr"]}, ducking_db=-20)
    room = created["room"]["id"]
    empty: dict[str, Any] = {"interpreters": [], "live": None, "handover_to": None}
    assert created["interpretation"] == {
        "floor": "en",
        "ducking_db": -20,
        "channels": [{"language": "ru", **empty}, {"language": "fr", **empty}],
    }
    await ok(await client.post(f"/rooms/{room}/join", headers=ivan))
    await ok(await client.post(f"/rooms/{room}/interpreters", json={"language": "ru", "user_id": ivan_id}, headers=ada))
    await ok(await client.post(f"/rooms/{room}/booth/take", json={"language": "ru"}, headers=ivan))
    snapshot = await ok(await client.get(f"/rooms/{room}", headers=ada))
    assert snapshot["interpretation"]["channels"][0] == {
        "language": "ru",
        "interpreters": [ivan_id],
        "live": ivan_id,
        "handover_to": None,
    }
    plain = (await open_room(client, ada, title="Plain"))["room"]["id"]
    cards = {c["room"]["id"]: c for c in (await ok(await client.get("/hallway", headers=ivan)))["rooms"]}
    assert cards[room]["languages"] == {"floor": "en", "channels": ["ru", "fr"]}
    assert cards[plain]["languages"] is None
    log = await ok(await client.get(f"/rooms/{room}/moderation-log", headers=ada))
    assert [(e["action"], e["actor"]["id"]) for e in log["entries"]] == [("assign_interpreter", ada_id)]


async def test_search_filters_rooms_and_events_by_language(client: Client, services: Services) -> None:
    _, ada = await member(client, services, "ada")
    russian = (await open_room(client, ada, title="Chess talk", languages={"floor": "en", "channels": ["ru"]}))["room"]
    french = (await open_room(client, ada, title="Chess club", languages={"floor": "fr"}))["room"]
    await open_room(client, ada, title="Chess without")
    body = {"title": "Chess night", "starts_at": STARTS, "languages": {"floor": "ru"}}
    event = await ok(await client.post("/events", json=body, headers=ada), 201)

    async def found(query: str) -> tuple[list[str], list[str], int]:
        got = await ok(await client.get(f"/search?{query}", headers=ada))
        return [r["room"]["id"] for r in got["rooms"]], [e["id"] for e in got["events"]], len(got["members"])

    assert await found("q=chess&language=ru") == ([russian["id"]], [event["id"]], 0)
    assert await found("language=fr") == ([french["id"]], [], 0)
    assert len((await found("q=chess"))[0]) == 3
    assert_error(await client.get("/search", headers=ada), 422, "invalid_input")
    assert_error(await client.get("/search?language=zz", headers=ada), 422, "invalid_input")
    assert_error(await client.get("/search?language=FR", headers=ada), 422, "invalid_input")
    assert_error(await client.get("/search?language=russian", headers=ada), 422, "invalid_input")


async def test_an_event_declares_languages_and_its_room_starts_with_them(client: Client, services: Services) -> None:
    _, ada = await member(client, services, "ada")
    soon = "2026-01-01T12:10:00+00:00"  # within the quarter of an hour an event may start early
    body = {"title": "Jazz", "starts_at": soon, "languages": {"floor": "en", "channels": ["ru"]}, "ducking_db": -12}
    event = await ok(await client.post("/events", json=body, headers=ada), 201)
    assert event["languages"] == {"floor": "en", "channels": ["ru"]}
    assert (await ok(await client.get(f"/events/{event['id']}", headers=ada)))["languages"] == event["languages"]
    edited = await ok(
        await client.patch(
            f"/events/{event['id']}", json={"languages": {"floor": "en", "channels": ["ru", "fr"]}}, headers=ada
        )
    )
    assert edited["languages"] == {"floor": "en", "channels": ["ru", "fr"]}
    untouched = await ok(await client.patch(f"/events/{event['id']}", json={"title": "Jazz!"}, headers=ada))
    assert untouched["languages"] == edited["languages"]
    bad = {"languages": {"floor": "en", "channels": ["en"]}}
    assert_error(await client.patch(f"/events/{event['id']}", json=bad, headers=ada), 422, "invalid_input")
    started = await ok(await client.post(f"/events/{event['id']}/start", headers=ada))
    snapshot = await ok(await client.get(f"/rooms/{started['room_id']}", headers=ada))
    assert snapshot["interpretation"]["floor"] == "en"
    assert snapshot["interpretation"]["ducking_db"] == -12
    assert [c["language"] for c in snapshot["interpretation"]["channels"]] == ["ru", "fr"]
    plain = await ok(await client.post("/events", json={"title": "Plain", "starts_at": STARTS}, headers=ada), 201)
    assert plain["languages"] is None
    dropped = await ok(await client.patch(f"/events/{plain['id']}", json={"languages": None}, headers=ada))
    assert dropped["languages"] is None


async def test_a_moderator_changes_the_ducking_of_a_live_room(client: Client, services: Services) -> None:
    _, bob = await member(client, services, "bob")
    _, ada = await member(client, services, "ada")
    room = (await open_room(client, ada, languages={"floor": "en", "channels": ["ru"]}))["room"]["id"]
    for bad in ({}, {"ducking_db": -41}, {"ducking_db": -5}, {"ducking_db": -30.5}, {"ducking_db": -30, "x": 1}):
        assert_error(await client.post(f"/rooms/{room}/ducking", json=bad, headers=ada), 422, "invalid_input")
    await ok(await client.post(f"/rooms/{room}/join", headers=bob))
    assert_error(await client.post(f"/rooms/{room}/ducking", json={"ducking_db": -30}, headers=bob), 403, "not_allowed")
    done = await ok(await client.post(f"/rooms/{room}/ducking", json={"ducking_db": -30}, headers=ada))
    assert set(done) == {"seq"}
    view = await ok(await client.get(f"/rooms/{room}", headers=bob))
    assert view["interpretation"]["ducking_db"] == -30
