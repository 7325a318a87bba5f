"""The accounts API over in-process HTTP: sign-up, log-in/out, cookies and CSRF, bearer tokens, profiles and admin
actions. Every refusal has the ``{code, message, data}`` shape; none is a 500; no answer says whether an account
exists."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from salon.app.fakes import RecordingBus
from salon.app.invites import create_operator_invite
from salon.app.ratelimit import LOGIN_PAIR_FAILURES, LOGIN_PAIR_LOCK_S
from salon.app.services import Services
from salon.app.settings import Settings
from tests.support.accounts import PASSWORD
from tests.support.api import API, app_for, assert_error, bearer, client_for, signup

Client = httpx.AsyncClient


# --- sign-up, cookies, CSRF ----------------------------------------------------------------------------------------


async def test_cookie_sign_up_sets_a_safe_cookie_and_needs_csrf(client: Client, services: Services) -> None:
    code = (await create_operator_invite(services)).code
    response = await client.post(
        "/auth/signup",
        json={"invite_code": code, "username": "ada", "display_name": "Ada", "password": PASSWORD, "mode": "cookie"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token"] is None
    assert len(body["csrf_token"]) >= 43
    assert body["user"]["username"] == "ada"
    assert body["user"]["invites_left"] == 2
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("salon_session=")
    for attribute in ("HttpOnly", "SameSite=lax", "Path=/", f"Max-Age={30 * 86400}"):
        assert attribute.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # public_url is http here

    assert (await client.get("/me")).json()["username"] == "ada"
    assert_error(await client.post("/invites"), 403, "csrf_failed")
    assert_error(await client.post("/invites", headers={"X-CSRF-Token": "wrong"}), 403, "csrf_failed")
    assert (await client.post("/invites", headers={"X-CSRF-Token": body["csrf_token"]})).status_code == 201
    session = (await client.get("/auth/session")).json()
    assert session["csrf_token"] == body["csrf_token"]
    assert session["kind"] == "cookie"
    assert session["user"]["username"] == "ada"


async def test_cookie_is_secure_behind_https(services: Services, settings: Settings) -> None:
    https_settings = settings.model_copy(update={"public_url": "https://salon.example"})
    services.settings = https_settings
    async with client_for(app_for(https_settings, services)) as c:
        await signup(c, services, "ada")
        response = await c.post("/auth/login", json={"username": "ada", "password": PASSWORD})
    assert "; secure" in response.headers["set-cookie"].lower()


async def test_bearer_mode_needs_no_csrf_and_sets_no_cookie(client: Client, services: Services) -> None:
    body = await signup(client, services, "ada", mode="bearer")
    assert body["csrf_token"] is None
    assert len(body["token"]) >= 43
    assert not client.cookies
    assert_error(await client.get("/me"), 401, "not_authenticated")
    me = await client.get("/me", headers=bearer(body["token"]))
    assert me.json()["username"] == "ada"
    assert (await client.post("/invites", headers=bearer(body["token"]))).status_code == 201
    session = (await client.get("/auth/session", headers=bearer(body["token"]))).json()
    assert session["kind"] == "bearer"
    assert session["csrf_token"] is None


async def test_tokens_work_only_through_their_own_channel(app: FastAPI, services: Services) -> None:
    async with client_for(app) as browser, client_for(app) as api, client_for(app) as other:
        await signup(browser, services, "ada", mode="cookie")
        token = (await signup(api, services, "bob", mode="bearer"))["token"]
        cookie = browser.cookies["salon_session"]
        assert_error(await other.get("/me", headers=bearer(cookie)), 401, "not_authenticated")
        other.cookies.set("salon_session", token)
        assert_error(await other.get("/me"), 401, "not_authenticated")
        # A bearer header decides, even with a valid cookie beside it.
        assert_error(await browser.get("/me", headers=bearer("bogus")), 401, "not_authenticated")
        assert_error(await browser.get("/me", headers={"Authorization": "Basic abc"}), 401, "not_authenticated")


async def test_log_in_log_out(app: FastAPI, services: Services) -> None:
    async with client_for(app) as first, client_for(app) as second:
        await signup(first, services, "ada", mode="bearer")
        response = await second.post("/auth/login", json={"username": "ADA", "password": PASSWORD})
        assert response.status_code == 200
        csrf = response.json()["csrf_token"]
        assert (await second.get("/me")).status_code == 200
        assert_error(await second.post("/auth/logout"), 403, "csrf_failed")
        out = await second.post("/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200
        assert out.json() == {"sessions_ended": 1}
        assert "salon_session=" in out.headers["set-cookie"]
        assert "max-age=0" in out.headers["set-cookie"].lower()
        assert set(second.cookies.keys()) == {"salon_device"}  # the session is gone; the device stays known
        assert_error(await second.get("/me"), 401, "not_authenticated")
        bus = services.bus
        assert isinstance(bus, RecordingBus)
        assert len(bus.closed_sessions) == 1


async def test_log_out_everywhere(client: Client, services: Services) -> None:
    token = (await signup(client, services, "ada", mode="bearer"))["token"]
    other = await client.post("/auth/login", json={"username": "ada", "password": PASSWORD, "mode": "bearer"})
    other_token = other.json()["token"]
    response = await client.post("/auth/logout-all", headers=bearer(token))
    assert response.json() == {"sessions_ended": 2}
    assert_error(await client.get("/me", headers=bearer(other_token)), 401, "not_authenticated")


async def test_no_account_existence_oracle(client: Client, services: Services) -> None:
    await signup(client, services, "ada", mode="bearer")
    wrong = await client.post("/auth/login", json={"username": "ada", "password": "not the password"})
    unknown = await client.post("/auth/login", json={"username": "nobody", "password": "not the password"})
    invalid = await client.post("/auth/login", json={"username": "no one!", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == invalid.status_code == 401
    assert wrong.json() == unknown.json() == invalid.json()
    assert_error(wrong, 401, "bad_credentials")
    assert "set-cookie" not in wrong.headers


async def test_failed_log_ins_are_rate_limited(client: Client, services: Services) -> None:
    await signup(client, services, "ada", mode="bearer")
    for _ in range(LOGIN_PAIR_FAILURES):
        assert_error(
            await client.post("/auth/login", json={"username": "ada", "password": "nope nope"}), 401, "bad_credentials"
        )
    limited = await client.post("/auth/login", json={"username": "ada", "password": PASSWORD})
    body = assert_error(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == str(body["data"]["retry_after"]) == str(LOGIN_PAIR_LOCK_S)


async def test_sign_up_refusals(client: Client, services: Services) -> None:
    await signup(client, services, "ada", mode="bearer")
    code = (await create_operator_invite(services)).code
    base = {"invite_code": code, "username": "bob", "display_name": "Bob", "password": PASSWORD}
    assert_error(await client.post("/auth/signup", json={**base, "invite_code": "nope"}), 410, "invite_invalid")
    assert_error(await client.post("/auth/signup", json={**base, "username": "ADA"}), 409, "username_taken")
    assert_error(await client.post("/auth/signup", json={**base, "password": "password"}), 422, "weak_password")
    assert_error(await client.post("/auth/signup", json={**base, "username": "b b b"}), 422, "invalid_input")
    assert (await client.post("/auth/signup", json=base)).status_code == 201
    assert_error(await client.post("/auth/signup", json={**base, "username": "carl"}), 410, "invite_invalid")


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{not json", {"content-type": "application/json"}),
        (b"", {"content-type": "application/json"}),
        (b"[]", {"content-type": "application/json"}),
        (b'{"username": "ada"}', {"content-type": "application/json"}),
        (b'{"username": "ada", "password": "x", "mode": "cookie", "extra": 1}', {"content-type": "application/json"}),
        (b'{"username": "ada", "password": "x", "mode": "session"}', {"content-type": "application/json"}),
        (b'{"username": 5, "password": ["x"]}', {"content-type": "application/json"}),
        (b'{"username": "ada", "password": "x"}', {"content-type": "text/plain"}),
        (b"username=ada&password=x", {"content-type": "application/x-www-form-urlencoded"}),
        (b'{"username": "' + b"a" * 5000 + b'", "password": "x"}', {"content-type": "application/json"}),
    ],
    ids=["broken", "empty", "array", "missing", "extra", "bad-mode", "types", "text-plain", "form", "huge"],
)
async def test_malformed_requests_are_invalid_input(client: Client, content: bytes, headers: dict[str, str]) -> None:
    body = assert_error(await client.post("/auth/login", content=content, headers=headers), 422, "invalid_input")
    assert isinstance(body["data"].get("errors"), list)


# --- profiles ------------------------------------------------------------------------------------------


async def test_profiles(app: FastAPI, services: Services) -> None:
    async with client_for(app) as c:
        root = await signup(c, services, "root", mode="bearer", admin=True)
        code = (await c.post("/invites", headers=bearer(root["token"]))).json()["code"]
        ada = await signup(c, services, "ada", mode="bearer", code=code)
        bob = await signup(c, services, "bob", mode="bearer")
        ada_id = ada["user"]["id"]

        seen = (await c.get(f"/users/{ada_id}", headers=bearer(bob["token"]))).json()
        assert seen["username"] == "ada"
        assert seen["invited_by"]["username"] == "root"  # public: "Invited by …" on every profile
        assert seen["invites_left"] is None
        assert set(seen) == {
            "id",
            "username",
            "display_name",
            "bio",
            "avatar_url",
            "created_at",
            "is_admin",
            "invited_by",
            "invites_left",
            "disabled",
            "followers_count",
            "following_count",
            "followed_by_you",
            "follows_you",
            "blocked_by_you",
            "known_followers",
            "topics",
        }
        by_admin = (await c.get("/users/by-username/ADA", headers=bearer(root["token"]))).json()
        assert by_admin["invited_by"]["username"] == "root"
        assert by_admin["disabled"] is False
        own = (await c.get(f"/users/{ada_id}", headers=bearer(ada["token"]))).json()
        assert own["invited_by"]["id"] == root["user"]["id"]
        assert own["invites_left"] == 2

        assert_error(await c.get("/users/nobody", headers=bearer(bob["token"])), 404, "not_found")
        assert_error(await c.get("/users/by-username/nobody", headers=bearer(bob["token"])), 404, "not_found")
        assert_error(await c.get(f"/users/{ada_id}"), 401, "not_authenticated")

        patched = await c.patch("/me", json={"bio": "  Hello. ", "display_name": "Ada L"}, headers=bearer(ada["token"]))
        assert (patched.json()["bio"], patched.json()["display_name"]) == ("Hello.", "Ada L")
        assert_error(await c.patch("/me", json={"bio": "x" * 301}, headers=bearer(ada["token"])), 422, "invalid_input")
        assert_error(await c.patch("/me", json={"username": "x"}, headers=bearer(ada["token"])), 422, "invalid_input")


async def test_admin_actions(app: FastAPI, services: Services) -> None:
    async with client_for(app) as c, client_for(app) as browser:
        root = bearer((await signup(c, services, "root", mode="bearer", admin=True))["token"])
        ada_body = await signup(c, services, "ada", mode="bearer")
        ada = bearer(ada_body["token"])
        ada_id = ada_body["user"]["id"]
        await browser.post("/auth/login", json={"username": "ada", "password": PASSWORD})
        assert (await browser.get("/me")).status_code == 200

        granted = await c.post(f"/admin/users/{ada_id}/invites", json={"count": 3}, headers=root)
        assert granted.json() == {"invites_left": 5}
        assert_error(
            await c.post(f"/admin/users/{ada_id}/invites", json={"count": 0}, headers=root), 422, "invalid_input"
        )
        assert_error(await c.post(f"/admin/users/{ada_id}/invites", json={"count": 1}, headers=ada), 403, "not_allowed")
        assert_error(await c.post("/admin/users/nobody/invites", json={"count": 1}, headers=root), 404, "not_found")
        assert_error(await c.post(f"/admin/users/{ada_id}/disable", headers=ada), 403, "not_allowed")

        disabled = await c.post(f"/admin/users/{ada_id}/disable", headers=root)
        assert disabled.json() == {"id": ada_id, "disabled": True}
        assert_error(await c.get("/me", headers=ada), 401, "not_authenticated")
        assert_error(await browser.get("/me"), 401, "not_authenticated")
        bus = services.bus
        assert isinstance(bus, RecordingBus)
        assert bus.closed_users == [ada_id]
        refused = await c.post("/auth/login", json={"username": "ada", "password": PASSWORD})
        unknown = await c.post("/auth/login", json={"username": "zed", "password": PASSWORD})
        assert refused.status_code == unknown.status_code == 401
        assert refused.json() == unknown.json()

        enabled = await c.post(f"/admin/users/{ada_id}/enable", headers=root)
        assert enabled.json() == {"id": ada_id, "disabled": False}
        assert (await c.post("/auth/login", json={"username": "ada", "password": PASSWORD})).status_code == 200


# --- the API as a whole --------------------------------------------------------------------------------------------


async def test_openapi_documents_every_accounts_route(client: Client) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path, method in [
        ("/api/v1/auth/signup", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/me/avatar", "put"),
        ("/api/v1/invites", "post"),
        ("/api/v1/waitlist/{entry_id}/nominate", "post"),
    ]:
        operation = paths[path][method]
        assert operation["summary"]
        assert operation["responses"]
    avatar_body = paths["/api/v1/me/avatar"]["put"]["requestBody"]["content"]["multipart/form-data"]
    assert avatar_body["schema"]["properties"]["file"]["format"] == "binary"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_garbage_never_makes_a_500(client: Client, app: FastAPI, method: str) -> None:
    # The OpenAPI document is the route table (FastAPI nests included routers, so app.routes is not flat).
    paths = [p for p in app.openapi()["paths"] if p.startswith(API)]
    for path in sorted(paths):
        url = path.removeprefix(API).replace("{", "").replace("}", "")
        for content in (b"", b"\xff\xfe garbage", b'{"a": ' * 50):
            response = await client.request(method, url, content=content, headers={"content-type": "application/json"})
            assert response.status_code < 500, (method, url, content, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"code", "message", "data"}
