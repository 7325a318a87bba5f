"""The admin area's rule that needs the database to hold, on every engine: the instance keeps one enabled admin
even when two admins step each other down at the same moment (each request authenticated before the other
committed). On PostgreSQL the enabled admins' rows are locked (``FOR UPDATE``) before counting; on SQLite writers
queue on ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from salon.app import admin
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.store.tables import users
from tests.support.accounts import member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers

ROUNDS = 5


async def test_two_admins_stepping_each_other_down_at_once_leave_one(services: Services) -> None:
    for n in range(ROUNDS):
        async with services.db.transaction() as conn:  # each round starts with no other admin
            await conn.execute(users.update().values(is_admin=False))
        ada = await member(services, f"ada{n}", admin=True)
        bea = await member(services, f"bea{n}", admin=True)
        results = await asyncio.gather(
            admin.set_admin(services, ada, bea.user_id, False),
            admin.set_admin(services, bea, ada.user_id, False),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, DomainError)]
        assert [r.code for r in refused] == [ErrorCode.LAST_ADMIN], results
        async with services.db.read() as conn:
            admins = (await conn.execute(select(func.count()).where(users.c.is_admin.is_(True)))).scalar_one()
        assert admins == 1
