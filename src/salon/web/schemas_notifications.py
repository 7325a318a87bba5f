"""Web layer: request and response models for a member's notifications."""

from __future__ import annotations

from collections.abc import Set
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StrictBool, model_validator

from salon.app.notifications import MARK_MAX, notification_data
from salon.domain.notification_prefs import GROUPS, PAUSE_MAX, NotificationPrefs
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


class NotificationGroups(Strict):
    """Which groups of notifications you get (true: on). A group you leave out of a request is on. The fields are
    ``domain/notification_prefs.GROUPS``' keys (a unit test keeps them in step)."""

    followed_rooms: StrictBool = Field(True, description="People you follow open a room or come on stage.")
    events: StrictBool = Field(
        True, description="Events you host, RSVPed or were invited to: soon, started, cancelled."
    )
    pings: StrictBool = Field(True, description="Someone wants you in their room.")
    people: StrictBool = Field(True, description="Your invite was used, you were nominated, someone followed you.")

    def off(self) -> list[str]:
        return [name for name, on in self.model_dump().items() if not on]

    @classmethod
    def of(cls, prefs: NotificationPrefs) -> NotificationGroups:
        return cls(**{name: name not in prefs.off for name in GROUPS})


class NotificationSettingsIn(Strict):
    """Replaces your settings. ``paused_until``: the end of a pause, with its offset, in the future and at most 7
    days ahead (null: no pause). While paused, notifications are listed but not pushed live; a group turned off is
    not written at all."""

    groups: NotificationGroups = Field(default_factory=NotificationGroups)
    paused_until: AwareDatetime | None = None


class NotificationSettingsOut(BaseModel):
    groups: NotificationGroups
    kinds: dict[str, list[str]] = Field(description="The notification kinds each group holds.")
    paused_until: str | None = Field(description="The end of the current pause (UTC), or null when not paused.")
    pause_max_s: int = Field(description="The longest pause, in seconds from now.")

    @classmethod
    def of(cls, prefs: NotificationPrefs) -> NotificationSettingsOut:
        return cls(
            groups=NotificationGroups.of(prefs),
            kinds={name: list(kinds) for name, kinds in GROUPS.items()},
            paused_until=prefs.paused_until.isoformat() if prefs.paused_until else None,
            pause_max_s=int(PAUSE_MAX.total_seconds()),
        )
