"""Web layer: request and response models for rooms (validated at the edge, documented in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from salon.domain.interpretation import DEFAULT_DUCKING_DB
from salon.domain.rooms import DESCRIPTION_MAX, TITLE_MAX, TOPIC_MAX, TOPICS_MAX
from salon.web.schemas_interpretation import DuckingDb, InterpretationOut, LanguagesIn
from salon.web.schemas_text import ID_PATTERN, lines_rule, name_rule

UserId = Annotated[str, Field(min_length=1, max_length=32, pattern=ID_PATTERN)]
Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX), name_rule("title")]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), lines_rule("description")]
Topics = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=TOPIC_MAX), name_rule("topics")]], Field(max_length=TOPICS_MAX)
]


class Strict(BaseModel):
    """A request body: no unknown fields; booleans are ``StrictBool`` (``0`` or ``"yes"`` is not a boolean)."""

    model_config = ConfigDict(extra="forbid")


class CreateRoom(Strict):
    title: Title
    description: Description = ""
    topics: Topics = []
    type: Literal["open", "social", "closed"] = "open"
    capacity: Annotated[
        StrictInt | None, Field(ge=2, description="At most the server's `room_capacity` (the default).")
    ] = None
    languages: LanguagesIn | None = Field(None, description="The floor language and interpretation channels.")
    ducking_db: DuckingDb = DEFAULT_DUCKING_DB


class Target(Strict):
    user_id: UserId


class MuteTarget(Strict):
    user_id: UserId
    lock: StrictBool = False


class ModeratorChange(Strict):
    user_id: UserId
    make: StrictBool


class HandsSetting(Strict):
    enabled: StrictBool


class SelfMute(Strict):
    muted: StrictBool


class UserCard(BaseModel):
    id: str
    username: str
    display_name: str
    avatar_url: str | None


class ParticipantOut(BaseModel):
    user: UserCard
    role: Literal["moderator", "speaker", "listener"]
    joined_at: str
    stage_since: str | None
    hand_raised_at: str | None
    muted: bool
    mute_locked: bool
    invited_up: bool


class RoomOut(BaseModel):
    id: str
    title: str
    description: str
    topics: list[str]
    type: Literal["open", "social", "closed"]
    capacity: int
    hands_enabled: bool
    created_by: str
    created_at: str
    ended_at: str | None
    audience_batched: bool


class SnapshotOut(BaseModel):
    """A room as a client starts from. ``seq`` is the last event reflected; ``audience`` lists every listener
    until the room is big (``room.audience_batched``), then only raised hands and invitations up."""

    room: RoomOut
    seq: int
    stage: list[ParticipantOut]
    audience: list[ParticipantOut]
    listener_count: int
    interpretation: InterpretationOut | None = None


class RoomListItem(BaseModel):
    room: RoomOut
    stage: list[ParticipantOut]
    speaker_count: int
    listener_count: int


class CommandDone(BaseModel):
    """The room's seq once the command is applied: its last event, or the room's latest when it produced none."""

    seq: int


class PingDone(BaseModel):
    """The member was told (a ``pinged`` notification). ``let_in``: a moderator's ping let them into the room."""

    let_in: bool


class AudienceTiers(BaseModel):
    listeners: int
    webrtc: int
    broadcast: int


class EventOut(BaseModel):
    seq: int
    name: str
    data: dict[str, Any]


class MissedEvents(BaseModel):
    """Events after ``after``, in order; or ``resync: true`` when they are older than the retained window (load a
    fresh snapshot)."""

    events: list[EventOut]
    resync: bool
    seq: int


class FollowedByStage(BaseModel):
    user_ids: list[str]
