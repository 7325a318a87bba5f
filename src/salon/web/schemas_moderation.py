"""Web layer: request and response models of the moderation log and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from salon.app.moderation import NewReport
from salon.domain.moderation import LogRecord, ModAction
from salon.domain.reports import DETAILS_MAX, ReportReason, ReportRecord
from salon.domain.rooms import Profile
from salon.web.schemas_rooms import UserCard, UserId
from salon.web.schemas_text import ID_PATTERN, lines_rule

RoomRef = Annotated[str, Field(min_length=1, max_length=32, pattern=ID_PATTERN)]


def _card(p: Profile | None) -> UserCard | None:
    if p is None:
        return None
    return UserCard(id=p.user_id, username=p.username, display_name=p.display_name, avatar_url=p.avatar_url)


class LogEntryOut(BaseModel):
    """Who did what to whom, when. ``actor`` null: the system (``data.reason`` says why: ``last_moderator_left``,
    ``room_empty``, ``operator``). ``data``: ``lock`` for ``mute``; for ``end_room`` the ``moderators`` at the end;
    ``language`` for ``assign_interpreter``, ``remove_interpreter`` and ``hand_over`` (whose actor is the interpreter
    who took the booth's floor, its target the one who gave it); ``floor``, ``channels`` and ``ducking_db`` for
    ``set_languages``."""

    id: str
    action: ModAction
    actor: UserCard | None
    target: UserCard | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_record(cls, r: LogRecord) -> LogEntryOut:
        return cls(
            id=r.id,
            action=r.action,
            actor=_card(r.actor),
            target=_card(r.target),
            data=r.data,
            created_at=r.created_at,
        )


class ModerationLogOut(BaseModel):
    """Newest first; pass ``next_cursor`` as ``cursor`` for older entries (null: no more)."""

    entries: list[LogEntryOut]
    next_cursor: str | None


class ReportIn(BaseModel):
    """Exactly one of ``user_id`` and ``room_id``."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId | None = None
    room_id: RoomRef | None = None
    reason: ReportReason
    details: Annotated[str, Field(max_length=DETAILS_MAX), lines_rule("details")] = ""


class ReportSentOut(BaseModel):
    id: str
    user_id: str | None
    room_id: str | None
    reason: ReportReason
    details: str
    created_at: datetime

    @classmethod
    def from_new(cls, r: NewReport) -> ReportSentOut:
        s = r.spec
        return cls(
            id=r.id,
            user_id=s.target_user_id,
            room_id=s.target_room_id,
            reason=s.reason,
            details=s.details,
            created_at=r.created_at,
        )


class ReportedRoomOut(BaseModel):
    id: str
    title: str


class ReportOut(BaseModel):
    id: str
    reporter: UserCard
    user: UserCard | None
    room: ReportedRoomOut | None
    reason: ReportReason
    details: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: UserCard | None  # null: unresolved, or resolved at the console
    resolution_note: str

    @classmethod
    def from_record(cls, r: ReportRecord) -> ReportOut:
        reporter = _card(r.reporter)
        assert reporter is not None
        room = None if r.target_room is None else ReportedRoomOut(id=r.target_room.id, title=r.target_room.title)
        return cls(
            id=r.id,
            reporter=reporter,
            user=_card(r.target_user),
            room=room,
            reason=r.reason,
            details=r.details,
            created_at=r.created_at,
            resolved_at=r.resolved_at,
            resolved_by=_card(r.resolved_by),
            resolution_note=r.resolution_note,
        )


class ReportsOut(BaseModel):
    """Newest first; pass ``next_cursor`` as ``cursor`` for older reports (null: no more)."""

    reports: list[ReportOut]
    next_cursor: str | None
