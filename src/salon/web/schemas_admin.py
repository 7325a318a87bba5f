"""Web layer: request and response models of the admin area (members, reports, the waitlist, live rooms, the
instance settings and the instance's log)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from salon.app.admin import SEARCH_MAX, LogPage, MembersPage
from salon.domain.admin import INVITES_PER_MEMBER_MAX, NOTE_MAX, InstanceSettings, MemberRow
from salon.domain.moderation import AdminAction, LogRecord, ModAction
from salon.domain.rooms import Room, RoomType
from salon.web.schemas_moderation import _card
from salon.web.schemas_rooms import UserCard
from salon.web.schemas_text import line_rule, lines_rule


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


SearchText = Annotated[str, Field(max_length=SEARCH_MAX), line_rule("q")]


class MemberOut(_Out):
    id: str
    username: str
    display_name: str
    avatar_url: str | None
    is_admin: bool
    disabled: bool
    invites_left: int
    created_at: datetime

    @classmethod
    def from_row(cls, m: MemberRow) -> MemberOut:
        return cls(
            id=m.id,
            username=m.username,
            display_name=m.display_name,
            avatar_url=m.avatar_url,
            is_admin=m.is_admin,
            disabled=m.disabled_at is not None,
            invites_left=m.invites_left,
            created_at=m.created_at,
        )


class MembersOut(_Out):
    """Newest first; pass ``next_cursor`` as ``cursor`` for older members (null: no more)."""

    members: list[MemberOut]
    next_cursor: str | None

    @classmethod
    def from_page(cls, page: MembersPage) -> MembersOut:
        return cls(members=[MemberOut.from_row(m) for m in page.items], next_cursor=page.next_cursor)


class AdminFlagIn(_In):
    """``true``: make the member an admin; ``false``: take it back (never the instance's last enabled admin)."""

    admin: StrictBool


class AdminFlagOut(_Out):
    id: str
    is_admin: bool


class ResolveIn(_In):
    """What was done, for the other admins (may be empty)."""

    note: Annotated[str, Field(max_length=NOTE_MAX), lines_rule("note")] = ""


class ResolvedOut(_Out):
    id: str
    resolved: bool


class DismissedOut(_Out):
    id: str
    dismissed: bool


class LiveRoomOut(_Out):
    id: str
    title: str
    type: RoomType
    created_by: str
    created_at: datetime
    people: int

    @classmethod
    def from_room(cls, room: Room, people: int) -> LiveRoomOut:
        return cls(
            id=room.id,
            title=room.title,
            type=room.type,
            created_by=room.created_by,
            created_at=room.created_at,
            people=people,
        )


class LiveRoomsOut(_Out):
    """Every live room, newest first (end one with ``POST /rooms/{room_id}/end``)."""

    rooms: list[LiveRoomOut]


class SettingsOut(_Out):
    """The settings an admin may change while the instance runs (docs/ARCHITECTURE.md, decisions)."""

    invites_per_member: int
    waitlist_open: bool

    @classmethod
    def from_settings(cls, s: InstanceSettings) -> SettingsOut:
        return cls(invites_per_member=s.invites_per_member, waitlist_open=s.waitlist_open)


class SettingsIn(_In):
    """Only the settings given change. ``invites_per_member``: invites a new member starts with (existing members
    keep theirs); ``waitlist_open``: whether people without an invite may ask to join."""

    invites_per_member: Annotated[StrictInt, Field(ge=0, le=INVITES_PER_MEMBER_MAX)] | None = None
    waitlist_open: StrictBool | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class AdminLogEntryOut(_Out):
    """An admin's action (``room_id`` null), or a room an admin ended (``end_room`` with the room's id). ``data``:
    ``count`` and ``invites_left`` for ``grant_invites``; ``report_id`` and ``note`` for ``resolve_report``;
    ``entry_id`` and ``name`` for the waitlist; ``changes`` ({setting: [before, after]}) for ``change_settings``."""

    id: str
    room_id: str | None
    action: ModAction | AdminAction
    actor: UserCard | None
    target: UserCard | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_record(cls, r: LogRecord) -> AdminLogEntryOut:
        return cls(
            id=r.id,
            room_id=r.room_id,
            action=r.action,
            actor=_card(r.actor),
            target=_card(r.target),
            data=r.data,
            created_at=r.created_at,
        )


class AdminLogOut(_Out):
    """Newest first; pass ``next_cursor`` as ``cursor`` for older entries (null: no more)."""

    entries: list[AdminLogEntryOut]
    next_cursor: str | None

    @classmethod
    def from_page(cls, page: LogPage) -> AdminLogOut:
        return cls(entries=[AdminLogEntryOut.from_record(r) for r in page.items], next_cursor=page.next_cursor)
