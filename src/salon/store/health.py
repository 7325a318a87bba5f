"""Store layer: the two questions the operator's health checks and metrics ask the database — does it answer, and
how many rooms are live — each one cheap query."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.store.tables import rooms


async def ping(conn: AsyncConnection) -> None:
    """A trivial query: raises when the database does not answer."""
    await conn.execute(text("SELECT 1"))


async def count_live_rooms(conn: AsyncConnection) -> int:
    return int(
        (await conn.execute(select(func.count()).select_from(rooms).where(rooms.c.ended_at.is_(None)))).scalar_one()
    )
