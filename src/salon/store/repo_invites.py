"""Store layer: invites and the waitlist — reading and writing them inside the caller's transaction.

Single use is a conditional ``UPDATE`` (``claim_invite``) whose row count decides, exact on every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.accounts import Invite, UserSummary
from salon.store.tables import invites, users, waitlist


@dataclass(frozen=True)
class WaitlistRecord:
    id: str
    name: str
    contact: str
    created_at: datetime
    nominated_by: str | None
    nominated_at: datetime | None
    dismissed_at: datetime | None = None


def _invite(row: Row[Any]) -> Invite:
    m = row._mapping
    return Invite(**{f.name: m[f.name] for f in fields(Invite)} | {"grants_admin": bool(m["grants_admin"])})


# --- invites -------------------------------------------------------------------------------------------------------


async def insert_invite(
    conn: AsyncConnection,
    *,
    invite_id: str,
    code_hash: str,
    created_by: str | None,
    grants_admin: bool,
    now: datetime,
    expires_at: datetime,
    waitlist_id: str | None = None,
) -> None:
    await conn.execute(
        insert(invites).values(
            id=invite_id,
            code_hash=code_hash,
            created_by=created_by,
            grants_admin=grants_admin,
            created_at=now,
            expires_at=expires_at,
            waitlist_id=waitlist_id,
        )
    )


async def get_invite(conn: AsyncConnection, invite_id: str) -> Invite | None:
    row = (await conn.execute(select(invites).where(invites.c.id == invite_id))).first()
    return _invite(row) if row else None


async def get_invite_by_code_hash(conn: AsyncConnection, code_hash: str) -> Invite | None:
    row = (await conn.execute(select(invites).where(invites.c.code_hash == code_hash))).first()
    return _invite(row) if row else None


async def claim_invite(conn: AsyncConnection, invite_id: str, user_id: str, now: datetime) -> bool:
    """Mark an open invite used by ``user_id``; False when it is used, revoked or expired (someone else won)."""
    result = await conn.execute(
        update(invites)
        .where(
            invites.c.id == invite_id,
            invites.c.used_at.is_(None),
            invites.c.revoked_at.is_(None),
            invites.c.expires_at > now,
        )
        .values(used_at=now, used_by=user_id)
    )
    return result.rowcount == 1


async def revoke_invite(conn: AsyncConnection, invite_id: str, now: datetime) -> bool:
    """Revoke an unused invite; False when it was used or revoked meanwhile."""
    result = await conn.execute(
        update(invites)
        .where(invites.c.id == invite_id, invites.c.used_at.is_(None), invites.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1


async def list_invites_by(conn: AsyncConnection, user_id: str) -> list[tuple[Invite, UserSummary | None]]:
    """A member's invites, newest first, each with a summary of who used it."""
    used_by = users.alias("used_by_user")
    query = (
        select(invites, used_by.c.id, used_by.c.username, used_by.c.display_name, used_by.c.avatar)
        .select_from(invites.outerjoin(used_by, used_by.c.id == invites.c.used_by))
        .where(invites.c.created_by == user_id)
        .order_by(invites.c.created_at.desc(), invites.c.id)
    )
    out: list[tuple[Invite, UserSummary | None]] = []
    for row in await conn.execute(query):
        m = row._mapping
        summary = None
        if m[used_by.c.id] is not None:
            summary = UserSummary(
                m[used_by.c.id], m[used_by.c.username], m[used_by.c.display_name], m[used_by.c.avatar]
            )
        out.append((_invite(row), summary))
    return out


# --- waitlist ------------------------------------------------------------------------------------------------------


def _entry(row: Row[Any]) -> WaitlistRecord:
    m = row._mapping
    return WaitlistRecord(**{f.name: m[f.name] for f in fields(WaitlistRecord)})


async def insert_waitlist_entry(
    conn: AsyncConnection, *, entry_id: str, name: str, contact: str, now: datetime
) -> bool:
    """Add someone to the waitlist; False (nothing added) when this contact is already waiting."""
    waiting = await conn.execute(
        select(waitlist.c.id).where(
            func.lower(waitlist.c.contact) == contact.lower(), waitlist.c.nominated_at.is_(None)
        )
    )
    if waiting.first() is not None:
        return False
    await conn.execute(insert(waitlist).values(id=entry_id, name=name, contact=contact, created_at=now))
    return True


async def get_waitlist_entry(conn: AsyncConnection, entry_id: str) -> WaitlistRecord | None:
    row = (await conn.execute(select(waitlist).where(waitlist.c.id == entry_id))).first()
    return _entry(row) if row else None


async def list_waiting(conn: AsyncConnection, limit: int) -> list[WaitlistRecord]:
    """Entries not yet nominated nor dismissed by an admin, oldest first."""
    query = (
        select(waitlist)
        .where(waitlist.c.nominated_at.is_(None), waitlist.c.dismissed_at.is_(None))
        .order_by(waitlist.c.created_at, waitlist.c.id)
        .limit(limit)
    )
    return [_entry(r) for r in await conn.execute(query)]


async def mark_nominated(conn: AsyncConnection, entry_id: str, by: str, now: datetime) -> bool:
    """Mark a waiting entry nominated; False when it was nominated or dismissed meanwhile (or does not exist)."""
    result = await conn.execute(
        update(waitlist)
        .where(waitlist.c.id == entry_id, waitlist.c.nominated_at.is_(None), waitlist.c.dismissed_at.is_(None))
        .values(nominated_by=by, nominated_at=now)
    )
    return result.rowcount == 1


async def unmark_nominated_by_invite(conn: AsyncConnection, invite_id: str) -> None:
    """Put the waitlist entry an invite was made for back on the list (its invite was revoked)."""
    linked = select(invites.c.waitlist_id).where(invites.c.id == invite_id).scalar_subquery()
    await conn.execute(update(waitlist).where(waitlist.c.id == linked).values(nominated_by=None, nominated_at=None))
