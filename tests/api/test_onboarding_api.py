"""Getting started over in-process HTTP: who may call the topics and suggestions routes (anonymous, disabled,
CSRF), topics' validation at the edge (422 invalid_input in the one error shape), the invite check naming the
inviter, and "followed you" reaching the followed member's list with the follower's card."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from salon.app.invites import create_invite
from salon.app.services import Services
from salon.app.sessions import Actor, create_session
from salon.domain.topics import TOPICS
from salon.store.tables import users
from tests.support.api import assert_error, bearer, client_for, signup
from tests.support.people import add_member

Client = httpx.AsyncClient
Headers = dict[str, str]

# Every route of getting started (they are listed in the authorization matrix's NON_ROOM_ROUTES, pointing here).
ROUTES = [("GET", "/me/topics"), ("PUT", "/me/topics"), ("GET", "/me/suggestions")]
BODY = {"topics": ["jazz"]}


async def member(services: Services, username: str) -> tuple[str, Headers]:
    user_id = await add_member(services, username)
    async with services.db.transaction() as conn:
        token = (await create_session(services, conn, user_id, "bearer")).token
    return user_id, bearer(token)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_needs_a_live_session(client: Client, services: Services, method: str, path: str) -> None:
    body = BODY if method == "PUT" else None
    assert_error(await client.request(method, path, json=body), 401, "not_authenticated")
    ada, as_ada = await member(services, "ada")
    assert (await client.request(method, path, json=body, headers=as_ada)).status_code == 200
    async with services.db.transaction() as conn:
        await conn.execute(users.update().where(users.c.id == ada).values(disabled_at=services.clock.now()))
    assert_error(await client.request(method, path, json=body, headers=as_ada), 401, "not_authenticated")


async def test_a_cookie_session_needs_the_csrf_token_to_change_topics(app: FastAPI, services: Services) -> None:
    async with client_for(app) as browser:
        csrf = (await signup(browser, services, "ada"))["csrf_token"]
        assert_error(await browser.put("/me/topics", json=BODY), 403, "csrf_failed")
        put = await browser.put("/me/topics", json=BODY, headers={"X-CSRF-Token": csrf})
        assert put.status_code == 200
        assert (await browser.get("/me/topics")).json()["topics"] == ["jazz"]


async def test_topics_over_http_and_their_refusals(client: Client, services: Services) -> None:
    ada, as_ada = await member(services, "ada")
    _, as_bob = await member(services, "bob")
    got = (await client.get("/me/topics", headers=as_ada)).json()
    assert got == {"topics": [], "choices": list(TOPICS), "max_picks": 5}
    put = await client.put("/me/topics", json={"topics": ["tech", "jazz", "tech"]}, headers=as_ada)
    assert put.json()["topics"] == ["tech", "jazz"]
    assert (await client.get(f"/users/{ada}", headers=as_bob)).json()["topics"] == ["tech", "jazz"]
    assert (await client.get("/me/topics", headers=as_bob)).json()["topics"] == []  # each their own
    for bad in (
        {"topics": ["knitting"]},
        {"topics": list(TOPICS[:6])},
        {"topics": "jazz"},
        {"topics": [1]},
        {"topics": ["jazz"], "more": 1},
        {},
    ):
        body = assert_error(await client.put("/me/topics", json=bad, headers=as_ada), 422, "invalid_input")
        assert body["data"]["errors"], body  # each refusal names what was wrong
    assert (await client.get("/me/topics", headers=as_ada)).json()["topics"] == ["tech", "jazz"]


async def test_the_invite_check_names_the_inviter_and_sign_up_follows_them(client: Client, services: Services) -> None:
    ada, as_ada = await member(services, "ada")
    code = (await create_invite(services, Actor(ada, "ada", False, ""))).code
    check = (await client.get(f"/invites/check/{code}")).json()
    assert check == {
        "valid": True,
        "invited_by": {"id": ada, "username": "ada", "display_name": "Ada", "avatar_url": None},
    }
    bob = (await signup(client, services, "bob", mode="bearer", code=code))["user"]
    assert bob["invited_by"]["id"] == ada
    assert bob["following_count"] == 1
    assert (await client.get(f"/invites/check/{code}")).json() == {"valid": False, "invited_by": None}
    notes = (await client.get("/notifications", headers=as_ada)).json()["notifications"]
    followed = [n for n in notes if n["kind"] == "followed_you"]
    assert [n["data"]["user"]["username"] for n in followed] == ["bob"]
    assert followed[0]["room_ended"] is None
    people = (await client.get("/me/suggestions", headers=as_ada)).json()["people"]
    assert all(p["user"]["id"] != ada for p in people)
