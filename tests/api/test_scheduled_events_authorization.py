"""Who may call each events, calendar and notifications route, over real HTTP: every route × every kind of caller,
for an open and a closed event. Each cell runs on a fresh event, so an allowed call cannot change what the next
cell sees; each asserts the exact status and error code.

Callers: ``anonymous``; ``outsider`` (a member with no tie to the event); ``creator``; ``cohost``; ``listed`` (a
member who RSVPed, i.e. is on a closed event's list); ``admin``. The routes are the ones listed for these tests in
tests/api/test_authorization_matrix.py's NON_ROOM_ROUTES; ``test_every_route_has_a_row`` keeps the two in step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from salon.app import calendar, scheduled_events
from salon.app.fakes import FakeClock
from salon.app.services import Services
from salon.app.sessions import Actor, create_session
from salon.app.settings import Settings
from salon.domain.rooms import RoomType
from salon.store.database import Database
from salon.store.migrate import upgrade
from tests.support.api import app_for
from tests.support.scheduled_events import actor, schedule, with_event_routes
from tests.support.services import make_services

CALLERS = ("anonymous", "outsider", "creator", "cohost", "listed", "admin")
Expect = tuple[int, str | None]
OK: Expect = (200, None)
CREATED: Expect = (201, None)
UNAUTH: Expect = (401, "not_authenticated")
FORBID: Expect = (403, "not_allowed")
HIDDEN: Expect = (404, "not_found")


def cells(default: Expect, **overrides: Expect) -> dict[str, Expect]:
    out = {c: default for c in CALLERS}
    out["anonymous"] = UNAUTH
    out.update(overrides)
    return out


HOSTS_ONLY = cells(FORBID, creator=OK, cohost=OK)


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # "{event}" is a fresh event's id
    body: dict[str, Any] | None
    open_event: dict[str, Expect]
    closed_event: dict[str, Expect] | None = None  # None: the same as for an open event


def closed(open_cells: dict[str, Expect]) -> dict[str, Expect]:
    """A closed event does not exist for an outsider."""
    return {**open_cells, "outsider": HIDDEN}


OPS: dict[str, Op] = {
    "create": Op("POST", "/events", {"title": "Mine", "starts_at": "2026-02-01T19:00:00+01:00"}, cells(CREATED)),
    "list": Op("GET", "/events", None, cells(OK)),
    "get": Op("GET", "/events/{event}", None, cells(OK), closed(cells(OK))),
    "ics": Op("GET", "/events/{event}.ics", None, cells(OK), closed(cells(OK))),
    "edit": Op("PATCH", "/events/{event}", {"title": "Renamed"}, HOSTS_ONLY, closed(HOSTS_ONLY)),
    "edit_hosts": Op(
        "PATCH", "/events/{event}", {"hosts": []}, cells(FORBID, creator=OK), closed(cells(FORBID, creator=OK))
    ),
    "cancel": Op(
        "POST",
        "/events/{event}/cancel",
        None,
        cells(FORBID, creator=OK, cohost=OK, admin=OK),
        closed(cells(FORBID, creator=OK, cohost=OK, admin=OK)),
    ),
    "rsvp": Op("PUT", "/events/{event}/rsvp", None, cells(OK), closed(cells(OK))),
    "unrsvp": Op("DELETE", "/events/{event}/rsvp", None, cells(OK), closed(cells(OK))),
    "invite": Op("POST", "/events/{event}/invite", {"user_id": "{outsider}"}, HOSTS_ONLY, closed(HOSTS_ONLY)),
    "start": Op("POST", "/events/{event}/start", None, HOSTS_ONLY, closed(HOSTS_ONLY)),
    "feed_status": Op("GET", "/me/calendar-feed", None, cells(OK)),
    "feed_create": Op("POST", "/me/calendar-feed", None, cells(CREATED)),
    "feed_revoke": Op("DELETE", "/me/calendar-feed", None, cells(OK)),
    "feed": Op("GET", "/calendar/{token}.ics", None, {c: OK for c in CALLERS}),  # the token is the credential
    "notifications": Op("GET", "/notifications", None, cells(OK)),
    "mark_read": Op("POST", "/notifications/read", {"all": True}, cells(OK)),
}

ROUTES = {(op.method, "/api/v1" + op.path.replace("{event}", "{event_id}")) for op in OPS.values()}


def test_every_route_has_a_row() -> None:
    app = with_event_routes(FastAPI())
    served = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item if method != "head"
    }
    assert served == ROUTES


async def _token(services: Services, user_id: str) -> str:
    async with services.db.transaction() as conn:
        return (await create_session(services, conn, user_id, "bearer")).token


@pytest.fixture
async def services(tmp_path: Path, settings: Settings, clock: FakeClock) -> AsyncIterator[Services]:
    """SQLite only, like the room matrix: the rules do not depend on the engine (tests/integration covers both)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'events-matrix.db'}")
    await upgrade(db)
    yield make_services(settings, db, clock=clock)
    await db.dispose()


@pytest.fixture
async def cast(services: Services) -> dict[str, tuple[Actor, str]]:
    people = {}
    for name in CALLERS[1:]:
        who = await actor(services, name, admin=name == "admin")
        people[name] = (who, await _token(services, who.user_id))
    return people


@pytest.mark.parametrize("room_type", [RoomType.OPEN, RoomType.CLOSED])
@pytest.mark.parametrize("op_name", sorted(OPS))
async def test_authorization(
    op_name: str, room_type: RoomType, services: Services, cast: dict[str, tuple[Actor, str]]
) -> None:
    op = OPS[op_name]
    expect = op.open_event if room_type is RoomType.OPEN or op.closed_event is None else op.closed_event
    app = with_event_routes(app_for(services.settings, services))
    creator, cohost, listed = cast["creator"][0], cast["cohost"][0], cast["listed"][0]
    failures = []
    for caller in CALLERS:
        event = (await schedule(services, creator, in_minutes=5, room_type=room_type, cohosts=[cohost.user_id])).event
        await scheduled_events.invite_to_event(services, creator, event.id, listed.user_id)
        feed_owner = cast["outsider" if caller == "anonymous" else caller][0]
        token = (await calendar.create_feed(services, feed_owner)).token
        headers = {} if caller == "anonymous" else {"Authorization": f"Bearer {cast[caller][1]}"}
        path = "/api/v1" + op.path.format(event=event.id, token=token)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            body = None if op.body is None else {k: _fill(v, cast) for k, v in op.body.items()}
            response = await client.request(op.method, path, json=body, headers=headers)
        got = (response.status_code, response.json().get("code") if response.status_code >= 400 else None)
        if got != expect[caller]:
            failures.append(f"{caller}: expected {expect[caller]}, got {response.status_code} {response.text[:200]}")
    assert failures == []


def _fill(value: object, people: dict[str, tuple[Actor, str]]) -> object:
    return people["outsider"][0].user_id if value == "{outsider}" else value
