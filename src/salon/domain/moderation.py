"""Domain layer: the moderation log — what counts as a moderator's action, and who may read a room's log. The same
log holds the instance's own entries (no room): what admins do in the admin area (``AdminAction``, domain/admin.py).

The rule of what gets logged lives with the commands: each command of ``stage.py`` that a moderator takes against
someone or the room returns its entries in ``Outcome.moderation`` (built from the vocabulary here), and the app
writes them in the command's own transaction. So an entry exists exactly when the change it names was committed:
a refusal raises before anything is written, and a repeat that changes nothing returns no entry.

The room's automatic transitions are logged too, with no actor (``actor_id`` None, a ``reason`` in ``data``): the
longest-serving speaker promoted when the last moderator left, the room ending when nobody is left to moderate, an
operator ending it from the console. Every end records who moderated the room at that moment, which is who may
still read its log once it is over (nobody is "in" an ended room).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from salon.domain.errors import ErrorCode, refuse
from salon.domain.rooms import Access, Participant, Profile, Role, Room, can_see, no_such_room


class ModAction(StrEnum):
    MUTE = "mute"  # data: {"lock": bool}
    UNLOCK_MUTE = "unlock_mute"
    MOVE_TO_AUDIENCE = "move_to_audience"
    MAKE_MODERATOR = "make_moderator"
    UNMAKE_MODERATOR = "unmake_moderator"
    REMOVE = "remove"
    LET_IN = "let_in"
    INVITE_UP = "invite_up"
    ENABLE_HANDS = "enable_hands"
    DISABLE_HANDS = "disable_hands"
    END_ROOM = "end_room"  # data: {"moderators": [user ids at the end]}
    # Interpretation channels (domain/interpretation.py)
    SET_LANGUAGES = "set_languages"  # data: {"floor", "channels": [...], "ducking_db"}
    ASSIGN_INTERPRETER = "assign_interpreter"  # data: {"language"}
    REMOVE_INTERPRETER = "remove_interpreter"  # data: {"language"}
    HAND_OVER = "hand_over"  # by the interpreter taking the floor; target: who gave it; data: {"language"}


class AdminAction(StrEnum):
    """What an admin did, as the instance's log names it (room actions keep ``ModAction``)."""

    GRANT_INVITES = "grant_invites"  # data: {"count": n, "invites_left": after}
    DISABLE_MEMBER = "disable_member"  # data: {"report_id": ...} when done from a report
    ENABLE_MEMBER = "enable_member"
    MAKE_ADMIN = "make_admin"
    REMOVE_ADMIN = "remove_admin"
    RESOLVE_REPORT = "resolve_report"  # data: {"report_id", "note"}
    LET_IN_FROM_WAITLIST = "waitlist_let_in"  # data: {"entry_id", "name"}
    DISMISS_FROM_WAITLIST = "waitlist_dismiss"  # data: {"entry_id", "name"}
    CHANGE_SETTINGS = "change_settings"  # data: {"changes": {key: [before, after]}}


class SystemReason(StrEnum):
    """Why an entry with no actor happened."""

    LAST_MODERATOR_LEFT = "last_moderator_left"  # left the room, or stepped down from the stage
    ROOM_EMPTY = "room_empty"
    OPERATOR = "operator"  # `salon room end` at the console


@dataclass(frozen=True)
class ModerationEntry:
    """One line of a room's moderation log, as a command decided it (the app adds the id and the time)."""

    action: ModAction | AdminAction  # AdminAction: an entry of the instance's log (no room)
    actor_id: str | None  # None: the system (see SystemReason)
    target_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def by_moderator(action: ModAction, actor: Participant, target_id: str | None = None, **data: Any) -> ModerationEntry:
    return ModerationEntry(action, actor.user_id, target_id, data)


def by_system(action: ModAction, reason: SystemReason, target_id: str | None = None, **data: Any) -> ModerationEntry:
    return ModerationEntry(action, None, target_id, {**data, "reason": reason.value})


def room_ended(actor_id: str | None, stage: Iterable[Participant], reason: SystemReason | None) -> ModerationEntry:
    """The end of a room, with the moderators on stage at that moment (a moderator whose leaving ended it is still
    among them: the stage is the one before the command)."""
    moderators = sorted(p.user_id for p in stage if p.role is Role.MODERATOR)
    data: dict[str, Any] = {"moderators": moderators}
    if reason is not None:
        data["reason"] = reason.value
    return ModerationEntry(ModAction.END_ROOM, actor_id, None, data)


def moderators_at_end(end_entry_data: dict[str, Any] | None) -> list[str]:
    """Who moderated a room when it ended, from its ``end_room`` entry (none for rooms ended before the log)."""
    if end_entry_data is None:
        return []
    return [str(u) for u in end_entry_data.get("moderators", [])]


# --- reading the log --------------------------------------------------------------------------------------------


def check_log_reader(
    room: Room | None,
    viewer_id: str,
    access: Access,
    participant: Participant | None,
    moderators_at_end: Collection[str],
) -> Room:
    """A room's log is for its moderators and for admins. While the room is live that means its current moderators;
    once it ended, those who moderated it at the end. Whoever may not know the room exists gets ``not_found``, like
    everywhere else; someone outside a live room ``not_in_room``; anyone else ``not_allowed``."""
    if room is None:
        raise no_such_room()
    if access.is_admin:
        return room
    if room.ended:
        if viewer_id in moderators_at_end:
            return room
        if not can_see(room, access, None):
            raise no_such_room()
        raise refuse(ErrorCode.NOT_ALLOWED, "Only the room's moderators and admins can read its moderation log.")
    if not can_see(room, access, participant):
        raise no_such_room()
    if participant is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "You are not in this room.")
    if participant.role is not Role.MODERATOR:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only the room's moderators and admins can read its moderation log.")
    return room


def parse_action(value: str) -> ModAction | AdminAction:
    """A stored action name, from either vocabulary."""
    return ModAction(value) if value in ModAction.__members__.values() else AdminAction(value)


@dataclass(frozen=True)
class LogRecord:
    id: str
    room_id: str | None  # None: the instance's log
    action: ModAction | AdminAction
    actor: Profile | None  # None: the system
    target: Profile | None
    data: dict[str, Any]
    created_at: datetime
