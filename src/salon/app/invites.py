"""App layer: invites — create (spending the quota), check, list, revoke (giving the slot back), grant more.

An invite code is ``ids.new_secret()`` (256 random bits), shown once in its link ``{public_url}/invite/{code}``
and stored only as its SHA-256 digest (a fast hash is enough for a 256-bit random value). Members spend one of
their quota per invite, admins included (an admin grants themself more when needed); operators' invites (the CLI)
spend nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app import admin
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain import admin as admin_rules
from salon.domain.accounts import Invite, UserSummary, check_revocable
from salon.domain.errors import ErrorCode, refuse
from salon.store import repo_accounts as repo
from salon.store import repo_invites

# Our codes are 43 characters; a longer "code" is not worth hashing or looking up.
CODE_MAX = 100
# An admin grants at most this many invites at once (a typo should not hand out thousands).
GRANT_MAX = admin_rules.GRANT_MAX


@dataclass(frozen=True)
class NewInvite:
    """An invite just made. ``code`` and ``link`` exist only here: they are never shown again."""

    id: str
    code: str
    link: str
    expires_at: datetime
    invites_left: int | None  # the creator's quota after this one; None for an operator invite


InviteStatus = Literal["open", "used", "revoked", "expired"]


@dataclass(frozen=True)
class InviteView:
    id: str
    status: InviteStatus
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: UserSummary | None


@dataclass(frozen=True)
class MyInvites:
    invites: list[InviteView]
    invites_left: int


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def invite_link(services: Services, code: str) -> str:
    return f"{services.settings.public_url.rstrip('/')}/invite/{code}"


async def issue_invite(
    services: Services,
    conn: AsyncConnection,
    *,
    created_by: str | None,
    grants_admin: bool = False,
    waitlist_id: str | None = None,
) -> tuple[str, str, datetime]:
    """Insert a fresh invite inside the caller's transaction (quota already settled): its id, code and expiry."""
    now = services.clock.now()
    invite_id = services.ids.new_id()
    code = services.ids.new_secret()
    expires_at = now + timedelta(days=services.settings.invite_ttl_days)
    await repo_invites.insert_invite(
        conn,
        invite_id=invite_id,
        code_hash=hash_code(code),
        created_by=created_by,
        grants_admin=grants_admin,
        now=now,
        expires_at=expires_at,
        waitlist_id=waitlist_id,
    )
    return invite_id, code, expires_at


async def spend_quota(conn: AsyncConnection, actor: Actor) -> None:
    """Take one invite from a member's quota; ``no_invites_left`` when it is empty. Admins hold a quota too, so the
    growth rule is visible to everyone; they can grant themselves more."""
    if not await repo.spend_invite(conn, actor.user_id):
        raise refuse(ErrorCode.NO_INVITES_LEFT, "You have no invites left.")


async def create_invite(services: Services, actor: Actor) -> NewInvite:
    await services.limits.hit(services.limits.invite_create, actor.user_id)
    async with services.db.transaction() as conn:
        await spend_quota(conn, actor)
        invite_id, code, expires_at = await issue_invite(services, conn, created_by=actor.user_id)
        left = await repo.invites_left(conn, actor.user_id)
    return NewInvite(invite_id, code, invite_link(services, code), expires_at, left)


async def create_operator_invite(services: Services, *, grants_admin: bool = False) -> NewInvite:
    """An invite from the operator (CLI, ``created_by`` NULL): how the first admin gets in."""
    async with services.db.transaction() as conn:
        invite_id, code, expires_at = await issue_invite(services, conn, created_by=None, grants_admin=grants_admin)
    return NewInvite(invite_id, code, invite_link(services, code), expires_at, None)


async def find_invite(services: Services, code: str) -> Invite | None:
    """The invite behind a code; None when there is none, or when its creator's account is disabled (a disabled
    member's open invites stop working with them, and come back if the account is enabled again)."""
    if not code or len(code) > CODE_MAX:
        return None
    async with services.db.read() as conn:
        invite = await repo_invites.get_invite_by_code_hash(conn, hash_code(code))
        if invite is not None and invite.created_by is not None:
            creator = await repo.get_user(conn, invite.created_by)
            if creator is None or creator.disabled_at is not None:
                return None
        return invite


async def check_invite(services: Services, code: str) -> bool:
    """Whether a code can be redeemed now (for the sign-up page; says nothing else)."""
    invite = await find_invite(services, code)
    return invite is not None and invite.status(services.clock.now()) == "open"


@dataclass(frozen=True)
class InviteCheck:
    valid: bool
    invited_by: UserSummary | None  # the member whose invite it is (None for an operator's, or when not valid)


async def invite_check(services: Services, code: str) -> InviteCheck:
    """For the sign-up page: whether a code can be redeemed now and, when it can, whose invite it is (the code is
    a 256-bit secret: whoever holds it was sent it, and may know who sent it)."""
    invite = await find_invite(services, code)
    if invite is None or invite.status(services.clock.now()) != "open":
        return InviteCheck(False, None)
    async with services.db.read() as conn:
        return InviteCheck(True, await repo.get_summary(conn, invite.created_by))


async def list_my_invites(services: Services, actor: Actor) -> MyInvites:
    now = services.clock.now()
    async with services.db.read() as conn:
        rows = await repo_invites.list_invites_by(conn, actor.user_id)
        left = await repo.invites_left(conn, actor.user_id)
    views = [
        InviteView(inv.id, cast(InviteStatus, inv.status(now)), inv.created_at, inv.expires_at, inv.used_at, used_by)
        for inv, used_by in rows
    ]
    return MyInvites(views, left)


async def revoke_invite(services: Services, actor: Actor, invite_id: str) -> int:
    """Revoke an unused invite (its creator, or an admin); the slot goes back to its creator.

    Returns the actor's invites left afterwards.
    """
    async with services.db.transaction() as conn:
        now = services.clock.now()
        invite = check_revocable(await repo_invites.get_invite(conn, invite_id), actor.user_id, actor.is_admin, now)
        if not await repo_invites.revoke_invite(conn, invite.id, now):
            raise refuse(ErrorCode.CONFLICT, "This invite was used or revoked meanwhile.")
        await repo_invites.unmark_nominated_by_invite(conn, invite.id)
        creator = await repo.get_user(conn, invite.created_by) if invite.created_by else None
        if creator is not None:
            await repo.add_invites(conn, creator.id, 1)
        return await repo.invites_left(conn, actor.user_id)


async def grant_invites(services: Services, actor: Actor, user_id: str, count: int) -> int:
    """An admin gives a member ``count`` more invites; the member's new quota (``app/admin.py``, which logs it)."""
    return await admin.grant_invites(services, actor, user_id, count)
