"""The authorization matrix: every room operation × every kind of caller, over the real HTTP routes.

The table below is checked against the app's own route table: a route that is not listed here fails
``test_every_route_is_in_the_matrix``, so a new operation cannot ship without its row. Each cell runs on a fresh
room (so an allowed operation cannot change what the next cell sees) and asserts the exact status and error code.

The rules do not depend on the database engine, so the matrix runs on SQLite only (the rules' persistence is
covered on both engines in tests/integration).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from salon.store.migrate import upgrade
from salon.web.app import create_app
from tests.support.matrix import ADMIN_OPS, ROLES, ROOM_OPS, Op, scene, token
from tests.support.services import make_services

# Routes that are not about one room; their own tests (tests/api/test_accounts_api.py) cover who may call them.
# Listed here so that the coverage check below still notices any route nobody thought about.
NON_ROOM_ROUTES = {
    ("POST", "/api/v1/auth/signup"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/logout-all"),
    ("GET", "/api/v1/auth/session"),
    ("GET", "/api/v1/invites/check/{code}"),
    ("GET", "/api/v1/me"),
    ("PATCH", "/api/v1/me"),
    ("PUT", "/api/v1/me/avatar"),
    ("DELETE", "/api/v1/me/avatar"),
    ("GET", "/api/v1/avatars/{name}"),
    ("GET", "/api/v1/users/{user_id}"),
    ("GET", "/api/v1/users/by-username/{username}"),
    ("GET", "/api/v1/invites"),
    ("POST", "/api/v1/invites"),
    ("DELETE", "/api/v1/invites/{invite_id}"),
    ("POST", "/api/v1/waitlist"),
    ("GET", "/api/v1/waitlist"),
    ("POST", "/api/v1/waitlist/{entry_id}/nominate"),
    # the follow graph and blocks: tests/api/test_social_api.py (anonymous, disabled, CSRF, blocked, self)
    ("PUT", "/api/v1/users/{user_id}/follow"),
    ("DELETE", "/api/v1/users/{user_id}/follow"),
    ("GET", "/api/v1/users/{user_id}/followers"),
    ("GET", "/api/v1/users/{user_id}/following"),
    ("PUT", "/api/v1/users/{user_id}/block"),
    ("DELETE", "/api/v1/users/{user_id}/block"),
    ("GET", "/api/v1/me/blocks"),
    # getting started: tests/api/test_onboarding_api.py (anonymous, disabled, CSRF, each member their own)
    ("GET", "/api/v1/me/topics"),
    ("PUT", "/api/v1/me/topics"),
    ("GET", "/api/v1/me/suggestions"),
    ("GET", "/api/v1/hallway"),  # tests/api/test_hallway_api.py
    ("POST", "/api/v1/reports"),  # tests/api/test_moderation_api.py
    ("GET", "/api/v1/search"),  # tests/api/test_hallway_api.py
    # scheduled events, calendar feeds, notifications: every route × caller in
    # tests/api/test_scheduled_events_authorization.py
    ("POST", "/api/v1/events"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/events/{event_id}"),
    ("GET", "/api/v1/events/{event_id}.ics"),
    ("PATCH", "/api/v1/events/{event_id}"),
    ("POST", "/api/v1/events/{event_id}/cancel"),
    ("PUT", "/api/v1/events/{event_id}/rsvp"),
    ("DELETE", "/api/v1/events/{event_id}/rsvp"),
    ("POST", "/api/v1/events/{event_id}/invite"),
    ("POST", "/api/v1/events/{event_id}/start"),
    ("GET", "/api/v1/me/calendar-feed"),
    ("POST", "/api/v1/me/calendar-feed"),
    ("DELETE", "/api/v1/me/calendar-feed"),
    ("GET", "/api/v1/calendar/{token}.ics"),
    ("GET", "/api/v1/notifications"),
    ("POST", "/api/v1/notifications/read"),
    # notification settings: every caller in tests/api/test_notification_prefs_api.py (test_who_may_call)
    ("GET", "/api/v1/me/notification-settings"),
    ("PUT", "/api/v1/me/notification-settings"),
}


def _route_key(op: Op) -> tuple[str, str]:
    path = op.path.split("?")[0].replace("{room}", "{room_id}")
    for name, param in (("{user}", "{user_id}"), ("{report}", "{report_id}"), ("{entry}", "{entry_id}")):
        path = path.replace(name, param)
    return op.method, "/api/v1" + path


# The admin area: every route × caller in tests/api/test_admin_authorization.py (ADMIN_OPS).
ADMIN_ROUTES = {_route_key(op) for op in ADMIN_OPS.values()}


@pytest.fixture
async def matrix_services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(data_dir=tmp_path / "data", dev=True, secret_key="x" * 40)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'matrix.db'}")
    await upgrade(db)
    yield make_services(settings, db)
    await db.dispose()


def test_every_route_is_in_the_matrix() -> None:
    # The OpenAPI document is the public route table (FastAPI nests included routers, so app.routes is not flat).
    # Only the web app's HTML shell and manifest (web/pages.py) are hidden from it.
    app = create_app(Settings(dev=True, secret_key="x" * 40))
    routes = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item if method != "head"
    }
    covered = {_route_key(op) for op in ROOM_OPS.values()} | NON_ROOM_ROUTES | ADMIN_ROUTES
    assert routes - covered == set(), "add these routes to the authorization matrix"
    assert covered - routes == set(), "the matrix lists routes that no longer exist"


@pytest.mark.parametrize("op_name", sorted(ROOM_OPS))
async def test_authorization_matrix(op_name: str, matrix_services: Services) -> None:
    op = ROOM_OPS[op_name]
    services = matrix_services
    app = create_app(services.settings, services)
    app.state.services = services
    failures = []
    for n, role in enumerate(ROLES):
        ids, names = await scene(services, n)
        headers = {} if role == "anonymous" else {"Authorization": f"Bearer {await token(services, ids[role])}"}
        path = op.path.format(**names)
        body = (
            None if op.body is None else {k: v.format(**names) if isinstance(v, str) else v for k, v in op.body.items()}
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            response = await client.request(op.method, "/api/v1" + path, json=body, headers=headers)
        status, code = op.expect[role]
        got_code = response.json().get("code") if response.status_code >= 400 else None
        if (response.status_code, got_code) != (status, code):
            failures.append(f"{role}: expected {status} {code}, got {response.status_code} {response.text[:200]}")
    assert failures == []
