"""App layer: reading a room's moderation log, and reports on members and rooms.

The log is written by the room commands themselves (``room_commands.save_outcome`` stores ``Outcome.moderation``
in the command's transaction); here it is only read, by the room's moderators and admins
(``domain/moderation.check_log_reader``). Reports are sent by members (rate-limited per reporter) and listed for
admins, in the API and at the console (``salon report list``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from salon.app.room_access import access_room, load_room_facts
from salon.app.services import Services
from salon.app.sessions import Actor, require_admin
from salon.domain.errors import ErrorCode, refuse
from salon.domain.moderation import LogRecord, check_log_reader, moderators_at_end
from salon.domain.paging import PAGE_DEFAULT, Cursor, check_page_size, decode_cursor, encode_cursor
from salon.domain.reports import ReportRecord, ReportSpec, check_report
from salon.store import repo_moderation as repo
from salon.store import repo_rooms

T = TypeVar("T", LogRecord, ReportRecord)


@dataclass(frozen=True)
class Page(Generic[T]):
    """Entries newest first; ``next_cursor`` asks for the older ones (None: this was the last page)."""

    items: list[T]
    next_cursor: str | None


def _page(records: list[T], limit: int) -> Page[T]:
    if len(records) <= limit:
        return Page(records, None)
    last = records[limit - 1]
    return Page(records[:limit], encode_cursor(Cursor(last.created_at, last.id)))


# --- the moderation log ---------------------------------------------------------------------------------------------


async def read_log(
    services: Services, viewer_id: str, room_id: str, cursor: str | None = None, limit: int = PAGE_DEFAULT
) -> Page[LogRecord]:
    """A room's moderation log, newest first, for its moderators (those at the end, once it ended) and admins."""
    after = decode_cursor(cursor) if cursor else None
    limit = check_page_size(limit)
    async with services.db.read() as conn:
        found, access, participant = await load_room_facts(conn, room_id, viewer_id)
        room = None if found is None else found[0]
        at_end = moderators_at_end(await repo.end_entry_data(conn, room_id)) if room and room.ended else []
        check_log_reader(room, viewer_id, access, participant, at_end)
        records = await repo.log_page(conn, room_id, after, limit + 1)
    return _page(records, limit)


# --- reports --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewReport:
    id: str
    spec: ReportSpec
    created_at: datetime


async def report(
    services: Services,
    reporter: Actor,
    *,
    user_id: str | None = None,
    room_id: str | None = None,
    reason: str,
    details: str = "",
) -> NewReport:
    """A member reports a member or a room they may see; the admins read it later."""
    await services.limits.hit(services.limits.report, reporter.user_id)
    spec = check_report(reporter.user_id, user_id=user_id, room_id=room_id, reason=reason, details=details)
    report_id, now = services.ids.new_id(), services.clock.now()
    async with services.db.transaction() as conn:
        if spec.target_user_id is not None:
            if not await repo_rooms.user_exists(conn, spec.target_user_id):
                raise refuse(ErrorCode.NOT_FOUND, "No such member.")
        else:
            assert spec.target_room_id is not None
            await access_room(conn, spec.target_room_id, reporter.user_id, "see")
        await repo.insert_report(conn, report_id, reporter.user_id, spec, now)
    return NewReport(report_id, spec, now)


async def list_reports(
    services: Services, actor: Actor, cursor: str | None = None, limit: int = PAGE_DEFAULT
) -> Page[ReportRecord]:
    """Reports, newest first (admins; the console's operator acts as one)."""
    require_admin(actor)
    after = decode_cursor(cursor) if cursor else None
    limit = check_page_size(limit)
    async with services.db.read() as conn:
        records = await repo.reports_page(conn, after, limit + 1)
    return _page(records, limit)
