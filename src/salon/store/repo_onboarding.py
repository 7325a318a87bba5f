"""Store layer: the lists the getting-started screen's suggestions are made from (``domain/onboarding.py`` orders
them): whom the inviter follows, members active lately, the viewer's blocks either way. Enabled members only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.accounts import UserSummary
from salon.store.tables import blocks, follows, rooms, users

_SUMMARY = (users.c.id, users.c.username, users.c.display_name, users.c.avatar)


async def followed_by(conn: AsyncConnection, user_id: str, limit: int) -> list[UserSummary]:
    """Whom ``user_id`` follows, most recent first."""
    query = (
        select(*_SUMMARY)
        .join(follows, follows.c.followee_id == users.c.id)
        .where(follows.c.follower_id == user_id, users.c.disabled_at.is_(None))
        .order_by(follows.c.created_at.desc(), users.c.id)
        .limit(limit)
    )
    return [UserSummary(*r) for r in await conn.execute(query)]


async def active_members(conn: AsyncConnection, since: datetime, limit: int) -> list[UserSummary]:
    """Members who opened a room since ``since``, the latest first; then the most followed members."""
    opened = (
        select(rooms.c.created_by.label("user_id"), func.max(rooms.c.created_at).label("last"))
        .where(rooms.c.created_at >= since)
        .group_by(rooms.c.created_by)
        .subquery()
    )
    query = (
        select(*_SUMMARY)
        .join(opened, opened.c.user_id == users.c.id)
        .where(users.c.disabled_at.is_(None))
        .order_by(opened.c.last.desc(), users.c.id)
        .limit(limit)
    )
    found = [UserSummary(*r) for r in await conn.execute(query)]
    counts = (
        select(follows.c.followee_id.label("user_id"), func.count().label("n")).group_by(follows.c.followee_id)
    ).subquery()
    query = (
        select(*_SUMMARY)
        .join(counts, counts.c.user_id == users.c.id)
        .where(users.c.disabled_at.is_(None))
        .order_by(counts.c.n.desc(), users.c.id)
        .limit(limit)
    )
    return found + [UserSummary(*r) for r in await conn.execute(query)]


async def blocked_either_way(conn: AsyncConnection, user_id: str) -> set[str]:
    query = select(blocks.c.blocker_id, blocks.c.blocked_id).where(
        or_(blocks.c.blocker_id == user_id, blocks.c.blocked_id == user_id)
    )
    return {b if a == user_id else a for a, b in await conn.execute(query)}
