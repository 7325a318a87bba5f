"""Store layer: members' topics of interest (table ``member_topics``), in the order they were picked."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.store.tables import member_topics


async def get_topics(conn: AsyncConnection, user_id: str) -> list[str]:
    query = select(member_topics.c.topic).where(member_topics.c.user_id == user_id).order_by(member_topics.c.position)
    return [r[0] for r in await conn.execute(query)]


async def set_topics(conn: AsyncConnection, user_id: str, topics: Sequence[str]) -> None:
    """Replace the member's topics (already checked by ``domain/topics.check_topics``)."""
    await conn.execute(delete(member_topics).where(member_topics.c.user_id == user_id))
    if topics:
        rows = [{"user_id": user_id, "topic": t, "position": i} for i, t in enumerate(topics)]
        await conn.execute(insert(member_topics), rows)
