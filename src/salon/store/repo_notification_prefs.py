"""Store layer: members' notification preferences (table ``notification_prefs``; no row means the defaults)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.notification_prefs import DEFAULT, NotificationPrefs
from salon.store.tables import notification_prefs

# Ids per IN list: well under SQLite's bound on parameters, whatever the number of recipients.
_CHUNK = 500


def _prefs(off: list[str], paused_until: datetime | None) -> NotificationPrefs:
    return NotificationPrefs(frozenset(off), paused_until)


async def get(conn: AsyncConnection, user_id: str) -> NotificationPrefs:
    query = select(notification_prefs.c.off_groups, notification_prefs.c.paused_until).where(
        notification_prefs.c.user_id == user_id
    )
    row = (await conn.execute(query)).first()
    return DEFAULT if row is None else _prefs(row[0], row[1])


async def of_users(conn: AsyncConnection, user_ids: Collection[str]) -> dict[str, NotificationPrefs]:
    """The stored preferences of these members (those with none are left out: they have the defaults)."""
    ids = sorted(set(user_ids))
    found: dict[str, NotificationPrefs] = {}
    cols = (notification_prefs.c.user_id, notification_prefs.c.off_groups, notification_prefs.c.paused_until)
    for start in range(0, len(ids), _CHUNK):
        query = select(*cols).where(notification_prefs.c.user_id.in_(ids[start : start + _CHUNK]))
        for user_id, off, paused_until in await conn.execute(query):
            found[user_id] = _prefs(off, paused_until)
    return found


async def put(conn: AsyncConnection, user_id: str, prefs: NotificationPrefs, now: datetime) -> None:
    """Insert or replace in one statement (``ON CONFLICT DO UPDATE`` on both engines), so two first saves at once
    cannot both insert."""
    values = {"off_groups": sorted(prefs.off), "paused_until": prefs.paused_until, "updated_at": now}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    query = dialect.insert(notification_prefs).values(user_id=user_id, **values)
    await conn.execute(query.on_conflict_do_update(index_elements=[notification_prefs.c.user_id], set_=values))
