"""Store layer: what the admin area reads and writes — members page by page, admin flags, the instance's log
(``moderation_log`` rows with no room), report resolutions, waitlist dismissals and the instance settings.

Every function takes the caller's connection, so the use case decides what one transaction holds (a change and its
log entry commit together).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from salon.domain.admin import MemberRow
from salon.domain.api_paths import avatar_url
from salon.domain.moderation import LogRecord, ModAction, ModerationEntry, parse_action
from salon.domain.paging import Cursor
from salon.domain.rooms import Profile
from salon.store.repo_search import _literal
from salon.store.tables import instance_settings, moderation_log, reports, users, waitlist

TICK = timedelta(microseconds=1)


# --- members ------------------------------------------------------------------------------------------------------


async def members_page(conn: AsyncConnection, text: str, cursor: Cursor | None, limit: int) -> list[MemberRow]:
    """Members newest first (disabled ones too), whose username starts with ``text`` or whose display name holds
    it (every member when ``text`` is empty); up to ``limit`` after ``cursor``."""
    where: list[ColumnElement[bool]] = []
    if text:
        needle = _literal(text.casefold())
        where.append(
            or_(
                users.c.username_key.like(needle + "%", escape="\\"),
                func.lower(users.c.display_name).like("%" + needle + "%", escape="\\"),
            )
        )
    if cursor is not None:
        where.append(or_(users.c.created_at < cursor.at, and_(users.c.created_at == cursor.at, users.c.id < cursor.id)))
    query = (
        select(
            users.c.id,
            users.c.username,
            users.c.display_name,
            users.c.avatar,
            users.c.is_admin,
            users.c.disabled_at,
            users.c.invites_left,
            users.c.created_at,
        )
        .where(*where)
        .order_by(users.c.created_at.desc(), users.c.id.desc())
        .limit(limit)
    )
    return [
        MemberRow(
            id=m["id"],
            username=m["username"],
            display_name=m["display_name"],
            avatar_url=avatar_url(m["avatar"]),
            is_admin=bool(m["is_admin"]),
            disabled_at=m["disabled_at"],
            invites_left=int(m["invites_left"]),
            created_at=m["created_at"],
        )
        for m in (await conn.execute(query)).mappings()
    ]


async def lock_enabled_admins(conn: AsyncConnection) -> list[str]:
    """The enabled admins' ids, their rows locked (PostgreSQL) so that two admins stepping each other down at once
    are decided one after the other; SQLite writers are serialised by ``BEGIN IMMEDIATE`` already."""
    query = select(users.c.id).where(users.c.is_admin.is_(True), users.c.disabled_at.is_(None)).with_for_update()
    return [str(r[0]) for r in await conn.execute(query)]


async def set_admin(conn: AsyncConnection, user_id: str, is_admin: bool) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(is_admin=is_admin))


# --- the instance's log -------------------------------------------------------------------------------------------


async def append_instance_entries(
    conn: AsyncConnection, entries: Sequence[ModerationEntry], now: datetime, new_id: Callable[[], str]
) -> None:
    """Write entries of the instance's log (no room), each 1 µs after the previous one so they page exactly."""
    if not entries:
        return
    latest = (
        await conn.execute(select(func.max(moderation_log.c.created_at)).where(moderation_log.c.room_id.is_(None)))
    ).scalar()
    at = now if latest is None or now > latest else latest + TICK
    rows = []
    for entry in entries:
        rows.append(
            {
                "id": new_id(),
                "room_id": None,
                "actor_id": entry.actor_id,
                "action": entry.action.value,
                "target_id": entry.target_id,
                "data": entry.data,
                "created_at": at,
            }
        )
        at += TICK
    await conn.execute(insert(moderation_log), rows)


def _profile(row: Any, prefix: str) -> Profile | None:
    if row[f"{prefix}_p_id"] is None:
        return None
    return Profile(
        row[f"{prefix}_p_id"],
        row[f"{prefix}_p_username"],
        row[f"{prefix}_p_display_name"],
        avatar_url(row[f"{prefix}_p_avatar"]),
    )


async def instance_log_page(conn: AsyncConnection, cursor: Cursor | None, limit: int) -> list[LogRecord]:
    """The instance's log, newest first: admins' actions, and rooms ended by an admin (those entries live in the
    room's log, with the room's id)."""
    actor, target = users.alias("actor"), users.alias("target")
    log = moderation_log
    older = (
        true()
        if cursor is None
        else or_(log.c.created_at < cursor.at, and_(log.c.created_at == cursor.at, log.c.id < cursor.id))
    )
    ended_by_admin = and_(log.c.action == ModAction.END_ROOM.value, actor.c.is_admin.is_(True))
    query = (
        select(
            log,
            *[actor.c[c].label(f"actor_p_{c}") for c in ("id", "username", "display_name", "avatar")],
            *[target.c[c].label(f"target_p_{c}") for c in ("id", "username", "display_name", "avatar")],
        )
        .outerjoin(actor, actor.c.id == log.c.actor_id)
        .outerjoin(target, target.c.id == log.c.target_id)
        .where(or_(log.c.room_id.is_(None), ended_by_admin), older)
        .order_by(log.c.created_at.desc(), log.c.id.desc())
        .limit(limit)
    )
    return [
        LogRecord(
            id=row["id"],
            room_id=row["room_id"],
            action=parse_action(row["action"]),
            actor=_profile(row, "actor"),
            target=_profile(row, "target"),
            data=row["data"],
            created_at=row["created_at"],
        )
        for row in (await conn.execute(query)).mappings()
    ]


# --- reports ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportTarget:
    id: str
    target_user_id: str | None
    target_room_id: str | None
    resolved: bool


async def lock_report(conn: AsyncConnection, report_id: str) -> ReportTarget | None:
    query = (
        select(reports.c.id, reports.c.target_user_id, reports.c.target_room_id, reports.c.resolved_at)
        .where(reports.c.id == report_id)
        .with_for_update()
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return ReportTarget(row[0], row[1], row[2], row[3] is not None)


async def resolve_report(conn: AsyncConnection, report_id: str, by: str | None, note: str, now: datetime) -> bool:
    result = await conn.execute(
        update(reports)
        .where(reports.c.id == report_id, reports.c.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by=by, resolution_note=note)
    )
    return result.rowcount == 1


# --- the waitlist -------------------------------------------------------------------------------------------------


async def dismiss_waitlist_entry(conn: AsyncConnection, entry_id: str, now: datetime) -> bool:
    result = await conn.execute(
        update(waitlist)
        .where(waitlist.c.id == entry_id, waitlist.c.nominated_at.is_(None), waitlist.c.dismissed_at.is_(None))
        .values(dismissed_at=now)
    )
    return result.rowcount == 1


# --- instance settings --------------------------------------------------------------------------------------------


async def read_settings(conn: AsyncConnection) -> dict[str, Any]:
    return {row[0]: row[1] for row in await conn.execute(select(instance_settings.c.key, instance_settings.c.value))}


async def write_settings(conn: AsyncConnection, values: dict[str, Any], by: str | None, now: datetime) -> None:
    """Upsert each key (portable: update, then insert what was not there)."""
    for key, value in values.items():
        done = await conn.execute(
            update(instance_settings)
            .where(instance_settings.c.key == key)
            .values(value=value, updated_by=by, updated_at=now)
        )
        if done.rowcount == 0:
            await conn.execute(insert(instance_settings).values(key=key, value=value, updated_by=by, updated_at=now))
