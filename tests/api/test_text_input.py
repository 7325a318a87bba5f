"""What text the API accepts (``domain/text.py``), on both engines: NUL, ESC and the other refused characters are
``422 invalid_input`` naming the field — never a 500 (PostgreSQL cannot store NUL), never stored (SQLite could) —
in every kind of field: bodies, query parameters, ids in paths and cursors."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from salon.app.invites import create_operator_invite
from salon.app.services import Services
from tests.support.accounts import PASSWORD
from tests.support.api import API, BASE, assert_error, bearer, signup

STARTS = "2026-01-05T19:00:00+01:00"  # the fake clock starts at 2026-01-01 12:00 UTC


@dataclass
class Ctx:
    client: httpx.AsyncClient
    services: Services
    headers: dict[str, str]
    room_id: str
    code: str


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sees a server error as a 500 (the default test client raises it instead)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE + API) as client:
        yield client


@pytest.fixture
async def ctx(http: httpx.AsyncClient, services: Services) -> Ctx:
    ada = await signup(http, services, "ada", mode="bearer", admin=True)
    headers = bearer(ada["token"])
    room = await http.post("/rooms", json={"title": "Jazz"}, headers=headers)
    assert room.status_code == 201, room.text
    code = (await create_operator_invite(services)).code
    return Ctx(http, services, headers, room.json()["room"]["id"], code)


Body = Callable[[Ctx, str], dict[str, Any]]


@dataclass(frozen=True)
class Field:
    """One text field of a request body: where it is sent, how, and whether it may span several lines."""

    method: str
    path: str
    body: Body
    field: str
    multiline: bool = False
    anonymous: bool = False


FIELDS: dict[str, Field] = {
    "waitlist name": Field(
        "POST", "/waitlist", lambda c, v: {"name": v, "contact": "w@example.org"}, "name", anonymous=True
    ),
    "waitlist contact": Field(
        "POST", "/waitlist", lambda c, v: {"name": "W", "contact": f"w{v}@example.org"}, "contact", anonymous=True
    ),
    "signup display name": Field(
        "POST",
        "/auth/signup",
        lambda c, v: {"invite_code": c.code, "username": "bob", "display_name": v, "password": PASSWORD},
        "display_name",
        anonymous=True,
    ),
    "signup invite code": Field(
        "POST",
        "/auth/signup",
        lambda c, v: {"invite_code": f"x{v}", "username": "bob", "display_name": "Bob", "password": PASSWORD},
        "invite_code",
        anonymous=True,
    ),
    "login username": Field(
        "POST", "/auth/login", lambda c, v: {"username": f"ada{v}", "password": PASSWORD}, "username", anonymous=True
    ),
    "display name": Field("PATCH", "/me", lambda c, v: {"display_name": v}, "display_name"),
    "bio": Field("PATCH", "/me", lambda c, v: {"bio": v}, "bio", multiline=True),
    "room title": Field("POST", "/rooms", lambda c, v: {"title": v}, "title"),
    "room description": Field(
        "POST", "/rooms", lambda c, v: {"title": "T", "description": v}, "description", multiline=True
    ),
    "room topic": Field("POST", "/rooms", lambda c, v: {"title": "T", "topics": ["jazz", v]}, "topics"),
    "event title": Field("POST", "/events", lambda c, v: {"title": v, "starts_at": STARTS}, "title"),
    "event description": Field(
        "POST",
        "/events",
        lambda c, v: {"title": "T", "description": v, "starts_at": STARTS},
        "description",
        multiline=True,
    ),
    "event topic": Field("POST", "/events", lambda c, v: {"title": "T", "topics": [v], "starts_at": STARTS}, "topics"),
    "report details": Field(
        "POST",
        "/reports",
        lambda c, v: {"room_id": c.room_id, "reason": "spam", "details": v},
        "details",
        multiline=True,
    ),
}


async def send(ctx: Ctx, f: Field, value: str) -> httpx.Response:
    headers = {} if f.anonymous else ctx.headers
    # Sent as ASCII JSON (``\\u0000``), as a hostile client would; a lone surrogate could not be sent otherwise.
    content = json.dumps(f.body(ctx, value))
    return await ctx.client.request(
        f.method, f.path, content=content, headers={**headers, "Content-Type": "application/json"}
    )


def vary(text: str) -> str:
    """``text`` around a refused character, so a field keeps its other rules (a minimum length, a visible character)."""
    return f"ab{text}cd"


REFUSED = {
    "NUL": "\x00",
    "ESC": "\x1b[31m",
    "BEL": "\x07",
    "C1 CSI": "\x9b",
    "DEL": "\x7f",
    "RLO": "\u202e",
    "LRI": "\u2066",
}


@pytest.mark.parametrize("f", FIELDS.values(), ids=FIELDS.keys())
async def test_control_characters_and_overrides_are_refused_in_every_text_field(ctx: Ctx, f: Field) -> None:
    for name, char in REFUSED.items():
        body = assert_error(await send(ctx, f, vary(char)), 422, "invalid_input")
        assert body["data"]["field"] == f.field, name
        assert body["message"].startswith(f"{f.field} contains a "), body["message"]
        assert f"U+{ord(char[0]):04X}" in body["message"]
    # Not Unicode at all: refused by the parser before any rule, still in the one shape and naming the field.
    body = assert_error(await send(ctx, f, vary("\ud800")), 422, "invalid_input")
    assert body["data"]["errors"][0]["loc"][:2] == ["body", f.field]
    if f.multiline:
        return
    for char in ("\n", "\t"):
        body = assert_error(await send(ctx, f, vary(char)), 422, "invalid_input")
        assert body["data"]["field"] == f.field
        assert "single line" in body["message"]


async def test_multi_line_fields_keep_line_breaks_and_tabs(ctx: Ctx) -> None:
    bio = await ctx.client.patch("/me", json={"bio": "Poet.\r\n\tLikes jazz."}, headers=ctx.headers)
    assert bio.status_code == 200, bio.text
    assert bio.json()["bio"] == "Poet.\n\tLikes jazz."
    room = await ctx.client.post("/rooms", json={"title": "T", "description": "one\ntwo"}, headers=ctx.headers)
    assert room.json()["room"]["description"] == "one\ntwo"


NAMES = [k for k, f in FIELDS.items() if f.field in {"name", "display_name", "title", "topics"}]


@pytest.mark.parametrize("key", NAMES)
async def test_names_made_only_of_invisible_characters_are_refused(ctx: Ctx, key: str) -> None:
    f = FIELDS[key]
    for invisible in ("\u200b", "\u2060\ufeff", " \u200b ", "\u3164"):
        body = assert_error(await send(ctx, f, invisible), 422, "invalid_input")
        assert body["data"]["field"] == f.field
        assert body["message"] == f"{f.field} needs at least one visible character."


async def test_refused_text_is_not_stored(ctx: Ctx) -> None:
    assert_error(await send(ctx, FIELDS["room title"], "\x1b]0;owned\x07"), 422, "invalid_input")
    assert_error(await send(ctx, FIELDS["display name"], "\x00"), 422, "invalid_input")
    rooms = (await ctx.client.get("/rooms", headers=ctx.headers)).json()
    assert [r["room"]["title"] for r in rooms] == ["Jazz"]
    assert (await ctx.client.get("/me", headers=ctx.headers)).json()["display_name"] == "Ada"


def _cursor(entry_id: str) -> str:
    return base64.urlsafe_b64encode(f"2026-01-01T00:00:00+00:00|{entry_id}".encode()).decode().rstrip("=")


NUL_ID, ESC_ID = _cursor("a\x00b"), _cursor("a\x1bb")


# Query parameters and path segments, percent-encoded as they travel.
URLS = {
    "search q NUL": ("GET", "/search?q=ab%00cd"),
    "search q ESC": ("GET", "/search?q=ab%1B%5B2Jcd"),
    "user id": ("GET", "/users/ab%00cd"),
    "follow": ("PUT", "/users/ab%00cd/follow"),
    "followers": ("GET", "/users/ab%00cd/followers"),
    "invite id": ("DELETE", "/invites/ab%00cd"),
    "waitlist entry": ("POST", "/waitlist/ab%00cd/nominate"),
    "admin user id": ("POST", "/admin/users/ab%1Bcd/disable"),
    "notifications cursor": ("GET", f"/notifications?cursor={NUL_ID}"),
    "blocks cursor": ("GET", f"/me/blocks?cursor={NUL_ID}"),
    "reports cursor": ("GET", f"/admin/reports?cursor={ESC_ID}"),
}


@pytest.mark.parametrize(("method", "url"), URLS.values(), ids=URLS.keys())
async def test_query_parameters_and_ids_in_paths_refuse_them_too(ctx: Ctx, method: str, url: str) -> None:
    assert_error(await ctx.client.request(method, url, headers=ctx.headers), 422, "invalid_input")


async def test_notification_ids_are_ids(ctx: Ctx) -> None:
    marked = await ctx.client.post("/notifications/read", json={"ids": ["a\x00b"]}, headers=ctx.headers)
    assert_error(marked, 422, "invalid_input")
