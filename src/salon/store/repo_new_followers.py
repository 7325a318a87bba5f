"""Store layer: what the ``followed_you`` rule (``domain/new_followers.py``) needs, read from the notifications
already stored: was the followed member told about this follower before, and how many such notices they had in
the last hour. Both read the notifications' ``(user_id, created_at)`` index of the followed member only."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.new_followers import FOLLOWED_YOU
from salon.store.tables import notifications


async def told_before(conn: AsyncConnection, followee_id: str, follower_id: str) -> bool:
    query = select(notifications.c.id).where(
        notifications.c.user_id == followee_id,
        notifications.c.kind == FOLLOWED_YOU,
        notifications.c.data[("user", "id")].as_string() == follower_id,
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def told_since(conn: AsyncConnection, followee_id: str, now: datetime, window: timedelta) -> int:
    query = select(func.count()).where(
        notifications.c.user_id == followee_id,
        notifications.c.kind == FOLLOWED_YOU,
        notifications.c.created_at > now - window,
    )
    return int((await conn.execute(query)).scalar_one())
