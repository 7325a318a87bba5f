"""Web layer: a room's moderation log, and reports (members send them, admins read them). Thin: parse, call one use
case, shape the answer; who may read what is decided in ``salon.app.moderation``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from salon.app import moderation
from salon.domain.paging import CURSOR_MAX, PAGE_DEFAULT, PAGE_MAX
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_moderation import (
    LogEntryOut,
    ModerationLogOut,
    ReportIn,
    ReportOut,
    ReportSentOut,
    ReportsOut,
)

router = APIRouter()

RoomId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
PageCursor = Annotated[str | None, Query(max_length=CURSOR_MAX, description="`next_cursor` of the previous page")]
PageSize = Annotated[int, Query(ge=1, le=PAGE_MAX)]


@router.get(
    "/rooms/{room_id}/moderation-log",
    summary="A room's moderation log, newest first (its moderators, admins)",
    tags=["rooms"],
)
async def get_moderation_log(
    room_id: RoomId,
    actor: CurrentActor,
    services: ServicesDep,
    cursor: PageCursor = None,
    limit: PageSize = PAGE_DEFAULT,
) -> ModerationLogOut:
    """Every moderator action (mutes, moves, roles, removals, letting in, invitations up, hands, languages and
    interpreters, the end), interpreters' handovers, and the room's automatic transitions. Readable by the room's
    current moderators and admins; once the room ended, by those who moderated it at the end."""
    page = await moderation.read_log(services, actor.user_id, room_id, cursor, limit)
    return ModerationLogOut(entries=[LogEntryOut.from_record(r) for r in page.items], next_cursor=page.next_cursor)


@router.post("/reports", status_code=201, summary="Report a member or a room to the admins", tags=["reports"])
async def send_report(body: ReportIn, actor: CurrentActor, services: ServicesDep) -> ReportSentOut:
    """A room must be one you may see. Rate-limited per member."""
    new = await moderation.report(
        services, actor, user_id=body.user_id, room_id=body.room_id, reason=body.reason, details=body.details
    )
    return ReportSentOut.from_new(new)


@router.get("/admin/reports", summary="Reports, newest first (admin)", tags=["admin"])
async def list_reports(
    actor: CurrentActor, services: ServicesDep, cursor: PageCursor = None, limit: PageSize = PAGE_DEFAULT
) -> ReportsOut:
    page = await moderation.list_reports(services, actor, cursor, limit)
    return ReportsOut(reports=[ReportOut.from_record(r) for r in page.items], next_cursor=page.next_cursor)
