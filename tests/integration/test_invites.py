"""Invite use cases against the real database: quota, links, expiry, revoke, grants, operator invites."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from salon.app import accounts, invites
from salon.app.fakes import FakeClock
from salon.app.ratelimit import RateLimits
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.store.tables import invites as invites_table
from tests.support.accounts import member, sign_up
from tests.support.accounts import sign_up_code as redeem

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def test_a_member_spends_their_quota(services: Services) -> None:
    ada = await member(services, "ada")
    first = await invites.create_invite(services, ada)
    second = await invites.create_invite(services, ada)
    assert (first.invites_left, second.invites_left) == (1, 0)
    assert first.link == f"{services.settings.public_url}/invite/{first.code}"
    assert first.expires_at == services.clock.now() + timedelta(days=services.settings.invite_ttl_days)
    assert len(first.code) >= 43
    assert first.code != second.code
    with pytest.raises(DomainError) as exc:
        await invites.create_invite(services, ada)
    assert exc.value.code is ErrorCode.NO_INVITES_LEFT
    assert (await invites.list_my_invites(services, ada)).invites_left == 0


async def test_only_the_code_hash_is_stored(services: Services) -> None:
    ada = await member(services, "ada")
    new = await invites.create_invite(services, ada)
    async with services.db.read() as conn:
        stored = (await conn.execute(select(invites_table.c.code_hash).where(invites_table.c.id == new.id))).scalar()
    assert stored == hashlib.sha256(new.code.encode()).hexdigest()


async def test_admins_spend_quota_and_can_grant_themselves_more(services: Services) -> None:
    root = await member(services, "root", admin=True)
    made = [await invites.create_invite(services, root) for _ in range(2)]
    assert [m.invites_left for m in made] == [1, 0]
    with pytest.raises(DomainError) as exc:
        await invites.create_invite(services, root)
    assert exc.value.code is ErrorCode.NO_INVITES_LEFT
    assert await invites.grant_invites(services, root, root.user_id, 3) == 3
    assert (await invites.create_invite(services, root)).invites_left == 2


async def test_invite_creation_is_rate_limited(services: Services) -> None:
    settings = services.settings.model_copy(update={"invites_per_hour": 2})
    services.limits = RateLimits(settings)
    root = await member(services, "root", admin=True)
    await invites.grant_invites(services, root, root.user_id, 5)
    await invites.create_invite(services, root)
    await invites.create_invite(services, root)
    with pytest.raises(DomainError) as exc:
        await invites.create_invite(services, root)
    assert exc.value.code is ErrorCode.RATE_LIMITED


async def test_the_new_member_is_linked_to_the_inviter(services: Services) -> None:
    ada = await member(services, "ada")
    new = await invites.create_invite(services, ada)
    assert await invites.check_invite(services, new.code)
    bob = await redeem(services, new.code, "bob")
    assert bob.user.invited_by is not None
    assert bob.user.invited_by.id == ada.user_id
    assert not await invites.check_invite(services, new.code)
    mine = await invites.list_my_invites(services, ada)
    assert [(v.id, v.status) for v in mine.invites] == [(new.id, "used")]
    assert mine.invites[0].used_by is not None
    assert mine.invites[0].used_by.username == "bob"
    assert mine.invites[0].used_at == services.clock.now()


async def test_invites_expire(services: Services, clock: FakeClock) -> None:
    ada = await member(services, "ada")
    new = await invites.create_invite(services, ada)
    clock.advance(timedelta(days=services.settings.invite_ttl_days).total_seconds() - 1)
    assert await invites.check_invite(services, new.code)
    clock.advance(1)
    assert not await invites.check_invite(services, new.code)
    with pytest.raises(DomainError) as exc:
        await redeem(services, new.code, "bob")
    assert exc.value.code is ErrorCode.INVITE_INVALID
    assert [v.status for v in (await invites.list_my_invites(services, ada)).invites] == ["expired"]
    # An expired invite can be revoked, which gives its slot back.
    assert await invites.revoke_invite(services, ada, new.id) == 2


@pytest.mark.parametrize("code", ["", "unknown", "z" * 101])
async def test_check_unknown_codes(services: Services, code: str) -> None:
    assert not await invites.check_invite(services, code)


async def test_revoke_gives_the_slot_back(services: Services) -> None:
    ada = await member(services, "ada")
    new = await invites.create_invite(services, ada)
    assert await invites.revoke_invite(services, ada, new.id) == 2
    assert not await invites.check_invite(services, new.code)
    with pytest.raises(DomainError) as exc:
        await redeem(services, new.code, "bob")
    assert exc.value.code is ErrorCode.INVITE_INVALID
    with pytest.raises(DomainError) as exc:
        await invites.revoke_invite(services, ada, new.id)
    assert exc.value.code is ErrorCode.CONFLICT
    assert [v.status for v in (await invites.list_my_invites(services, ada)).invites] == ["revoked"]


async def test_a_used_invite_cannot_be_revoked(services: Services) -> None:
    ada = await member(services, "ada")
    new = await invites.create_invite(services, ada)
    await redeem(services, new.code, "bob")
    with pytest.raises(DomainError) as exc:
        await invites.revoke_invite(services, ada, new.id)
    assert exc.value.code is ErrorCode.CONFLICT


async def test_others_cannot_see_or_revoke_my_invites_but_admins_can(services: Services) -> None:
    root = await member(services, "root", admin=True)
    ada = await member(services, "ada", invited_by=root)
    bob = await member(services, "bob", invited_by=root)
    new = await invites.create_invite(services, ada)
    with pytest.raises(DomainError) as exc:
        await invites.revoke_invite(services, bob, new.id)
    assert exc.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as exc:
        await invites.revoke_invite(services, bob, "no-such-invite")
    assert exc.value.code is ErrorCode.NOT_FOUND
    assert (await invites.list_my_invites(services, bob)).invites == []
    # An admin may revoke it; the slot returns to ada, not to the admin (who spent two inviting ada and bob).
    assert await invites.revoke_invite(services, root, new.id) == services.settings.invites_per_member - 2
    assert (await invites.list_my_invites(services, ada)).invites_left == 2


async def test_revoking_gives_the_slot_back_to_its_creator_and_an_operator_invite_returns_nothing(
    services: Services,
) -> None:
    root = await member(services, "root", admin=True)
    mine = await invites.create_invite(services, root)
    operator = await invites.create_operator_invite(services)
    assert await invites.revoke_invite(services, root, mine.id) == services.settings.invites_per_member
    assert await invites.revoke_invite(services, root, operator.id) == services.settings.invites_per_member


async def test_operator_invites(services: Services) -> None:
    plain = await invites.create_operator_invite(services)
    admin = await invites.create_operator_invite(services, grants_admin=True)
    assert plain.invites_left is None
    assert admin.invites_left is None
    assert not (await redeem(services, plain.code, "ada")).user.is_admin
    assert (await redeem(services, admin.code, "root")).user.is_admin


async def test_admins_grant_invites(services: Services) -> None:
    root = await member(services, "root", admin=True)
    ada = await member(services, "ada")
    assert await invites.grant_invites(services, root, ada.user_id, 3) == 5
    assert (await invites.list_my_invites(services, ada)).invites_left == 5
    for actor, target, count, code in [
        (ada, ada.user_id, 1, ErrorCode.NOT_ALLOWED),
        (root, "nobody", 1, ErrorCode.NOT_FOUND),
        (root, ada.user_id, 0, ErrorCode.INVALID_INPUT),
        (root, ada.user_id, invites.GRANT_MAX + 1, ErrorCode.INVALID_INPUT),
    ]:
        with pytest.raises(DomainError) as exc:
            await invites.grant_invites(services, actor, target, count)
        assert exc.value.code is code


async def test_list_is_newest_first(services: Services, clock: FakeClock) -> None:
    root = await member(services, "root", admin=True)
    await invites.grant_invites(services, root, root.user_id, 1)
    ids = []
    for _ in range(3):
        ids.append((await invites.create_invite(services, root)).id)
        clock.advance(60)
    assert [v.id for v in (await invites.list_my_invites(services, root)).invites] == ids[::-1]


async def test_a_signed_up_member_can_invite(services: Services) -> None:
    root = await member(services, "root", admin=True)
    ada = await sign_up(services, "ada", invited_by=root)
    assert ada.user.invites_left == services.settings.invites_per_member


async def test_a_disabled_members_open_invites_stop_working(services: Services) -> None:
    root = await member(services, "root", admin=True)
    ada = await member(services, "ada", invited_by=root)
    new = await invites.create_invite(services, ada)
    await accounts.disable_user(services, root, ada.user_id)
    assert not await invites.check_invite(services, new.code)
    with pytest.raises(DomainError) as exc:
        await redeem(services, new.code, "bob")
    assert exc.value.code is ErrorCode.INVITE_INVALID
    await accounts.enable_user(services, root, ada.user_id)
    assert await invites.check_invite(services, new.code)
    assert (await redeem(services, new.code, "bob")).user.username == "bob"
