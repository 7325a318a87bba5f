"""Store layer: finding members by name — case-insensitive, wildcards in the query taken literally."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.api_paths import avatar_url
from salon.domain.rooms import Profile
from salon.store.tables import blocks, users


def _literal(text: str) -> str:
    """``text`` for a LIKE pattern with ``\\`` as the escape: %, _ and \\ match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def find_members(conn: AsyncConnection, viewer_id: str, text: str, limit: int) -> list[Profile]:
    """Members whose username starts with ``text`` or whose display name contains it; usernames that start with it
    first. Disabled accounts, and members who blocked the viewer, are never found."""
    needle = _literal(text.casefold())
    starts = users.c.username_key.like(needle + "%", escape="\\")
    named = func.lower(users.c.display_name).like("%" + needle + "%", escape="\\")
    blocked_me = select(blocks.c.blocker_id).where(blocks.c.blocked_id == viewer_id)
    query = (
        select(users.c.id, users.c.username, users.c.display_name, users.c.avatar)
        .where(or_(starts, named), users.c.disabled_at.is_(None), users.c.id.not_in(blocked_me))
        .order_by(starts.desc(), users.c.username_key)
        .limit(limit)
    )
    rows = (await conn.execute(query)).mappings()
    return [Profile(r["id"], r["username"], r["display_name"], avatar_url(r["avatar"])) for r in rows]
