"""The hallway over HTTP: members only, validated paging, the documented shape."""

from __future__ import annotations

import httpx

from salon.app.ratelimit import SEARCHES_PER_MINUTE
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.rooms import RoomType
from tests.support.accounts import sign_up
from tests.support.api import assert_error, bearer
from tests.support.scheduled_events import schedule


async def test_the_hallway_needs_a_login_and_pages_are_validated(services: Services, client: httpx.AsyncClient) -> None:
    assert (await client.get("/hallway")).status_code == 401
    ada = await sign_up(services, "ada")
    await create_room(services, ada.user.id, NewRoom("Evening chat", "", ["books"], RoomType.OPEN))
    headers = bearer(ada.session.token)
    assert_error(await client.get("/hallway?limit=500", headers=headers), 422, "invalid_input")
    page = (await client.get("/hallway?limit=10", headers=headers)).json()
    assert page["total"] == 1
    assert page["next_offset"] is None
    [entry] = page["rooms"]
    assert entry["room"]["title"] == "Evening chat"
    assert entry["room"]["topics"] == ["books"]
    assert [s["user"]["username"] for s in entry["speakers"]] == ["ada"]
    assert (entry["speaker_count"], entry["listener_count"], entry["followed_on_stage"]) == (1, 0, 0)
    assert page["upcoming"] == []
    host = Actor(user_id=ada.user.id, username="ada", is_admin=False, session_hash="")
    await schedule(services, host, title="Tomorrow's jam")
    page = (await client.get("/hallway?tz=America/New_York", headers=headers)).json()
    assert [e["title"] for e in page["upcoming"]] == ["Tomorrow's jam"], "upcoming events below the rooms"
    assert page["upcoming"][0]["starts_at"].endswith(("-05:00", "-04:00")), "shown in the viewer's zone"
    assert_error(await client.get("/hallway?tz=Mars/Olympus", headers=headers), 422, "invalid_input")


async def test_search_needs_a_login_and_a_sensible_query(services: Services, client: httpx.AsyncClient) -> None:
    assert (await client.get("/search?q=ada")).status_code == 401
    ada = await sign_up(services, "ada")
    await create_room(services, ada.user.id, NewRoom("Adagio", "", ["music"], RoomType.OPEN))
    headers = bearer(ada.session.token)
    assert_error(await client.get("/search?q=a", headers=headers), 422, "invalid_input")
    assert_error(await client.get("/search", headers=headers), 422, "invalid_input")
    found = (await client.get("/search?q=ada", headers=headers)).json()
    assert [m["username"] for m in found["members"]] == ["ada"]
    assert [r["room"]["title"] for r in found["rooms"]] == ["Adagio"]
    assert found["events"] == []
    for _ in range(SEARCHES_PER_MINUTE - 1):  # one search counted above (refused queries never reach the limit)
        assert (await client.get("/search?q=ada", headers=headers)).status_code == 200
    assert_error(await client.get("/search?q=ada", headers=headers), 429, "rate_limited")
