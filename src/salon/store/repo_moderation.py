"""Store layer: the moderation log (``moderation_log``) and reports (``reports``).

Log entries are written inside a room command's transaction, with the room row locked, so the log of one room is
written one command at a time. Their ``created_at`` is made strictly increasing per room (the command's time, or
1 µs after the room's latest entry when that is not later): it orders and pages the log exactly, and entries of
one command keep the order the rule gave them, with no sequence column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, true
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.api_paths import avatar_url
from salon.domain.moderation import LogRecord, ModAction, ModerationEntry
from salon.domain.paging import Cursor
from salon.domain.reports import ReportReason, ReportRecord, ReportSpec, RoomSummary
from salon.domain.rooms import Profile
from salon.store.tables import moderation_log, reports, rooms, users

TICK = timedelta(microseconds=1)


def _people(*names: str) -> dict[str, Any]:
    """Aliases of ``users`` for each named person on a row (actor, target, reporter…)."""
    return {name: users.alias(name) for name in names}


def _person_columns(alias: Any, name: str) -> list[Any]:
    return [
        alias.c.username.label(f"{name}_username"),
        alias.c.display_name.label(f"{name}_display_name"),
        alias.c.avatar.label(f"{name}_avatar"),
    ]


def _person(row: RowMapping, user_id: str | None, name: str) -> Profile | None:
    if user_id is None:
        return None
    return Profile(user_id, row[f"{name}_username"], row[f"{name}_display_name"], avatar_url(row[f"{name}_avatar"]))


def _older_than(created_at: Any, row_id: Any, cursor: Cursor | None) -> Any:
    if cursor is None:
        return true()
    return or_(created_at < cursor.at, and_(created_at == cursor.at, row_id < cursor.id))


# --- the moderation log -------------------------------------------------------------------------------------------


async def append_entries(
    conn: AsyncConnection,
    room_id: str,
    entries: Sequence[ModerationEntry],
    now: datetime,
    new_id: Callable[[], str],
) -> None:
    """Write a command's entries in order (the caller holds the room's lock)."""
    latest = (
        await conn.execute(select(func.max(moderation_log.c.created_at)).where(moderation_log.c.room_id == room_id))
    ).scalar()
    at = now if latest is None or now > latest else latest + TICK
    rows = []
    for entry in entries:
        rows.append(
            {
                "id": new_id(),
                "room_id": room_id,
                "actor_id": entry.actor_id,
                "action": entry.action.value,
                "target_id": entry.target_id,
                "data": entry.data,
                "created_at": at,
            }
        )
        at += TICK
    await conn.execute(insert(moderation_log), rows)


async def log_page(conn: AsyncConnection, room_id: str, cursor: Cursor | None, limit: int) -> list[LogRecord]:
    """Up to ``limit`` entries of a room's log older than ``cursor``, newest first."""
    p = _people("actor", "target")
    log = moderation_log
    query = (
        select(log, *_person_columns(p["actor"], "actor"), *_person_columns(p["target"], "target"))
        .outerjoin(p["actor"], p["actor"].c.id == log.c.actor_id)
        .outerjoin(p["target"], p["target"].c.id == log.c.target_id)
        .where(log.c.room_id == room_id, _older_than(log.c.created_at, log.c.id, cursor))
        .order_by(log.c.created_at.desc(), log.c.id.desc())
        .limit(limit)
    )
    return [
        LogRecord(
            id=row["id"],
            room_id=row["room_id"],
            action=ModAction(row["action"]),
            actor=_person(row, row["actor_id"], "actor"),
            target=_person(row, row["target_id"], "target"),
            data=row["data"],
            created_at=row["created_at"],
        )
        for row in (await conn.execute(query)).mappings()
    ]


async def end_entry_data(conn: AsyncConnection, room_id: str) -> dict[str, Any] | None:
    """The data of the room's ``end_room`` entry (who moderated it at the end), if it has one."""
    query = (
        select(moderation_log.c.data)
        .where(moderation_log.c.room_id == room_id, moderation_log.c.action == ModAction.END_ROOM.value)
        .order_by(moderation_log.c.created_at.desc())
        .limit(1)
    )
    data = (await conn.execute(query)).scalar()
    return None if data is None else dict(data)


# --- reports ------------------------------------------------------------------------------------------------------


async def insert_report(
    conn: AsyncConnection, report_id: str, reporter_id: str, spec: ReportSpec, now: datetime
) -> None:
    await conn.execute(
        insert(reports).values(
            id=report_id,
            reporter_id=reporter_id,
            target_user_id=spec.target_user_id,
            target_room_id=spec.target_room_id,
            reason=spec.reason.value,
            details=spec.details,
            created_at=now,
        )
    )


async def reports_page(conn: AsyncConnection, cursor: Cursor | None, limit: int) -> list[ReportRecord]:
    """Up to ``limit`` reports older than ``cursor``, newest first."""
    p = _people("reporter", "target", "resolver")
    query = (
        select(
            reports,
            *_person_columns(p["reporter"], "reporter"),
            *_person_columns(p["target"], "target"),
            *_person_columns(p["resolver"], "resolver"),
            rooms.c.title.label("room_title"),
        )
        .join(p["reporter"], p["reporter"].c.id == reports.c.reporter_id)
        .outerjoin(p["target"], p["target"].c.id == reports.c.target_user_id)
        .outerjoin(p["resolver"], p["resolver"].c.id == reports.c.resolved_by)
        .outerjoin(rooms, rooms.c.id == reports.c.target_room_id)
        .where(_older_than(reports.c.created_at, reports.c.id, cursor))
        .order_by(reports.c.created_at.desc(), reports.c.id.desc())
        .limit(limit)
    )
    out = []
    for row in (await conn.execute(query)).mappings():
        reporter = _person(row, row["reporter_id"], "reporter")
        assert reporter is not None
        room_id = row["target_room_id"]
        out.append(
            ReportRecord(
                id=row["id"],
                reporter=reporter,
                target_user=_person(row, row["target_user_id"], "target"),
                target_room=None if room_id is None else RoomSummary(room_id, row["room_title"]),
                reason=ReportReason(row["reason"]),
                details=row["details"],
                created_at=row["created_at"],
                resolved_at=row["resolved_at"],
                resolved_by=_person(row, row["resolved_by"], "resolver"),
                resolution_note=row["resolution_note"] or "",
            )
        )
    return out
