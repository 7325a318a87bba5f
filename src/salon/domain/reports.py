"""Domain layer: reports — a member tells the admins about a member or a room.

Pure rules; the app layer rate-limits reporters, checks that the member exists or that the reporter may see the
room (a closed room never leaks: ``not_found``, the same answer as a room that does not exist), and stores the
report for admins (``GET /admin/reports``, ``salon report list``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from salon.domain.errors import ErrorCode, refuse
from salon.domain.rooms import Profile
from salon.domain.text import check_text

DETAILS_MAX = 1000


class ReportReason(StrEnum):
    SPAM = "spam"
    HARASSMENT = "harassment"
    HATE = "hate"
    SEXUAL_CONTENT = "sexual_content"
    VIOLENCE = "violence"
    IMPERSONATION = "impersonation"
    OTHER = "other"


@dataclass(frozen=True)
class ReportSpec:
    """A report as checked: exactly one target, a known reason, details trimmed."""

    target_user_id: str | None
    target_room_id: str | None
    reason: ReportReason
    details: str


def check_report(
    reporter_id: str, *, user_id: str | None, room_id: str | None, reason: str, details: str
) -> ReportSpec:
    if (user_id is None) == (room_id is None):
        raise refuse(ErrorCode.INVALID_INPUT, "Report one member (user_id) or one room (room_id).", field="user_id")
    if user_id == reporter_id:
        raise refuse(ErrorCode.SELF_TARGET, "You cannot report yourself.", field="user_id")
    try:
        why = ReportReason(reason)
    except ValueError:
        raise refuse(
            ErrorCode.INVALID_INPUT, f"A reason is one of: {', '.join(ReportReason)}.", field="reason"
        ) from None
    cleaned = check_text(details, "details", multiline=True).strip()
    if len(cleaned) > DETAILS_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"Details have at most {DETAILS_MAX} characters.", field="details")
    return ReportSpec(user_id, room_id, why, cleaned)


@dataclass(frozen=True)
class RoomSummary:
    id: str
    title: str


@dataclass(frozen=True)
class ReportRecord:
    id: str
    reporter: Profile
    target_user: Profile | None
    target_room: RoomSummary | None
    reason: ReportReason
    details: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: Profile | None = None  # the admin who resolved it (None: unresolved, or the console's operator)
    resolution_note: str = ""
