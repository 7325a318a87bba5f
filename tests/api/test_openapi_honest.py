"""The OpenAPI document promises what the server accepts, no more, no less (both engines): every bounded string of a
request, walked from the document, is accepted at its ``maxLength`` and refused one past it; the limits the domain
enforces are the ones shown; a room's capacity shows the settings' maximum; booleans and integers are strict; time
zones are the ones the server knows; and the security schemes say how each operation authenticates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from salon.app.admin import SEARCH_MAX
from salon.app.invites import CODE_MAX, create_operator_invite
from salon.app.services import Services
from salon.app.settings import Settings
from salon.app.waitlist import CONTACT_MAX
from salon.domain.accounts import BIO_MAX, DISPLAY_NAME_MAX, PASSWORD_MAX
from salon.domain.admin import NOTE_MAX
from salon.domain.reports import DETAILS_MAX
from salon.domain.rooms import DESCRIPTION_MAX, TITLE_MAX, TOPIC_MAX
from salon.domain.scheduled_events import timezone_names
from salon.web.app import create_app
from tests.support.accounts import PASSWORD
from tests.support.api import API, BASE, assert_error, bearer, signup

STARTS = "2026-01-05T19:00:00+01:00"  # the fake clock starts at 2026-01-01 12:00 UTC


def spec_of(settings: Settings) -> dict[str, Any]:
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def _max_length(schema: dict[str, Any]) -> int | None:
    for branch in schema.get("anyOf", [schema]):
        for s in (branch, branch.get("items", {})):
            if s.get("type") == "string" and "maxLength" in s:
                length: int = s["maxLength"]
                return length
    return None


def bounded_strings(spec: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Every string a request may carry with a declared ``maxLength``: ``(body schema, field)`` or
    ``(operation, query parameter)``."""
    found: dict[tuple[str, str], int] = {}
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in ref:
                name = ref["$ref"].rsplit("/", 1)[-1]
                for field, schema in schemas[name]["properties"].items():
                    if (length := _max_length(schema)) is not None:
                        found[(name, field)] = length
            for param in op.get("parameters", []):
                if param["in"] == "query" and (length := _max_length(param["schema"])) is not None:
                    found[(f"{method.upper()} {path.removeprefix(API)}", param["name"])] = length
    return found


# The limits the domain (or the use case) enforces, each from its one constant.
DOMAIN_LIMITS = {
    ("SignupIn", "invite_code"): CODE_MAX,
    ("SignupIn", "username"): 20,  # USERNAME_RE: 3 to 20 characters (also the schema's pattern)
    ("SignupIn", "display_name"): DISPLAY_NAME_MAX,
    ("SignupIn", "password"): PASSWORD_MAX,
    ("ProfileIn", "display_name"): DISPLAY_NAME_MAX,
    ("ProfileIn", "bio"): BIO_MAX,
    ("WaitlistIn", "name"): DISPLAY_NAME_MAX,
    ("WaitlistIn", "contact"): CONTACT_MAX,
    ("CreateRoom", "title"): TITLE_MAX,
    ("CreateRoom", "description"): DESCRIPTION_MAX,
    ("CreateRoom", "topics"): TOPIC_MAX,
    ("CreateEvent", "title"): TITLE_MAX,
    ("CreateEvent", "description"): DESCRIPTION_MAX,
    ("CreateEvent", "topics"): TOPIC_MAX,
    ("EditEvent", "title"): TITLE_MAX,
    ("EditEvent", "description"): DESCRIPTION_MAX,
    ("EditEvent", "topics"): TOPIC_MAX,
    ("ReportIn", "details"): DETAILS_MAX,
    ("GET /search", "q"): 100,  # app/search.MAX_QUERY
    ("ResolveIn", "note"): NOTE_MAX,
    ("GET /admin/users", "q"): SEARCH_MAX,
}


def test_the_limits_the_domain_enforces_are_the_ones_the_document_shows(settings: Settings) -> None:
    found = bounded_strings(spec_of(settings))
    assert {key: found.get(key) for key in DOMAIN_LIMITS} == DOMAIN_LIMITS


# --- every bounded string, against the running server ---------------------------------------------------------


@dataclass
class Ctx:
    client: httpx.AsyncClient
    services: Services
    headers: dict[str, str]
    room_id: str
    event_id: str

    async def code(self) -> str:
        return (await create_operator_invite(self.services)).code


Body = Callable[[Ctx, str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Probe:
    """How to send one bounded string: a body built around it, or a query parameter; ``whole``: a value of that
    length is accepted outright (2xx), not only let through by the edge."""

    method: str
    path: str
    body: Body | None = None
    whole: bool = True
    anonymous: bool = False


def body(make: Callable[[Ctx, str], dict[str, Any]]) -> Body:
    async def build(ctx: Ctx, value: str) -> dict[str, Any]:
        return make(ctx, value)

    return build


async def _signup(ctx: Ctx, **fields: str) -> dict[str, Any]:
    base = {"invite_code": await ctx.code(), "username": "bob", "display_name": "Bob", "password": PASSWORD}
    return {**base, **fields}


def signup_with(field: str) -> Body:
    async def build(ctx: Ctx, value: str) -> dict[str, Any]:
        return await _signup(ctx, **{field: value})

    return build


def value_of(key: tuple[str, str], length: int) -> str:
    if key[1] == "username":
        return "u" * length
    if key[1] == "password":
        return "pw-" + "x" * (length - 3)
    if key[1] == "contact":
        return "w" * (length - 12) + "@example.org"
    return "x" * length


ROOM = "/rooms/{room}"
PROBES: dict[tuple[str, str], Probe] = {
    ("SignupIn", "invite_code"): Probe("POST", "/auth/signup", signup_with("invite_code"), whole=False, anonymous=True),
    ("SignupIn", "username"): Probe("POST", "/auth/signup", signup_with("username"), anonymous=True),
    ("SignupIn", "display_name"): Probe("POST", "/auth/signup", signup_with("display_name"), anonymous=True),
    ("SignupIn", "password"): Probe("POST", "/auth/signup", signup_with("password"), anonymous=True),
    ("LoginIn", "username"): Probe(
        "POST", "/auth/login", body(lambda c, v: {"username": v, "password": PASSWORD}), whole=False, anonymous=True
    ),
    ("LoginIn", "password"): Probe(
        "POST", "/auth/login", body(lambda c, v: {"username": "ada", "password": v}), whole=False, anonymous=True
    ),
    ("ProfileIn", "display_name"): Probe("PATCH", "/me", body(lambda c, v: {"display_name": v})),
    ("ProfileIn", "bio"): Probe("PATCH", "/me", body(lambda c, v: {"bio": v})),
    ("WaitlistIn", "name"): Probe(
        "POST", "/waitlist", body(lambda c, v: {"name": v, "contact": "w@x.org"}), anonymous=True
    ),
    ("WaitlistIn", "contact"): Probe(
        "POST", "/waitlist", body(lambda c, v: {"name": "W", "contact": v}), anonymous=True
    ),
    ("CreateRoom", "title"): Probe("POST", "/rooms", body(lambda c, v: {"title": v})),
    ("CreateRoom", "description"): Probe("POST", "/rooms", body(lambda c, v: {"title": "T", "description": v})),
    ("CreateRoom", "topics"): Probe("POST", "/rooms", body(lambda c, v: {"title": "T", "topics": [v]})),
    ("Target", "user_id"): Probe("POST", f"{ROOM}/invite-up", body(lambda c, v: {"user_id": v}), whole=False),
    ("MuteTarget", "user_id"): Probe("POST", f"{ROOM}/mute", body(lambda c, v: {"user_id": v}), whole=False),
    ("InterpreterTarget", "user_id"): Probe(
        "POST", f"{ROOM}/interpreters", body(lambda c, v: {"language": "ru", "user_id": v}), whole=False
    ),
    ("ModeratorChange", "user_id"): Probe(
        "POST", f"{ROOM}/moderators", body(lambda c, v: {"user_id": v, "make": True}), whole=False
    ),
    ("ReportIn", "user_id"): Probe(
        "POST", "/reports", body(lambda c, v: {"user_id": v, "reason": "spam"}), whole=False
    ),
    ("ReportIn", "room_id"): Probe(
        "POST", "/reports", body(lambda c, v: {"room_id": v, "reason": "spam"}), whole=False
    ),
    ("ReportIn", "details"): Probe(
        "POST", "/reports", body(lambda c, v: {"room_id": c.room_id, "reason": "spam", "details": v})
    ),
    ("CreateEvent", "title"): Probe("POST", "/events", body(lambda c, v: {"title": v, "starts_at": STARTS})),
    ("CreateEvent", "description"): Probe(
        "POST", "/events", body(lambda c, v: {"title": "T", "description": v, "starts_at": STARTS})
    ),
    ("CreateEvent", "topics"): Probe(
        "POST", "/events", body(lambda c, v: {"title": "T", "topics": [v], "starts_at": STARTS})
    ),
    ("CreateEvent", "hosts"): Probe(
        "POST", "/events", body(lambda c, v: {"title": "T", "hosts": [v], "starts_at": STARTS}), whole=False
    ),
    ("EditEvent", "title"): Probe("PATCH", "/events/{event}", body(lambda c, v: {"title": v})),
    ("EditEvent", "description"): Probe("PATCH", "/events/{event}", body(lambda c, v: {"description": v})),
    ("EditEvent", "topics"): Probe("PATCH", "/events/{event}", body(lambda c, v: {"topics": [v]})),
    ("EditEvent", "hosts"): Probe("PATCH", "/events/{event}", body(lambda c, v: {"hosts": [v]}), whole=False),
    ("Guest", "user_id"): Probe("POST", "/events/{event}/invite", body(lambda c, v: {"user_id": v}), whole=False),
    ("MarkRead", "ids"): Probe("POST", "/notifications/read", body(lambda c, v: {"ids": [v]})),
    ("GET /search", "q"): Probe("GET", "/search?q={value}"),
    ("GET /admin/users", "q"): Probe("GET", "/admin/users?q={value}"),
    # No such report: the note's length is judged at the edge before the lookup.
    ("ResolveIn", "note"): Probe("POST", "/admin/reports/nothing/resolve", body(lambda c, v: {"note": v}), whole=False),
    # Cursors are opaque: one we did not hand out is refused whatever its length, but not by the edge's bound.
    **{
        (f"GET {path}", "cursor"): Probe("GET", f"{path}?cursor={{value}}", whole=False)
        for path in (
            "/users/{user_id}/followers",
            "/users/{user_id}/following",
            "/me/blocks",
            "/admin/reports",
            "/admin/users",
            "/admin/log",
            "/events",
            "/notifications",
            "/rooms/{room_id}/moderation-log",
        )
    },
}


@pytest.fixture
async def ctx(app: FastAPI, services: Services) -> AsyncIterator[Ctx]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE + API) as client:
        ada = await signup(client, services, "ada", mode="bearer", admin=True)
        headers = bearer(ada["token"])
        room = (await client.post("/rooms", json={"title": "Jazz"}, headers=headers)).json()["room"]["id"]
        event = (await client.post("/events", json={"title": "Later", "starts_at": STARTS}, headers=headers)).json()
        yield Ctx(client, services, headers, room, event["id"])


async def send(ctx: Ctx, probe: Probe, value: str) -> httpx.Response:
    me = (await ctx.client.get("/me", headers=ctx.headers)).json()["id"]
    path = probe.path.format(room=ctx.room_id, event=ctx.event_id, user_id=me, room_id=ctx.room_id, value=value)
    json = None if probe.body is None else await probe.body(ctx, value)
    headers = {} if probe.anonymous else ctx.headers
    return await ctx.client.request(probe.method, path, json=json, headers=headers)


def refused_for_length(response: httpx.Response, field: str) -> bool:
    """Whether the edge refused this field's value as too long (a validation error at the field)."""
    if response.status_code != 422:
        return False
    errors = response.json()["data"].get("errors", [])
    return any(field in e["loc"] and e["type"] == "string_too_long" for e in errors)


def test_every_bounded_string_has_a_probe(settings: Settings) -> None:
    assert set(bounded_strings(spec_of(settings))) == set(PROBES)


@pytest.mark.parametrize("key", PROBES, ids=[" ".join(k) for k in PROBES])
async def test_each_bounded_string_is_accepted_at_its_max_length_and_refused_past_it(
    ctx: Ctx, settings: Settings, key: tuple[str, str]
) -> None:
    probe, length = PROBES[key], bounded_strings(spec_of(settings))[key]
    field = key[1]
    too_long = await send(ctx, probe, value_of(key, length + 1))
    assert refused_for_length(too_long, field), too_long.text
    at_max = await send(ctx, probe, value_of(key, length))
    assert at_max.status_code < 500, at_max.text
    assert not refused_for_length(at_max, field), at_max.text
    if probe.whole:
        assert at_max.status_code < 300, at_max.text


# --- numbers, booleans and zones ---------------------------------------------------------------------------------


def test_a_rooms_capacity_shows_the_settings_maximum(tmp_path: Path) -> None:
    for most in (5000, 300):
        settings = Settings(data_dir=tmp_path, dev=True, secret_key="x" * 40, room_capacity=most)
        capacity = spec_of(settings)["components"]["schemas"]["CreateRoom"]["properties"]["capacity"]
        assert capacity["anyOf"][0] == {"type": "integer", "minimum": 2, "maximum": most}


async def test_a_capacity_up_to_the_maximum_is_accepted_and_past_it_refused(ctx: Ctx, settings: Settings) -> None:
    most = settings.room_capacity
    room = await ctx.client.post("/rooms", json={"title": "Big", "capacity": most}, headers=ctx.headers)
    assert room.status_code == 201, room.text
    assert room.json()["room"]["capacity"] == most
    too_big = await ctx.client.post("/rooms", json={"title": "Bigger", "capacity": most + 1}, headers=ctx.headers)
    assert assert_error(too_big, 422, "invalid_input")["data"]["field"] == "capacity"


@pytest.mark.parametrize("sent", [0, 1, "true", "yes", "1", None])
async def test_a_boolean_is_true_or_false_and_nothing_else(ctx: Ctx, sent: object) -> None:
    for path, field in (("hands", "enabled"), ("self-mute", "muted")):
        response = await ctx.client.post(f"/rooms/{ctx.room_id}/{path}", json={field: sent}, headers=ctx.headers)
        assert_error(response, 422, "invalid_input")
    mark = await ctx.client.post("/notifications/read", json={"all": sent}, headers=ctx.headers)
    assert_error(mark, 422, "invalid_input")
    mute = await ctx.client.post(f"/rooms/{ctx.room_id}/mute", json={"user_id": "x", "lock": sent}, headers=ctx.headers)
    assert_error(mute, 422, "invalid_input")
    make = await ctx.client.post(
        f"/rooms/{ctx.room_id}/moderators", json={"user_id": "x", "make": sent}, headers=ctx.headers
    )
    assert_error(make, 422, "invalid_input")


async def test_booleans_are_still_booleans(ctx: Ctx) -> None:
    off = await ctx.client.post(f"/rooms/{ctx.room_id}/hands", json={"enabled": False}, headers=ctx.headers)
    assert off.status_code == 200, off.text
    room = (await ctx.client.get(f"/rooms/{ctx.room_id}", headers=ctx.headers)).json()
    assert room["room"]["hands_enabled"] is False


@pytest.mark.parametrize("sent", ["300", 300.5, True])
async def test_an_integer_is_an_integer(ctx: Ctx, sent: object) -> None:
    room = await ctx.client.post("/rooms", json={"title": "T", "capacity": sent}, headers=ctx.headers)
    assert_error(room, 422, "invalid_input")
    me = (await ctx.client.get("/me", headers=ctx.headers)).json()["id"]
    grant = await ctx.client.post(f"/admin/users/{me}/invites", json={"count": sent}, headers=ctx.headers)
    assert_error(grant, 422, "invalid_input")


def test_time_zones_are_listed_once_as_the_server_knows_them(settings: Settings) -> None:
    spec = spec_of(settings)
    assert spec["components"]["schemas"]["TimeZoneName"]["enum"] == timezone_names()
    zone = {"$ref": "#/components/schemas/TimeZoneName"}
    assert spec["components"]["schemas"]["CreateEvent"]["properties"]["timezone"]["$ref"] == zone["$ref"]
    for path, operations in spec["paths"].items():
        for op in operations.values():
            for param in op.get("parameters", []):
                if param["name"] == "tz":
                    assert param["schema"]["anyOf"][0] == zone, path


@pytest.mark.parametrize("tz", ["Mars/Olympus", "europe/paris", "Europe/Paris\x00", "", "x" * 65])
async def test_a_zone_the_server_does_not_know_is_refused(ctx: Ctx, tz: str) -> None:
    for url in ("/events", "/hallway", f"/events/{ctx.event_id}"):
        body = assert_error(await ctx.client.get(url, params={"tz": tz}, headers=ctx.headers), 422, "invalid_input")
        assert body["data"]["field"] == "tz"
    made = await ctx.client.post(
        "/events", json={"title": "T", "starts_at": STARTS, "timezone": tz}, headers=ctx.headers
    )
    assert assert_error(made, 422, "invalid_input")["data"]["field"] == "timezone"


async def test_a_zone_the_server_knows_is_accepted(ctx: Ctx) -> None:
    shown = await ctx.client.get(f"/events/{ctx.event_id}", params={"tz": "Asia/Kolkata"}, headers=ctx.headers)
    assert shown.json()["shown_in"] == "Asia/Kolkata"
    made = await ctx.client.post(
        "/events",
        json={"title": "T", "starts_at": STARTS, "timezone": "America/Argentina/Buenos_Aires"},
        headers=ctx.headers,
    )
    assert made.json()["timezone"] == "America/Argentina/Buenos_Aires"


# --- security schemes --------------------------------------------------------------------------------------------

SESSION: list[dict[str, list[str]]] = [{"bearer": []}, {"session_cookie": []}]
SESSION_CSRF: list[dict[str, list[str]]] = [{"bearer": []}, {"session_cookie": [], "csrf_token": []}]


def test_the_security_schemes_are_described(settings: Settings) -> None:
    schemes = spec_of(settings)["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http"
    assert schemes["bearer"]["scheme"] == "bearer"
    assert {k: schemes["session_cookie"][k] for k in ("type", "in", "name")} == {
        "type": "apiKey",
        "in": "cookie",
        "name": "salon_session",
    }
    assert {k: schemes["csrf_token"][k] for k in ("type", "in", "name")} == {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
    }


async def test_each_operation_says_whether_it_needs_a_session_as_the_server_does(
    settings: Settings, services: Services, app: FastAPI
) -> None:
    """Every operation, called without credentials: it asks for a session exactly when the document says so."""
    spec = app.openapi()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as anonymous:
        for path, operations in spec["paths"].items():
            for method, op in operations.items():
                url = path.replace("{", "").replace("}", "")  # every path parameter gets its own name as value
                response = await anonymous.request(method.upper(), url)
                asks = response.status_code == 401 and response.json()["code"] == "not_authenticated"
                expected = (SESSION if method.upper() in {"GET", "HEAD"} else SESSION_CSRF) if asks else None
                assert op.get("security") == expected, (method, path, response.status_code)
