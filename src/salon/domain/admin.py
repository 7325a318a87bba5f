"""Domain layer: running the instance — who may do what in the admin area, the instance's own log, and the
instance settings an admin may change while it runs.

Pure rules, no I/O: the app layer (``app/admin.py``) loads the facts (is the caller an admin, how many enabled
admins there are, the member or report concerned) and passes them in. Every change an admin makes returns the
``ModerationEntry`` to write in the same transaction (no room: the instance's log), so an entry exists exactly when
the change it names was committed; a change that changes nothing returns no entry, as in the room's log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from salon.domain.errors import ErrorCode, refuse
from salon.domain.moderation import AdminAction, ModerationEntry
from salon.domain.text import check_text

GRANT_MAX = 100
NOTE_MAX = 1000
INVITES_PER_MEMBER_MAX = 1000  # the same bound as the start-up setting SALON_INVITES_PER_MEMBER


def admin_entry(action: AdminAction, actor_id: str, target_id: str | None = None, **data: Any) -> ModerationEntry:
    """An instance log entry; the console's operator (no account: ``actor_id`` "") is logged with no actor."""
    return ModerationEntry(action, actor_id or None, target_id, data)


def require_admin(is_admin: bool) -> None:
    if not is_admin:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only an admin can do this.")


# --- members ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberFacts:
    """What the rules need to know about the member an admin acts on."""

    id: str
    is_admin: bool
    disabled: bool


@dataclass(frozen=True)
class MemberRow:
    """A member as the admin area lists them."""

    id: str
    username: str
    display_name: str
    avatar_url: str | None
    is_admin: bool
    disabled_at: datetime | None
    invites_left: int
    created_at: datetime


def check_grant(count: int) -> int:
    if not 1 <= count <= GRANT_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"Grant 1 to {GRANT_MAX} invites at a time.", field="count")
    return count


def disable(actor_id: str, member: MemberFacts, report_id: str | None = None) -> ModerationEntry | None:
    """An admin disables a member; never themselves (they would lock themselves out mid-action)."""
    if member.id == actor_id:
        raise refuse(ErrorCode.NOT_ALLOWED, "You cannot disable your own account.")
    if member.disabled:
        return None
    data = {"report_id": report_id} if report_id else {}
    return admin_entry(AdminAction.DISABLE_MEMBER, actor_id, member.id, **data)


def enable(actor_id: str, member: MemberFacts) -> ModerationEntry | None:
    if not member.disabled:
        return None
    return admin_entry(AdminAction.ENABLE_MEMBER, actor_id, member.id)


def set_admin(actor_id: str, member: MemberFacts, make: bool, enabled_admins: int) -> ModerationEntry | None:
    """Make a member an admin or take it back. The instance always keeps one enabled admin: the last one cannot
    step down (``enabled_admins`` counts enabled admins, the actor among them). A disabled member cannot be made
    an admin (enable them first), so the count of admins who can act stays honest."""
    if make:
        if member.is_admin:
            return None
        if member.disabled:
            raise refuse(ErrorCode.ACCOUNT_DISABLED, "Enable this member before making them an admin.")
        return admin_entry(AdminAction.MAKE_ADMIN, actor_id, member.id)
    if not member.is_admin:
        return None
    if not member.disabled and enabled_admins <= 1:
        raise refuse(ErrorCode.LAST_ADMIN, "The instance needs at least one admin: make someone else admin first.")
    return admin_entry(AdminAction.REMOVE_ADMIN, actor_id, member.id)


# --- reports ------------------------------------------------------------------------------------------------------


def check_note(note: str) -> str:
    cleaned = check_text(note, "note", multiline=True).strip()
    if len(cleaned) > NOTE_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"A note has at most {NOTE_MAX} characters.", field="note")
    return cleaned


def resolve_report(actor_id: str, report_id: str, already_resolved: bool, note: str) -> ModerationEntry:
    """Close a report with a note saying what was done (kept with the report and in the log)."""
    if already_resolved:
        raise refuse(ErrorCode.CONFLICT, "This report is already resolved.")
    return admin_entry(AdminAction.RESOLVE_REPORT, actor_id, None, report_id=report_id, note=check_note(note))


# --- the waitlist -------------------------------------------------------------------------------------------------


def dismiss(actor_id: str, entry_id: str, name: str, nominated: bool, dismissed: bool) -> ModerationEntry | None:
    """Take someone off the waitlist without an invite (a spammer, a duplicate)."""
    if nominated:
        raise refuse(ErrorCode.CONFLICT, "Someone has already invited this person.")
    if dismissed:
        return None
    return admin_entry(AdminAction.DISMISS_FROM_WAITLIST, actor_id, None, entry_id=entry_id, name=name)


# --- instance settings --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceSettings:
    """The settings safe to change while the instance runs (docs/ARCHITECTURE.md, decisions): each is read at the
    moment it is used, by one use case, and changing it touches nobody's current state."""

    invites_per_member: int  # invites a new member starts with (existing members keep theirs)
    waitlist_open: bool  # whether people without an invite may ask to join

    def as_dict(self) -> dict[str, Any]:
        return {"invites_per_member": self.invites_per_member, "waitlist_open": self.waitlist_open}


def check_settings_change(
    actor_id: str, current: InstanceSettings, changes: dict[str, Any]
) -> tuple[InstanceSettings, ModerationEntry | None]:
    """Apply ``changes`` (only the keys given) to ``current``; the new settings and the log entry (None: nothing
    changed)."""
    values = current.as_dict()
    for key, value in changes.items():
        if key == "invites_per_member":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INVITES_PER_MEMBER_MAX:
                raise refuse(
                    ErrorCode.INVALID_INPUT,
                    f"Invites per new member: 0 to {INVITES_PER_MEMBER_MAX}.",
                    field="invites_per_member",
                )
        elif key == "waitlist_open":
            if not isinstance(value, bool):
                raise refuse(ErrorCode.INVALID_INPUT, "waitlist_open is true or false.", field="waitlist_open")
        else:
            raise refuse(ErrorCode.INVALID_INPUT, f"No setting named {key!r}.", field=key)
        values[key] = value
    after = InstanceSettings(**values)
    diff = {k: [current.as_dict()[k], v] for k, v in after.as_dict().items() if current.as_dict()[k] != v}
    if not diff:
        return current, None
    return after, admin_entry(AdminAction.CHANGE_SETTINGS, actor_id, None, changes=diff)


def check_waitlist_open(settings: InstanceSettings) -> None:
    if not settings.waitlist_open:
        raise refuse(ErrorCode.WAITLIST_CLOSED, "This instance is not taking requests to join right now.")
