"""The follow graph and blocking over in-process HTTP: who may call each route (anonymous, blocked, disabled), the
answers' shapes, validation at the edge, profiles with counts, and rooms a follow opens or a block hides."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from salon.app.fakes import FakeClock
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.sessions import create_session
from salon.domain.paging import CURSOR_MAX, PAGE_MAX
from salon.domain.rooms import RoomType
from salon.store.tables import users
from tests.support.api import assert_error, bearer, client_for, signup
from tests.support.people import add_member

Client = httpx.AsyncClient
Headers = dict[str, str]

# Every route of the follow graph, with "{user}" standing for another member's id.
SOCIAL_ROUTES = [
    ("PUT", "/users/{user}/follow"),
    ("DELETE", "/users/{user}/follow"),
    ("GET", "/users/{user}/followers"),
    ("GET", "/users/{user}/following"),
    ("PUT", "/users/{user}/block"),
    ("DELETE", "/users/{user}/block"),
    ("GET", "/me/blocks"),
]


async def member(services: Services, username: str, *, admin: bool = False) -> tuple[str, Headers]:
    """A member and the headers of a bearer session of theirs."""
    user_id = await add_member(services, username, admin=admin)
    async with services.db.transaction() as conn:
        token = (await create_session(services, conn, user_id, "bearer")).token
    return user_id, bearer(token)


async def disable(services: Services, user_id: str) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(users.update().where(users.c.id == user_id).values(disabled_at=services.clock.now()))


def names(page: dict[str, Any]) -> list[str]:
    return [e["user"]["username"] for e in page["users"]]


# --- who may call ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), SOCIAL_ROUTES)
async def test_every_social_route_needs_a_session(client: Client, services: Services, method: str, path: str) -> None:
    bob, _ = await member(services, "bob")
    assert_error(await client.request(method, path.format(user=bob)), 401, "not_authenticated")
    assert_error(
        await client.request(method, path.format(user=bob), headers=bearer("not-a-token")), 401, "not_authenticated"
    )


@pytest.mark.parametrize(("method", "path"), SOCIAL_ROUTES)
async def test_a_disabled_account_cannot_call_any_social_route(
    client: Client, services: Services, method: str, path: str
) -> None:
    ada, as_ada = await member(services, "ada")
    bob, _ = await member(services, "bob")
    await disable(services, ada)
    assert_error(await client.request(method, path.format(user=bob), headers=as_ada), 401, "not_authenticated")


async def test_cookie_sessions_need_the_csrf_token_to_follow_or_block(app: FastAPI, services: Services) -> None:
    bob, _ = await member(services, "bob")
    async with client_for(app) as browser:
        csrf = (await signup(browser, services, "ada"))["csrf_token"]
        for method, path in SOCIAL_ROUTES:
            if method != "GET":
                assert_error(await browser.request(method, path.format(user=bob)), 403, "csrf_failed")
        followed = await browser.put(f"/users/{bob}/follow", headers={"X-CSRF-Token": csrf})
        assert followed.status_code == 200
        assert (await browser.get(f"/users/{bob}/followers")).status_code == 200


# --- follow, block, lists, profiles ----------------------------------------------------------------------------


async def test_follow_unfollow_and_the_profile_over_http(client: Client, services: Services) -> None:
    ada, as_ada = await member(services, "ada")
    bob, as_bob = await member(services, "bob")
    cy, as_cy = await member(services, "cy")

    followed = await client.put(f"/users/{bob}/follow", headers=as_ada)
    assert followed.status_code == 200
    assert followed.json() == {
        "user_id": bob,
        "followed_by_you": True,
        "follows_you": False,
        "blocked_by_you": False,
        "followers_count": 1,
    }
    assert (await client.put(f"/users/{bob}/follow", headers=as_ada)).json() == followed.json()
    await client.put(f"/users/{bob}/follow", headers=as_cy)
    await client.put(f"/users/{cy}/follow", headers=as_ada)

    profile = (await client.get(f"/users/{bob}", headers=as_ada)).json()
    assert profile["followers_count"] == 2
    assert profile["following_count"] == 0
    assert (profile["followed_by_you"], profile["follows_you"], profile["blocked_by_you"]) == (True, False, False)
    assert profile["known_followers"] == {
        "count": 1,
        "users": [{"id": cy, "username": "cy", "display_name": "Cy", "avatar_url": None}],
    }
    by_name = (await client.get("/users/by-username/bob", headers=as_ada)).json()
    assert by_name["known_followers"]["count"] == 1
    me = (await client.get("/me", headers=as_ada)).json()
    assert (me["followers_count"], me["following_count"]) == (0, 2)
    assert (me["followed_by_you"], me["follows_you"], me["blocked_by_you"], me["known_followers"]) == (
        None,
        None,
        None,
        None,
    )

    followers = (await client.get(f"/users/{bob}/followers", headers=as_bob)).json()
    same_instant = sorted([(ada, "ada"), (cy, "cy")], reverse=True)
    assert names(followers) == [name for _, name in same_instant]  # followed at the same instant: ids decide
    assert set(followers["users"][0]) == {"user", "since", "followed_by_you"}
    assert followers["next_cursor"] is None
    following = (await client.get(f"/users/{ada}/following", headers=as_cy)).json()
    assert sorted(names(following)) == ["bob", "cy"]
    assert {e["user"]["username"]: e["followed_by_you"] for e in following["users"]} == {"bob": True, "cy": False}

    unfollowed = await client.delete(f"/users/{bob}/follow", headers=as_ada)
    assert unfollowed.json()["followed_by_you"] is False
    assert unfollowed.json()["followers_count"] == 1
    assert (await client.delete(f"/users/{bob}/follow", headers=as_ada)).status_code == 200


async def test_lists_are_paged_with_a_cursor(client: Client, services: Services, clock: FakeClock) -> None:
    star, as_star = await member(services, "star")
    for i in range(5):
        _, as_fan = await member(services, f"fan{i}")
        clock.advance(1)
        await client.put(f"/users/{star}/follow", headers=as_fan)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"/users/{star}/followers", params=params, headers=as_star)).json()
        seen += names(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["fan4", "fan3", "fan2", "fan1", "fan0"]
    default = (await client.get(f"/users/{star}/followers", headers=as_star)).json()
    assert names(default) == seen


async def test_blocking_over_http(client: Client, services: Services) -> None:
    ada, as_ada = await member(services, "ada")
    bob, as_bob = await member(services, "bob")
    _, as_cy = await member(services, "cy")
    await client.put(f"/users/{ada}/follow", headers=as_bob)
    await client.put(f"/users/{bob}/follow", headers=as_ada)

    blocked = await client.put(f"/users/{bob}/block", headers=as_ada)
    assert blocked.json() == {
        "user_id": bob,
        "followed_by_you": False,
        "follows_you": False,
        "blocked_by_you": True,
        "followers_count": 0,
    }
    assert (await client.put(f"/users/{bob}/block", headers=as_ada)).json() == blocked.json()
    await client.put(f"/users/{ada}/block", headers=as_cy)

    mine = (await client.get("/me/blocks", headers=as_ada)).json()
    assert names(mine) == ["bob"]
    assert set(mine["users"][0]) == {"user", "since"}
    assert mine["next_cursor"] is None
    assert names((await client.get("/me/blocks", headers=as_bob)).json()) == []  # only mine, never who blocked me
    assert (await client.get(f"/users/{bob}", headers=as_ada)).json()["blocked_by_you"] is True

    # The blocked member is refused; the blocker is told to unblock first.
    assert_error(await client.put(f"/users/{ada}/follow", headers=as_bob), 403, "blocked")
    assert_error(await client.get(f"/users/{ada}/followers", headers=as_bob), 403, "blocked")
    assert_error(await client.get(f"/users/{ada}/following", headers=as_bob), 403, "blocked")
    assert_error(await client.put(f"/users/{bob}/follow", headers=as_ada), 409, "unblock_first")
    assert (await client.get(f"/users/{bob}/followers", headers=as_ada)).status_code == 200

    unblocked = await client.delete(f"/users/{bob}/block", headers=as_ada)
    assert unblocked.json()["blocked_by_you"] is False
    assert (await client.delete(f"/users/{bob}/block", headers=as_ada)).status_code == 200
    assert (await client.put(f"/users/{ada}/follow", headers=as_bob)).json()["followed_by_you"] is True
    assert names((await client.get("/me/blocks", headers=as_ada)).json()) == []


async def test_refusals_have_stable_codes(client: Client, services: Services) -> None:
    ada, as_ada = await member(services, "ada")
    gone, _ = await member(services, "gone")
    await disable(services, gone)
    assert_error(await client.put(f"/users/{ada}/follow", headers=as_ada), 422, "self_target")
    assert_error(await client.put(f"/users/{ada}/block", headers=as_ada), 422, "self_target")
    for method, path in SOCIAL_ROUTES[:-1]:
        assert_error(await client.request(method, path.format(user="nobody"), headers=as_ada), 404, "not_found")
    assert_error(await client.put(f"/users/{gone}/follow", headers=as_ada), 404, "not_found")
    assert_error(await client.get(f"/users/{gone}/followers", headers=as_ada), 404, "not_found")
    assert (await client.put(f"/users/{gone}/block", headers=as_ada)).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        f"limit={PAGE_MAX + 1}",
        "limit=many",
        "cursor=",
        "cursor=garbage",
        f"cursor={'x' * (CURSOR_MAX + 1)}",
    ],
)
async def test_list_parameters_are_checked_at_the_edge(client: Client, services: Services, query: str) -> None:
    ada, as_ada = await member(services, "ada")
    for path in (f"/users/{ada}/followers", f"/users/{ada}/following", "/me/blocks"):
        assert_error(await client.get(f"{path}?{query}", headers=as_ada), 422, "invalid_input")


async def test_a_user_id_is_bounded_at_the_edge(client: Client, services: Services) -> None:
    _, as_ada = await member(services, "ada")
    for method, path in SOCIAL_ROUTES[:-1]:
        assert_error(await client.request(method, path.format(user="x" * 65), headers=as_ada), 422, "invalid_input")


# --- rooms -----------------------------------------------------------------------------------------------------


async def _room(services: Services, host: str, kind: RoomType) -> str:
    return str((await create_room(services, host, NewRoom("Talk", "", [], kind)))["room"]["id"])


async def _can_find(client: Client, room_id: str, headers: Headers) -> bool:
    """Whether the room is listed and readable; a hidden room answers 404 like no room at all."""
    listed = room_id in {r["room"]["id"] for r in (await client.get("/rooms", headers=headers)).json()}
    snapshot = await client.get(f"/rooms/{room_id}", headers=headers)
    if snapshot.status_code == 404:
        assert snapshot.json() == (await client.get("/rooms/nosuchroom", headers=headers)).json()
    else:
        assert snapshot.status_code == 200
    assert listed == (snapshot.status_code == 200)
    return listed


async def test_a_social_room_opens_to_followers_of_its_moderators(client: Client, services: Services) -> None:
    host, as_host = await member(services, "host")
    _, as_fan = await member(services, "fan")
    _, as_root = await member(services, "root", admin=True)
    room_id = await _room(services, host, RoomType.SOCIAL)
    assert await _can_find(client, room_id, as_host)
    assert await _can_find(client, room_id, as_root)
    assert not await _can_find(client, room_id, as_fan)
    assert_error(await client.post(f"/rooms/{room_id}/join", headers=as_fan), 404, "not_found")

    await client.put(f"/users/{host}/follow", headers=as_fan)
    assert await _can_find(client, room_id, as_fan)
    assert (await client.post(f"/rooms/{room_id}/join", headers=as_fan)).status_code == 200


@pytest.mark.parametrize("kind", [RoomType.OPEN, RoomType.SOCIAL])
async def test_a_member_blocked_by_a_moderator_cannot_find_or_join_the_room(
    client: Client, services: Services, kind: RoomType
) -> None:
    host, as_host = await member(services, "host")
    pest, as_pest = await member(services, "pest")
    await client.put(f"/users/{host}/follow", headers=as_pest)
    room_id = await _room(services, host, kind)
    assert await _can_find(client, room_id, as_pest)

    await client.put(f"/users/{pest}/block", headers=as_host)
    assert not await _can_find(client, room_id, as_pest)
    assert_error(await client.post(f"/rooms/{room_id}/join", headers=as_pest), 404, "not_found")
    assert_error(await client.get(f"/rooms/{room_id}/events?after=0", headers=as_pest), 404, "not_found")

    await client.delete(f"/users/{pest}/block", headers=as_host)
    if kind is RoomType.SOCIAL:  # the block ended the follow: following again is needed
        assert not await _can_find(client, room_id, as_pest)
        await client.put(f"/users/{host}/follow", headers=as_pest)
    assert await _can_find(client, room_id, as_pest)


# --- the API documents itself ----------------------------------------------------------------------------------


async def test_openapi_documents_the_social_routes(client: Client) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        ("/api/v1/users/{user_id}/follow", "put"): "Follow a member",
        ("/api/v1/users/{user_id}/follow", "delete"): "Stop following a member",
        ("/api/v1/users/{user_id}/followers", "get"): "Who follows a member",
        ("/api/v1/users/{user_id}/following", "get"): "Whom a member follows",
        ("/api/v1/users/{user_id}/block", "put"): "Block a member",
        ("/api/v1/users/{user_id}/block", "delete"): "Unblock a member",
        ("/api/v1/me/blocks", "get"): "The members I blocked",
    }
    for (path, method), summary in expected.items():
        operation = paths[path][method]
        assert operation["summary"] == summary
        assert operation["tags"] == ["social"]
        assert operation["responses"]["4XX"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorOut"
        }
    followers = paths["/api/v1/users/{user_id}/followers"]["get"]
    limit = next(p for p in followers["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == PAGE_MAX
    schemas = spec["components"]["schemas"]
    assert set(schemas["FollowPageOut"]["required"]) == {"users", "next_cursor"}
    assert {"followers_count", "following_count", "known_followers"} <= set(schemas["ProfileOut"]["properties"])
