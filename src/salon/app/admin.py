"""App layer: running the instance from the admin area — members, reports, the waitlist, live rooms, the instance
settings and the instance's log.

Each use case checks the caller is an admin first (``domain/admin.require_admin``: a non-admin is refused whatever
their browser shows), loads the facts, lets ``domain/admin.py`` decide, and writes the change together with its log
entry in one transaction. The console's operator (``salon user disable``) goes through the same use cases, logged
with no actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain import admin as rules
from salon.domain.admin import InstanceSettings, MemberFacts, MemberRow
from salon.domain.errors import ErrorCode, refuse
from salon.domain.moderation import AdminAction, LogRecord, ModerationEntry
from salon.domain.paging import PAGE_DEFAULT, Cursor, check_page_size, decode_cursor, encode_cursor
from salon.domain.rooms import Room
from salon.domain.text import check_text
from salon.store import repo_accounts, repo_admin, repo_invites, repo_rooms

SEARCH_MAX = 50


@dataclass(frozen=True)
class MembersPage:
    items: list[MemberRow]
    next_cursor: str | None


@dataclass(frozen=True)
class LogPage:
    items: list[LogRecord]
    next_cursor: str | None


async def _log(services: Services, conn: AsyncConnection, *entries: ModerationEntry | None) -> None:
    kept = [e for e in entries if e is not None]
    await repo_admin.append_instance_entries(conn, kept, services.clock.now(), services.ids.new_id)


async def _member(conn: AsyncConnection, user_id: str) -> MemberFacts:
    user = await repo_accounts.get_user(conn, user_id)
    if user is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such member.")
    return MemberFacts(user.id, user.is_admin, user.disabled_at is not None)


# --- members ------------------------------------------------------------------------------------------------------


async def search_members(
    services: Services, actor: Actor, text: str = "", cursor: str | None = None, limit: int = PAGE_DEFAULT
) -> MembersPage:
    """Members newest first, by username prefix or display-name part; disabled members included."""
    rules.require_admin(actor.is_admin)
    text = check_text(text, "q").strip()
    if len(text) > SEARCH_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"Search for at most {SEARCH_MAX} characters.", field="q")
    after = decode_cursor(cursor) if cursor else None
    limit = check_page_size(limit)
    async with services.db.read() as conn:
        rows = await repo_admin.members_page(conn, text, after, limit + 1)
    if len(rows) <= limit:
        return MembersPage(rows, None)
    last = rows[limit - 1]
    return MembersPage(rows[:limit], encode_cursor(Cursor(last.created_at, last.id)))


async def grant_invites(services: Services, actor: Actor, user_id: str, count: int) -> int:
    """Give a member ``count`` more invites; their new quota."""
    rules.require_admin(actor.is_admin)
    rules.check_grant(count)
    async with services.db.transaction() as conn:
        left = await repo_accounts.add_invites(conn, user_id, count)
        if left is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such member.")
        entry = rules.admin_entry(AdminAction.GRANT_INVITES, actor.user_id, user_id, count=count, invites_left=left)
        await _log(services, conn, entry)
    return left


async def disable_member(services: Services, actor: Actor, user_id: str) -> None:
    """Their sessions end and their live connections close at once; log-ins are refused until enabled."""
    rules.require_admin(actor.is_admin)
    async with services.db.transaction() as conn:
        entry = rules.disable(actor.user_id, await _member(conn, user_id))
        if entry is not None:
            await repo_accounts.set_disabled(conn, user_id, services.clock.now())
        await repo_accounts.delete_user_sessions(conn, user_id)
        await _log(services, conn, entry)
    await services.bus.close_user(user_id, "disabled")


async def enable_member(services: Services, actor: Actor, user_id: str) -> None:
    rules.require_admin(actor.is_admin)
    async with services.db.transaction() as conn:
        entry = rules.enable(actor.user_id, await _member(conn, user_id))
        if entry is not None:
            await repo_accounts.set_disabled(conn, user_id, None)
        await _log(services, conn, entry)


async def set_admin(services: Services, actor: Actor, user_id: str, make: bool) -> None:
    """Make a member an admin, or take it back (never the instance's last enabled admin)."""
    rules.require_admin(actor.is_admin)
    async with services.db.transaction() as conn:
        admins = await repo_admin.lock_enabled_admins(conn)
        entry = rules.set_admin(actor.user_id, await _member(conn, user_id), make, len(admins))
        if entry is not None:
            await repo_admin.set_admin(conn, user_id, make)
        await _log(services, conn, entry)


# --- reports ------------------------------------------------------------------------------------------------------


async def resolve_report(services: Services, actor: Actor, report_id: str, note: str) -> None:
    """Close a report with a note (acting on its member or room is its own action: disable, end the room)."""
    rules.require_admin(actor.is_admin)
    async with services.db.transaction() as conn:
        found = await repo_admin.lock_report(conn, report_id)
        if found is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such report.")
        entry = rules.resolve_report(actor.user_id, report_id, found.resolved, note)
        if not await repo_admin.resolve_report(
            conn, report_id, actor.user_id or None, entry.data["note"], services.clock.now()
        ):
            raise refuse(ErrorCode.CONFLICT, "This report is already resolved.")
        await _log(services, conn, entry)


# --- the waitlist -------------------------------------------------------------------------------------------------


async def dismiss_waitlist_entry(services: Services, actor: Actor, entry_id: str) -> None:
    rules.require_admin(actor.is_admin)
    async with services.db.transaction() as conn:
        record = await repo_invites.get_waitlist_entry(conn, entry_id)
        if record is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such waitlist entry.")
        entry = rules.dismiss(
            actor.user_id, entry_id, record.name, record.nominated_at is not None, record.dismissed_at is not None
        )
        if entry is not None and not await repo_admin.dismiss_waitlist_entry(conn, entry_id, services.clock.now()):
            raise refuse(ErrorCode.CONFLICT, "Someone has already invited this person.")
        await _log(services, conn, entry)


async def log_waitlist_let_in(
    services: Services, conn: AsyncConnection, actor: Actor, entry_id: str, name: str
) -> None:
    """Inside a nomination's transaction: an admin letting someone in is an admin action, so it is logged."""
    if actor.is_admin:
        entry = rules.admin_entry(AdminAction.LET_IN_FROM_WAITLIST, actor.user_id, None, entry_id=entry_id, name=name)
        await _log(services, conn, entry)


# --- live rooms ---------------------------------------------------------------------------------------------------


async def live_rooms(services: Services, actor: Actor) -> list[tuple[Room, int]]:
    """Every live room (closed and social ones too), newest first, with how many people are in it."""
    rules.require_admin(actor.is_admin)
    async with services.db.read() as conn:
        rooms = await repo_rooms.live_rooms(conn)
        out = [(room, await repo_rooms.headcount(conn, room.id)) for room in rooms]
    out.sort(key=lambda pair: pair[0].created_at, reverse=True)
    return out


# --- instance settings --------------------------------------------------------------------------------------------


def _settings(services: Services, stored: dict[str, Any]) -> InstanceSettings:
    defaults = InstanceSettings(invites_per_member=services.settings.invites_per_member, waitlist_open=True)
    values = defaults.as_dict()
    values.update({k: v for k, v in stored.items() if k in values})
    return InstanceSettings(**values)


async def instance_settings(services: Services, conn: AsyncConnection | None = None) -> InstanceSettings:
    """The settings in force now (a stored value, else the start-up default); inside ``conn`` when given."""
    if conn is not None:
        return _settings(services, await repo_admin.read_settings(conn))
    async with services.db.read() as read:
        return _settings(services, await repo_admin.read_settings(read))


async def read_settings(services: Services, actor: Actor) -> InstanceSettings:
    rules.require_admin(actor.is_admin)
    return await instance_settings(services)


async def change_settings(services: Services, actor: Actor, changes: dict[str, Any]) -> InstanceSettings:
    rules.require_admin(actor.is_admin)
    async with services.db.transaction() as conn:
        current = await instance_settings(services, conn)
        after, entry = rules.check_settings_change(actor.user_id, current, changes)
        if entry is not None:
            changed = {k: after.as_dict()[k] for k in entry.data["changes"]}
            await repo_admin.write_settings(conn, changed, actor.user_id or None, services.clock.now())
        await _log(services, conn, entry)
    return after


# --- the instance's log -------------------------------------------------------------------------------------------


async def read_instance_log(
    services: Services, actor: Actor, cursor: str | None = None, limit: int = PAGE_DEFAULT
) -> LogPage:
    rules.require_admin(actor.is_admin)
    after = decode_cursor(cursor) if cursor else None
    limit = check_page_size(limit)
    async with services.db.read() as conn:
        records = await repo_admin.instance_log_page(conn, after, limit + 1)
    if len(records) <= limit:
        return LogPage(records, None)
    last = records[limit - 1]
    return LogPage(records[:limit], encode_cursor(Cursor(last.created_at, last.id)))
