"""Store layer: a room's interpretation channels (``room_languages``, ``room_channels``, ``room_interpreters``) and
a scheduled event's languages (``event_languages``).

A room's interpretation is a handful of rows (a floor, at most four channels, two interpreters each): a change
rewrites them all, inside the command's transaction with the room row locked, rather than diffing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.interpretation import Booth, Interpretation, RoomLanguages
from salon.store.tables import event_languages, room_channels, room_interpreters, room_languages


async def load(conn: AsyncConnection, room_id: str) -> Interpretation | None:
    """The room's languages and booths, or None when it declared no languages."""
    found = (await conn.execute(select(room_languages).where(room_languages.c.room_id == room_id))).mappings().first()
    if found is None:
        return None
    channels = (
        await conn.execute(
            select(room_channels).where(room_channels.c.room_id == room_id).order_by(room_channels.c.position)
        )
    ).mappings()
    people: dict[str, list[str]] = {}
    query = (
        select(room_interpreters.c.language, room_interpreters.c.user_id)
        .where(room_interpreters.c.room_id == room_id)
        .order_by(room_interpreters.c.position)
    )
    for language, user_id in (await conn.execute(query)).all():
        people.setdefault(language, []).append(user_id)
    booths = tuple(
        Booth(row["language"], tuple(people.get(row["language"], ())), row["live_id"], row["handover_to"])
        for row in channels
    )
    return Interpretation(found["floor"], booths, found["ducking_db"])


async def save(conn: AsyncConnection, room_id: str, interpretation: Interpretation | None) -> None:
    """Replace the room's interpretation with this one (None: no languages any more)."""
    for table in (room_interpreters, room_channels, room_languages):
        await conn.execute(delete(table).where(table.c.room_id == room_id))
    if interpretation is None:
        return
    values = {"floor": interpretation.floor, "ducking_db": interpretation.ducking_db}
    await conn.execute(insert(room_languages).values(room_id=room_id, **values))
    channel_rows: list[dict[str, Any]] = []
    people_rows: list[dict[str, Any]] = []
    for i, booth in enumerate(interpretation.booths):
        channel_rows.append(
            {
                "room_id": room_id,
                "language": booth.language,
                "position": i,
                "live_id": booth.live,
                "handover_to": booth.handover_to,
            }
        )
        people_rows += [
            {"room_id": room_id, "language": booth.language, "user_id": u, "position": j}
            for j, u in enumerate(booth.interpreters)
        ]
    if channel_rows:
        await conn.execute(insert(room_channels), channel_rows)
    if people_rows:
        await conn.execute(insert(room_interpreters), people_rows)


async def languages_of(conn: AsyncConnection, room_ids: Iterable[str]) -> dict[str, RoomLanguages]:
    """The languages of those rooms that declared some (hallway cards, search results): one query, as the hallway's
    query count is pinned (tests/integration/test_hallway.py)."""
    ids = list(room_ids)
    if not ids:
        return {}
    joined = room_languages.outerjoin(room_channels, room_channels.c.room_id == room_languages.c.room_id)
    query = (
        select(room_languages.c.room_id, room_languages.c.floor, room_channels.c.language)
        .select_from(joined)
        .where(room_languages.c.room_id.in_(ids))
        .order_by(room_languages.c.room_id, room_channels.c.position)
    )
    floors: dict[str, str] = {}
    channels: dict[str, list[str]] = {}
    for room_id, floor, language in (await conn.execute(query)).all():
        floors[room_id] = floor
        if language is not None:
            channels.setdefault(room_id, []).append(language)
    return {room_id: RoomLanguages(floor, tuple(channels.get(room_id, ()))) for room_id, floor in floors.items()}


# --- a scheduled event's languages -------------------------------------------------------------------------------


async def load_event(conn: AsyncConnection, event_id: str) -> tuple[RoomLanguages, int] | None:
    row = (await conn.execute(select(event_languages).where(event_languages.c.event_id == event_id))).mappings().first()
    if row is None:
        return None
    return RoomLanguages(row["floor"], tuple(row["channels"])), row["ducking_db"]


async def events_languages(conn: AsyncConnection, event_ids: Iterable[str]) -> dict[str, RoomLanguages]:
    ids = list(event_ids)
    if not ids:
        return {}
    rows = (await conn.execute(select(event_languages).where(event_languages.c.event_id.in_(ids)))).mappings()
    return {r["event_id"]: RoomLanguages(r["floor"], tuple(r["channels"])) for r in rows}


async def save_event(conn: AsyncConnection, event_id: str, languages: RoomLanguages | None, ducking_db: int) -> None:
    await conn.execute(delete(event_languages).where(event_languages.c.event_id == event_id))
    if languages is not None:
        values = {"floor": languages.floor, "channels": list(languages.channels), "ducking_db": ducking_db}
        await conn.execute(insert(event_languages).values(event_id=event_id, **values))
