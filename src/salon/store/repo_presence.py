"""Store layer: presence deadlines — ``participants.present_until``, the time after which a member with no live
connection leaves the room (the rule: docs/ARCHITECTURE.md, "Presence"; applied by ``app/presence.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.store.tables import participants


async def renew(conn: AsyncConnection, room_id: str, user_id: str, until: datetime) -> None:
    """A sign of life in the room: the deadline moves on to ``until`` (never back)."""
    await renew_many(conn, [(room_id, user_id)], until)


async def renew_many(conn: AsyncConnection, pairs: Sequence[tuple[str, str]], until: datetime) -> None:
    deadline = participants.c.present_until
    for room_id, user_id in pairs:
        await conn.execute(
            update(participants)
            .where(
                participants.c.room_id == room_id,
                participants.c.user_id == user_id,
                or_(deadline.is_(None), deadline < until),
            )
            .values(present_until=until)
        )


async def cut_user(conn: AsyncConnection, user_id: str, until: datetime) -> None:
    """The member's last live connection closed: every room of theirs is held until ``until``, and no longer."""
    await conn.execute(update(participants).where(participants.c.user_id == user_id).values(present_until=until))


async def cut_all(conn: AsyncConnection, until: datetime, untouched_before: datetime) -> int:
    """The server (re)started: everyone in a room is held until ``until`` at most, as if their connection had just
    closed — except participations renewed since the start (their deadline is ``untouched_before`` or later)."""
    deadline = participants.c.present_until
    result = await conn.execute(
        update(participants)
        .where(or_(deadline.is_(None), and_(deadline > until, deadline < untouched_before)))
        .values(present_until=until)
    )
    return int(result.rowcount)


async def due(conn: AsyncConnection, now: datetime, limit: int) -> list[tuple[str, str]]:
    """(room, member) whose deadline has passed, the longest overdue first."""
    deadline = participants.c.present_until
    query = (
        select(participants.c.room_id, participants.c.user_id)
        .where(deadline <= now)
        .order_by(deadline, participants.c.room_id, participants.c.user_id)
        .limit(limit)
    )
    return [(row.room_id, row.user_id) for row in await conn.execute(query)]


async def deadline(conn: AsyncConnection, room_id: str, user_id: str) -> datetime | None:
    query = select(participants.c.present_until).where(
        participants.c.room_id == room_id, participants.c.user_id == user_id
    )
    value: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return value
