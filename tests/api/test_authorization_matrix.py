"""The authorization matrix: every room operation × every kind of caller, over the real HTTP routes.

The table below is checked against the app's own route table: a route that is not listed here fails
``test_every_route_is_in_the_matrix``, so a new operation cannot ship without its row. Each cell runs on a fresh
room (so an allowed operation cannot change what the next cell sees) and asserts the exact status and error code.

The rules do not depend on the database engine, so the matrix runs on SQLite only (the rules' persistence is
covered on both engines in tests/integration).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from salon.adapters.db.database import Database
from salon.adapters.db.migrate import upgrade
from salon.app import stage
from salon.app.fakes import FakeClock, FakeMedia, RecordingBus
from salon.app.ratelimit import RateLimits
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.app.system import RandomIds
from salon.domain.rooms import RoomType
from salon.web.app import create_app
from tests.support.people import add_member

ROLES = (
    "anonymous",
    "outsider",
    "listener",
    "hand_raised",
    "speaker",
    "moderator",
    "removed",
    "other_moderator",
    "admin",
)

OK = (200, None)
CREATED = (201, None)
UNAUTH = (401, "not_authenticated")
NOT_IN = (409, "not_in_room")
FORBID = (403, "not_allowed")
CONFLICT = (409, "conflict")
REMOVED = (403, "removed_from_room")


def row(**cells: tuple[int, str | None]) -> dict[str, tuple[int, str | None]]:
    """Defaults: anonymous → 401; outsiders (not in the room) → not_in_room; people in the room → not_allowed."""
    base = {
        "anonymous": UNAUTH,
        "outsider": NOT_IN,
        "removed": NOT_IN,
        "other_moderator": NOT_IN,
        "admin": NOT_IN,
        "listener": FORBID,
        "hand_raised": FORBID,
        "speaker": FORBID,
        "moderator": FORBID,
    }
    base.update(cells)
    assert set(base) == set(ROLES)
    return base


EVERY_MEMBER = {r: OK for r in ROLES if r != "anonymous"}
IN_ROOM_OK = {r: OK for r in ("listener", "hand_raised", "speaker", "moderator")}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    body: dict[str, Any] | None
    expect: dict[str, tuple[int, str | None]]


# Targets: "{spk}" is the speaker, "{lis}" the listener, "{out}" the outsider.
ROOM_OPS: dict[str, Op] = {
    "snapshot": Op("GET", "/rooms/{room}", None, row(**EVERY_MEMBER)),
    "events": Op("GET", "/rooms/{room}/events?after=0", None, row(**EVERY_MEMBER)),
    "join": Op("POST", "/rooms/{room}/join", None, row(**{**EVERY_MEMBER, "removed": REMOVED})),
    "leave": Op("POST", "/rooms/{room}/leave", None, row(**IN_ROOM_OK)),
    "raise_hand": Op(
        "POST", "/rooms/{room}/hand/raise", None, row(listener=OK, hand_raised=OK, speaker=CONFLICT, moderator=CONFLICT)
    ),
    "lower_hand": Op("POST", "/rooms/{room}/hand/lower", None, row(**IN_ROOM_OK)),
    "hands": Op("POST", "/rooms/{room}/hands", {"enabled": False}, row(moderator=OK)),
    "invite_up": Op("POST", "/rooms/{room}/invite-up", {"user_id": "{lis}"}, row(moderator=OK)),
    "accept": Op("POST", "/rooms/{room}/invite-up/accept", None, row(speaker=CONFLICT, moderator=CONFLICT)),
    "decline": Op("POST", "/rooms/{room}/invite-up/decline", None, row()),
    "mute": Op("POST", "/rooms/{room}/mute", {"user_id": "{spk}", "lock": True}, row(moderator=OK)),
    "unlock": Op("POST", "/rooms/{room}/unlock-mute", {"user_id": "{spk}"}, row(moderator=OK)),
    "self_mute": Op("POST", "/rooms/{room}/self-mute", {"muted": False}, row(speaker=OK, moderator=OK)),
    "move_down": Op("POST", "/rooms/{room}/move-to-audience", {"user_id": "{spk}"}, row(speaker=OK, moderator=OK)),
    "moderators": Op("POST", "/rooms/{room}/moderators", {"user_id": "{spk}", "make": True}, row(moderator=OK)),
    "remove": Op("POST", "/rooms/{room}/remove", {"user_id": "{lis}"}, row(moderator=OK)),
    "let_in": Op("POST", "/rooms/{room}/let-in", {"user_id": "{out}"}, row(moderator=OK)),
    "end": Op("POST", "/rooms/{room}/end", None, row(moderator=OK, admin=OK)),
    "create": Op("POST", "/rooms", {"title": "Another"}, {**{r: CREATED for r in ROLES}, "anonymous": UNAUTH}),
    "list": Op("GET", "/rooms", None, {**{r: OK for r in ROLES}, "anonymous": UNAUTH}),
}

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
    ("POST", "/api/v1/admin/users/{user_id}/invites"),
    ("POST", "/api/v1/admin/users/{user_id}/disable"),
    ("POST", "/api/v1/admin/users/{user_id}/enable"),
    ("POST", "/api/v1/waitlist"),
    ("GET", "/api/v1/waitlist"),
    ("POST", "/api/v1/waitlist/{entry_id}/nominate"),
}


def _route_key(op: Op) -> tuple[str, str]:
    path = op.path.split("?")[0].replace("{room}", "{room_id}")
    return op.method, "/api/v1" + path


@pytest.fixture
async def matrix_services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(data_dir=tmp_path / "data", dev=True, secret_key="x" * 40)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'matrix.db'}")
    await upgrade(db)
    yield Services(
        settings, db, FakeClock(), RandomIds(), RecordingBus(), FakeMedia(), RateLimits(settings), settings.secret_key
    )
    await db.dispose()


def test_every_route_is_in_the_matrix() -> None:
    # The OpenAPI document is the public route table (FastAPI nests included routers, so app.routes is not flat).
    # Routes hidden from it would escape this check: none are, and none should be.
    app = create_app(Settings(dev=True, secret_key="x" * 40))
    routes = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item if method != "head"
    }
    covered = {_route_key(op) for op in ROOM_OPS.values()} | NON_ROOM_ROUTES
    assert routes - covered == set(), "add these routes to the authorization matrix"
    assert covered - routes == set(), "the matrix lists routes that no longer exist"


async def _scene(services: Services, n: int) -> tuple[dict[str, str], dict[str, str]]:
    """A live room with one person of each kind; returns (user ids by role, ids used in bodies and paths)."""
    ids = {role: await add_member(services, f"{role[:10]}{n}", admin=role == "admin") for role in ROLES[1:]}
    mod, spk = ids["moderator"], ids["speaker"]
    room = (await create_room(services, mod, NewRoom("Matrix", "", [], RoomType.OPEN)))["room"]["id"]
    for who in ("speaker", "listener", "hand_raised", "removed"):
        await stage.join(services, ids[who], room)
    await stage.invite_up(services, mod, room, spk)
    await stage.accept_stage_invite(services, spk, room)
    await stage.raise_hand(services, ids["hand_raised"], room)
    await stage.remove(services, mod, room, ids["removed"])
    await create_room(services, ids["other_moderator"], NewRoom("Elsewhere", "", [], RoomType.OPEN))
    return ids, {"room": room, "spk": spk, "lis": ids["listener"], "out": ids["outsider"]}


async def _token(services: Services, user_id: str) -> str:
    async with services.db.transaction() as conn:
        return (await create_session(services, conn, user_id, "bearer")).token


@pytest.mark.parametrize("op_name", sorted(ROOM_OPS))
async def test_authorization_matrix(op_name: str, matrix_services: Services) -> None:
    op = ROOM_OPS[op_name]
    services = matrix_services
    app = create_app(services.settings, services)
    app.state.services = services
    failures = []
    for n, role in enumerate(ROLES):
        ids, names = await _scene(services, n)
        headers = {} if role == "anonymous" else {"Authorization": f"Bearer {await _token(services, ids[role])}"}
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
