"""Store layer: a member's notifications — written inside the caller's transaction, listed newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.notifications import NotificationRecord
from salon.domain.paging import Cursor
from salon.store.tables import notifications


async def insert_notifications(conn: AsyncConnection, records: Sequence[NotificationRecord]) -> None:
    if records:
        rows = [
            {"id": r.id, "user_id": r.user_id, "kind": r.kind, "data": r.data, "created_at": r.created_at}
            for r in records
        ]
        await conn.execute(insert(notifications), rows)


async def list_for(conn: AsyncConnection, user_id: str, before: Cursor | None, limit: int) -> list[NotificationRecord]:
    """Newest first, before the keyset cursor ``before`` = (created_at, id)."""
    query = select(notifications).where(notifications.c.user_id == user_id)
    if before is not None:
        at, note_id = before.at, before.id
        query = query.where(
            or_(notifications.c.created_at < at, and_(notifications.c.created_at == at, notifications.c.id < note_id))
        )
    query = query.order_by(notifications.c.created_at.desc(), notifications.c.id.desc()).limit(limit)
    return [
        NotificationRecord(r["id"], r["user_id"], r["kind"], r["data"], r["created_at"], r["read_at"])
        for r in (await conn.execute(query)).mappings()
    ]


async def unread_count(conn: AsyncConnection, user_id: str) -> int:
    query = (
        select(func.count())
        .select_from(notifications)
        .where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
    )
    return int((await conn.execute(query)).scalar_one())


async def mark_read(conn: AsyncConnection, user_id: str, ids: Sequence[str] | None, now: datetime) -> int:
    """Mark these (or, with ``ids`` None, all) of the member's unread notifications read; how many changed."""
    query = update(notifications).where(notifications.c.user_id == user_id, notifications.c.read_at.is_(None))
    if ids is not None:
        if not ids:
            return 0
        query = query.where(notifications.c.id.in_(list(ids)))
    result = await conn.execute(query.values(read_at=now))
    return result.rowcount
