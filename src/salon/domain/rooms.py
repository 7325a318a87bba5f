"""Domain layer: rooms, roles and the stage.

Every rule about who may do what in a room lives here, as pure functions of the state passed in (Synapse's
``event_auth`` habit). Each command either raises :class:`~salon.domain.errors.DomainError` or returns the
changes to persist and the events to publish; the app layer loads the state, calls the rule, saves and publishes
after commit. Time comes in as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal

from salon.domain.errors import DomainError, ErrorCode, refuse
from salon.domain.text import check_name, check_text

if TYPE_CHECKING:  # moderation.py reads rooms; Outcome only names its entries
    from salon.domain.moderation import ModerationEntry


class RoomType(StrEnum):
    OPEN = "open"
    SOCIAL = "social"
    CLOSED = "closed"


class Role(StrEnum):
    MODERATOR = "moderator"
    SPEAKER = "speaker"
    LISTENER = "listener"

    @property
    def on_stage(self) -> bool:
        return self is not Role.LISTENER


TITLE_MAX = 120
DESCRIPTION_MAX = 2000
TOPIC_MAX = 40
TOPICS_MAX = 5
DEFAULT_CAPACITY = 5000


@dataclass(frozen=True)
class Room:
    id: str
    title: str
    description: str
    topics: tuple[str, ...]
    type: RoomType
    capacity: int
    hands_enabled: bool
    created_by: str
    created_at: datetime
    ended_at: datetime | None = None
    audience_batched: bool = False

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


@dataclass(frozen=True)
class Profile:
    """The public card of a member, as shown next to them in a room."""

    user_id: str
    username: str
    display_name: str
    avatar_url: str | None = None


@dataclass(frozen=True)
class Participant:
    room_id: str
    user: Profile
    role: Role
    joined_at: datetime
    stage_since: datetime | None = None
    hand_raised_at: datetime | None = None
    muted: bool = False
    mute_locked: bool = False
    invited_up: bool = False
    # When an invitation up lapses (``stage.expire_stage_invite``); not on the wire: the lapse is an event.
    invited_until: datetime | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @property
    def notable(self) -> bool:
        """A listener the room must list individually even when its audience is only a count."""
        return self.hand_raised_at is not None or self.invited_up


RoomEventName = Literal[
    "participant_joined",
    "participant_left",
    "hand_raised",
    "hand_lowered",
    "stage_invited",
    "stage_invite_declined",
    "stage_invite_expired",
    "role_changed",
    "mute_changed",
    "hands_enabled",
    "audience_batched",
    "listener_count",
    "interpretation_changed",
    "room_ended",
]
"""Every event of a room's stream (its wire name). Closed, so a misspelt name anywhere is a type error."""

# The event that closes a room's stream; layers above compare against it to stop following the room.
ROOM_ENDED: Final[RoomEventName] = "room_ended"


@dataclass(frozen=True)
class Event:
    """A change to a room as clients see it. ``name`` and ``data`` go on the wire unchanged."""

    name: RoomEventName
    data: dict[str, Any]


@dataclass
class Outcome:
    """What a command decided: rows to write and events to publish (in order)."""

    upserts: list[Participant] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    room: Room | None = None
    ban: str | None = None
    grant_access: str | None = None
    stage_invite: str | None = None
    clear_stage_invite: str | None = None
    moderation: list[ModerationEntry] = field(default_factory=list)  # the moderation log's entries (moderation.py)

    def put(self, participant: Participant, event: Event | None = None) -> None:
        self.upserts = [p for p in self.upserts if p.user_id != participant.user_id] + [participant]
        if event is not None:
            self.events.append(event)


# --- validation of what a creator types -------------------------------------------------------------------------


def clean_room_fields(
    title: str, description: str, topics: list[str], capacity: int | None, max_capacity: int
) -> tuple[str, str, tuple[str, ...], int]:
    title = " ".join(check_name(title, "title").split())
    if not 1 <= len(title) <= TITLE_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"A title needs 1 to {TITLE_MAX} characters.", field="title")
    description = check_text(description, "description", multiline=True).strip()
    if len(description) > DESCRIPTION_MAX:
        raise refuse(
            ErrorCode.INVALID_INPUT, f"The description is over {DESCRIPTION_MAX} characters.", field="description"
        )
    cleaned: list[str] = []
    for topic in topics:
        t = " ".join(check_name(topic, "topics").split())
        if not 1 <= len(t) <= TOPIC_MAX:
            raise refuse(ErrorCode.INVALID_INPUT, f"Each topic needs 1 to {TOPIC_MAX} characters.", field="topics")
        if t.casefold() not in {c.casefold() for c in cleaned}:
            cleaned.append(t)
    if len(cleaned) > TOPICS_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"At most {TOPICS_MAX} topics.", field="topics")
    cap = max_capacity if capacity is None else capacity
    if not 2 <= cap <= max_capacity:
        raise refuse(ErrorCode.INVALID_INPUT, f"Capacity must be between 2 and {max_capacity}.", field="capacity")
    return title, description, tuple(cleaned), cap


# --- who may see and enter -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What the app knows about one member's relation to one room."""

    is_admin: bool = False
    banned: bool = False
    let_in: bool = False
    stage_invite: bool = False
    follows_a_moderator: bool = False  # follows at least one of the room's moderators (social rooms)
    blocked_by_a_moderator: bool = False  # a moderator of the room blocked this member
    invited_as_moderator: bool = False  # the stage invitation makes them a moderator (a scheduled event's host)


def can_see(room: Room, access: Access, participant: Participant | None) -> bool:
    """Whether a member may know the room exists. A closed room is invisible to outsiders, a social room to those
    who follow none of its moderators, and any room to someone one of its moderators blocked (unless they are
    already inside, or are invited up as a moderator: a scheduled event's host). A moderator lets someone into a
    closed or a social room (``stage.let_in``, or pinging them: ``pings.ping``)."""
    if access.is_admin or participant is not None:
        return True
    if access.blocked_by_a_moderator and not access.invited_as_moderator:
        return False
    if room.type is RoomType.CLOSED:
        return access.let_in or access.stage_invite
    if room.type is RoomType.SOCIAL:
        return access.follows_a_moderator or access.let_in or access.stage_invite
    return True


def no_such_room() -> DomainError:
    """The one answer for a room that does not exist and for a room the member may not know about: the same words
    either way, so that nobody can tell the two apart."""
    return refuse(ErrorCode.NOT_FOUND, "No such room.")  # the only place these words are written


RoomNeed = Literal["see", "follow", "act"]


def check_room_access(room: Room | None, access: Access, participant: Participant | None, need: RoomNeed) -> Room:
    """The one answer to "may this member reach this room?", for what they want of it:

    * ``see``: know it exists and read it (its snapshot, the listeners its speakers follow, reporting it);
    * ``follow``: follow its live stream or read its past events: as ``see``, except someone a moderator removed;
    * ``act``: send it a command (or a media request): as ``see``, and a removed member too, so that the command's
      own rule refuses them with ``removed_from_room`` in its own words.

    Whoever may not know the room exists gets ``not_found``, the same answer as for no room at all."""
    if room is None or not (can_see(room, access, participant) or (need == "act" and access.banned)):
        raise no_such_room()
    if need == "follow" and access.banned:
        raise refuse(ErrorCode.REMOVED_FROM_ROOM, "You were removed from this room.")
    return room


# --- wire shapes -----------------------------------------------------------------------------------------------


def profile_data(user: Profile) -> dict[str, Any]:
    """A member's card on the wire (in a participant, and in notifications about someone)."""
    return {
        "id": user.user_id,
        "username": user.username,
        "display_name": user.display_name,
        "avatar_url": user.avatar_url,
    }


def participant_data(p: Participant) -> dict[str, Any]:
    return {
        "user": profile_data(p.user),
        "role": p.role.value,
        "joined_at": p.joined_at.isoformat(),
        "stage_since": p.stage_since.isoformat() if p.stage_since else None,
        "hand_raised_at": p.hand_raised_at.isoformat() if p.hand_raised_at else None,
        "muted": p.muted,
        "mute_locked": p.mute_locked,
        "invited_up": p.invited_up,
    }


def room_data(room: Room) -> dict[str, Any]:
    return {
        "id": room.id,
        "title": room.title,
        "description": room.description,
        "topics": list(room.topics),
        "type": room.type.value,
        "capacity": room.capacity,
        "hands_enabled": room.hands_enabled,
        "created_by": room.created_by,
        "created_at": room.created_at.isoformat(),
        "ended_at": room.ended_at.isoformat() if room.ended_at else None,
        "audience_batched": room.audience_batched,
    }
