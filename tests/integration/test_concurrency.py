"""The two concurrency proofs, on every engine: the invite quota and single-use redemption are exact.

Each use case opens its own transaction on its own connection, so the requests really race: on SQLite they queue
on BEGIN IMMEDIATE (with a busy timeout), on PostgreSQL on the row lock of a conditional UPDATE.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import func, select

from salon.app import invites
from salon.app.accounts import sign_up_with_invite
from salon.app.ratelimit import RateLimits
from salon.app.services import Services
from salon.domain.errors import DomainError
from salon.store import repo_accounts, repo_invites
from salon.store.tables import invites as invites_table
from salon.store.tables import users
from tests.support.accounts import PASSWORD, member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


def count_decisions(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str) -> list[bool]:
    """Record what each call of a conditional-update repository function decided (proof that all of them raced)."""
    real: Callable[..., Awaitable[bool]] = getattr(module, name)
    decided: list[bool] = []

    async def spy(*args: Any, **kwargs: Any) -> bool:
        result = await real(*args, **kwargs)
        decided.append(result)
        return result

    monkeypatch.setattr(module, name, spy)
    return decided


def outcome(result: object) -> str:
    if isinstance(result, DomainError):
        return result.code.value
    if isinstance(result, BaseException):
        return f"unexpected {type(result).__name__}: {result}"
    return "ok"


async def test_fifty_simultaneous_invites_from_a_member_with_two(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A high limit, so that the quota (not the rate limit) is what stops them.
    services.limits = RateLimits(services.settings.model_copy(update={"invites_per_hour": 1000}))
    ada = await member(services, "ada")
    assert services.settings.invites_per_member == 2
    decided = count_decisions(monkeypatch, repo_accounts, "spend_invite")

    results = await asyncio.gather(*(invites.create_invite(services, ada) for _ in range(50)), return_exceptions=True)

    assert Counter(outcome(r) for r in results) == {"ok": 2, "no_invites_left": 48}
    assert Counter(decided) == {True: 2, False: 48}  # every request reached the conditional update
    async with services.db.read() as conn:
        made = (await conn.execute(select(func.count()).where(invites_table.c.created_by == ada.user_id))).scalar()
        left = (await conn.execute(select(users.c.invites_left).where(users.c.id == ada.user_id))).scalar()
    assert (made, left) == (2, 0)


async def test_twenty_simultaneous_redemptions_of_one_invite(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = await member(services, "root", admin=True)
    code = (await invites.create_invite(services, root)).code
    decided = count_decisions(monkeypatch, repo_invites, "claim_invite")

    results = await asyncio.gather(
        *(
            sign_up_with_invite(
                services, code=code, username=f"user{i}", display_name=f"User {i}", password=PASSWORD, kind="bearer"
            )
            for i in range(20)
        ),
        return_exceptions=True,
    )

    assert Counter(outcome(r) for r in results) == {"ok": 1, "invite_invalid": 19}
    assert decided.count(True) == 1
    assert len(decided) > 1  # several passed the early check and raced on the conditional update
    async with services.db.read() as conn:
        accounts = (await conn.execute(select(func.count()).select_from(users))).scalar()
        used_by = await conn.execute(select(invites_table.c.used_by).where(invites_table.c.created_by == root.user_id))
    winner = next(r for r in results if not isinstance(r, BaseException))
    assert accounts == 2  # root and the one winner
    assert used_by.scalar() == winner.user.id
