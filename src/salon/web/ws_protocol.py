"""Web layer: the WebSocket wire protocol (version 1) — typed client messages and the server's frames.

A client sends ``{"op", "ref", "data"}``: ``op`` picks one model of a union (``Literal`` tags, ``extra="forbid"``,
strict types), ``ref`` is the client's own tag echoed in the ``reply`` or ``error`` frame that answers it. Every
op is listed in :data:`WS_OPS`; the authorization matrix test iterates that table. The server sends frames with a
``type``: ``hello``, ``reply``, ``error``, ``snapshot``, ``resync``, ``event``, ``signal``, ``removed``,
``user_event``.
Room ``event`` frames carry the room's ``seq``; a client that resubscribes with its last ``seq`` misses nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, TypeAdapter, ValidationError

from salon.app.ports import RoomMessage
from salon.domain.errors import DomainError, ErrorCode

PROTOCOL_VERSION = 1
MAX_MESSAGE_CHARS = 16 * 1024

Id = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
Ref = Annotated[str, StringConstraints(strict=True, max_length=64)] | Annotated[int, Field(strict=True)] | None
Seq = Annotated[int, Field(strict=True, ge=0)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- op data -----------------------------------------------------------------------------------------------------


class NoData(_Closed):
    pass


class RoomData(_Closed):
    room_id: Id


class SubscribeData(RoomData):
    last_seq: Seq | None = None


class TargetData(RoomData):
    user_id: Id


class HandsData(RoomData):
    enabled: StrictBool


class MuteData(TargetData):
    lock: StrictBool = False


class SelfMuteData(RoomData):
    muted: StrictBool


class ModeratorData(TargetData):
    make: StrictBool


MAX_SDP_CHARS = 12 * 1024  # an audio-only offer from Chromium or aiortc is 2–5 KB
Sdp = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=MAX_SDP_CHARS)]
Kind = Literal["listen", "speak"]


class Offer(_Closed):
    type: Literal["offer"]
    sdp: Sdp


class Answer(_Closed):
    type: Literal["answer"]
    sdp: Sdp


class Candidate(_Closed):
    """An RTCIceCandidateInit as browsers serialise it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)
    candidate: Annotated[str, StringConstraints(strict=True, max_length=1024)]
    sdp_mid: Annotated[str, StringConstraints(strict=True, max_length=64)] | None = Field(None, alias="sdpMid")
    sdp_mline_index: Annotated[int, Field(strict=True, ge=0, le=64)] | None = Field(None, alias="sdpMLineIndex")
    username_fragment: Annotated[str, StringConstraints(strict=True, max_length=256)] | None = Field(
        None, alias="usernameFragment"
    )


class MediaAnswerData(RoomData):
    jsep: Answer


class MediaSpeakData(RoomData):
    jsep: Offer


class MediaCandidateData(RoomData):
    media: Kind
    candidate: Candidate | None  # null: the client has no more candidates


class MediaCloseData(RoomData):
    media: Kind


# --- ops: one model each -----------------------------------------------------------------------------------------


class _Op(_Closed):
    ref: Ref = None


class Subscribe(_Op):
    op: Literal["subscribe"]
    data: SubscribeData


class Unsubscribe(_Op):
    op: Literal["unsubscribe"]
    data: RoomData


class Ping(_Op):
    op: Literal["ping"]
    data: NoData = NoData()


class Join(_Op):
    op: Literal["join"]
    data: RoomData


class Leave(_Op):
    op: Literal["leave"]
    data: RoomData


class RaiseHand(_Op):
    op: Literal["raise_hand"]
    data: RoomData


class LowerHand(_Op):
    op: Literal["lower_hand"]
    data: RoomData


class SetHandsEnabled(_Op):
    op: Literal["set_hands_enabled"]
    data: HandsData


class InviteUp(_Op):
    op: Literal["invite_up"]
    data: TargetData


class AcceptInvite(_Op):
    op: Literal["accept_invite"]
    data: RoomData


class DeclineInvite(_Op):
    op: Literal["decline_invite"]
    data: RoomData


class Mute(_Op):
    op: Literal["mute"]
    data: MuteData


class UnlockMute(_Op):
    op: Literal["unlock_mute"]
    data: TargetData


class SelfMute(_Op):
    op: Literal["self_mute"]
    data: SelfMuteData


class MoveToAudience(_Op):
    op: Literal["move_to_audience"]
    data: TargetData


class SetModerator(_Op):
    op: Literal["set_moderator"]
    data: ModeratorData


class Remove(_Op):
    op: Literal["remove"]
    data: TargetData


class LetIn(_Op):
    op: Literal["let_in"]
    data: TargetData


class PingMember(_Op):
    """Ping a member into the room (``ping`` is the connection's keepalive)."""

    op: Literal["ping_member"]
    data: TargetData


class EndRoom(_Op):
    op: Literal["end_room"]
    data: RoomData


class MediaListen(_Op):
    op: Literal["media_listen"]
    data: RoomData


class MediaAnswer(_Op):
    op: Literal["media_answer"]
    data: MediaAnswerData


class MediaSpeak(_Op):
    op: Literal["media_speak"]
    data: MediaSpeakData


class MediaCandidate(_Op):
    op: Literal["media_candidate"]
    data: MediaCandidateData


class MediaClose(_Op):
    op: Literal["media_close"]
    data: MediaCloseData


ClientMessage = Annotated[
    Subscribe
    | Unsubscribe
    | Ping
    | Join
    | Leave
    | RaiseHand
    | LowerHand
    | SetHandsEnabled
    | InviteUp
    | AcceptInvite
    | DeclineInvite
    | Mute
    | UnlockMute
    | SelfMute
    | MoveToAudience
    | SetModerator
    | Remove
    | LetIn
    | PingMember
    | EndRoom
    | MediaListen
    | MediaAnswer
    | MediaSpeak
    | MediaCandidate
    | MediaClose,
    Field(discriminator="op"),
]

WS_OPS: dict[str, type[BaseModel]] = {
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "ping": Ping,
    "join": Join,
    "leave": Leave,
    "raise_hand": RaiseHand,
    "lower_hand": LowerHand,
    "set_hands_enabled": SetHandsEnabled,
    "invite_up": InviteUp,
    "accept_invite": AcceptInvite,
    "decline_invite": DeclineInvite,
    "mute": Mute,
    "unlock_mute": UnlockMute,
    "self_mute": SelfMute,
    "move_to_audience": MoveToAudience,
    "set_moderator": SetModerator,
    "remove": Remove,
    "let_in": LetIn,
    "ping_member": PingMember,
    "end_room": EndRoom,
    "media_listen": MediaListen,
    "media_answer": MediaAnswer,
    "media_speak": MediaSpeak,
    "media_candidate": MediaCandidate,
    "media_close": MediaClose,
}

_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse(message: dict[str, Any]) -> BaseModel:
    """Validate one decoded client message; ``invalid_input`` (with the field errors) when it does not fit."""
    op = message.get("op")
    if not isinstance(op, str) or op not in WS_OPS:
        raise DomainError(ErrorCode.INVALID_INPUT, "Unknown op.", {"ops": sorted(WS_OPS)})
    try:
        return _MESSAGE.validate_python(message)
    except ValidationError as exc:
        errors = [
            {"loc": [str(x) for x in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        message_text = "This message does not fit the protocol."
        raise DomainError(ErrorCode.INVALID_INPUT, message_text, {"errors": errors}) from None


def ref_of(message: object) -> str | int | None:
    """The ``ref`` of a message that may not validate, when it is a usable one (to tag the error frame)."""
    if not isinstance(message, dict):
        return None
    ref = message.get("ref")
    if isinstance(ref, bool) or not isinstance(ref, str | int) or (isinstance(ref, str) and len(ref) > 64):
        return None
    return ref


# --- server frames -----------------------------------------------------------------------------------------------


def hello(user_id: str) -> dict[str, Any]:
    return {"type": "hello", "user_id": user_id, "protocol": PROTOCOL_VERSION}


def reply(ref: str | int | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "reply", "ref": ref, "data": data}


def error(ref: str | int | None, exc: DomainError) -> dict[str, Any]:
    return {"type": "error", "ref": ref, "error": exc.to_dict()}


def internal_error(ref: str | int | None) -> dict[str, Any]:
    """An unexpected failure on our side (logged with its traceback); same code as the HTTP API's."""
    return error(ref, DomainError(ErrorCode.INTERNAL, "Something went wrong."))


def snapshot(room_id: str, view: dict[str, Any]) -> dict[str, Any]:
    return {"type": "snapshot", "room_id": room_id, "data": view}


def resync(room_id: str, seq: int) -> dict[str, Any]:
    return {"type": "resync", "room_id": room_id, "seq": seq}


def event(message: RoomMessage) -> dict[str, Any]:
    return {"type": "event", "room_id": message.room_id, "seq": message.seq, "name": message.name, "data": message.data}


def signal(room_id: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A passing state of a room (``speakers``, ``media_reset``): no ``seq``, not replayed on resume."""
    return {"type": "signal", "room_id": room_id, "name": name, "data": data}


def removed(room_id: str, reason: str) -> dict[str, Any]:
    return {"type": "removed", "room_id": room_id, "reason": reason}


def user_event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "user_event", "name": name, "data": data}
