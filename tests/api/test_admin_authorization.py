"""The admin area's authorization matrix: every admin route × (anonymous, a member, a room's moderator, an admin),
over the real HTTP routes, asserting the exact status and error code. Whatever the browser shows, the server
refuses non-admins. ``test_authorization_matrix.test_every_route_is_in_the_matrix`` fails for any route missing
from ``ADMIN_OPS`` or the other tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from salon.app import moderation, waitlist
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.app.settings import Settings
from salon.domain.rooms import RoomType
from salon.store.database import Database
from salon.store.migrate import upgrade
from salon.web.app import create_app
from tests.support.matrix import ADMIN_OPS, ADMIN_ROLES, token
from tests.support.people import add_member
from tests.support.services import make_services


@pytest.fixture
async def admin_services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(data_dir=tmp_path / "data", dev=True, secret_key="x" * 40)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'matrix.db'}")
    await upgrade(db)
    yield make_services(settings, db)
    await db.dispose()


async def _fresh(services: Services, n: int) -> tuple[dict[str, str], dict[str, str]]:
    """Callers and targets for one cell: nothing an allowed call changes is seen by the next cell."""
    ids = {role: await add_member(services, f"{role[:9]}{n}", admin=role == "admin") for role in ADMIN_ROLES[1:]}
    user = await add_member(services, f"target{n}")
    reporter = Actor(ids["member"], f"member{n}", False, "")
    report = await moderation.report(services, reporter, user_id=user, reason="spam")
    await waitlist.join_waitlist(services, name=f"Wait {n}", contact=f"w{n}@example.org", client_ip=f"10.0.0.{n}")
    entry = (await waitlist.list_waitlist(services, reporter))[-1].id
    room = (await create_room(services, ids["moderator"], NewRoom("Matrix", "", [], RoomType.OPEN)))["room"]["id"]
    return ids, {"user": user, "report": report.id, "entry": entry, "room": room}


@pytest.mark.parametrize("op_name", sorted(ADMIN_OPS))
async def test_admin_matrix(op_name: str, admin_services: Services) -> None:
    services = admin_services
    op = ADMIN_OPS[op_name]
    app = create_app(services.settings, services)
    app.state.services = services
    failures = []
    for n, role in enumerate(ADMIN_ROLES):
        ids, names = await _fresh(services, n)
        headers = {} if role == "anonymous" else {"Authorization": f"Bearer {await token(services, ids[role])}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            response = await client.request(
                op.method, "/api/v1" + op.path.format(**names), json=op.body, headers=headers
            )
        status, code = op.expect[role]
        got_code = response.json().get("code") if response.status_code >= 400 else None
        if (response.status_code, got_code) != (status, code):
            failures.append(f"{role}: expected {status} {code}, got {response.status_code} {response.text[:200]}")
    assert failures == []
