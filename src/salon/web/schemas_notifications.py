"""Web layer: request and response models for a member's notifications."""

from __future__ import annotations

from collections.abc import Set
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictBool, model_validator

from salon.app.notifications import MARK_MAX, notification_data
from salon.domain.notifications import NotificationRecord
from salon.web.schemas_rooms import Strict
from salon.web.schemas_text import ID_PATTERN


class NotificationOut(BaseModel):
    id: str
    kind: str
    data: dict[str, Any]
    created_at: str
    read_at: str | None
    room_ended: bool | None = Field(
        description="Whether the room in `data.room_id` is over (ended or gone) as of this answer, so a client never "
        "offers to join it; null when the notification points to no room. Also in the live push."
    )

    @classmethod
    def from_record(cls, note: NotificationRecord, live_rooms: Set[str] = frozenset()) -> NotificationOut:
        return cls(**notification_data(note, live_rooms))


class NotificationPageOut(BaseModel):
    """Newest first; ``unread_count`` counts all your unread notifications, not only this page's."""

    notifications: list[NotificationOut]
    unread_count: int
    next_cursor: str | None


class MarkRead(Strict):
    """Either ``ids`` (yours; others are ignored) or ``all: true``."""

    ids: (
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]], Field(max_length=MARK_MAX)
        ]
        | None
    ) = None
    all: StrictBool = False

    @model_validator(mode="after")
    def _one_of(self) -> MarkRead:
        if (self.ids is None) == (not self.all):
            raise ValueError("send either ids or all: true")
        return self


class UnreadOut(BaseModel):
    unread_count: int
