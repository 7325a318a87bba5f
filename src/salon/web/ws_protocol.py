"""Web layer: the WebSocket wire protocol (version 1) — typed client messages and the server's frames.

A client sends ``{"op", "ref", "data"}``: ``op`` picks one model of a union (``Literal`` tags, ``extra="forbid"``,
strict types), ``ref`` is the client's own tag echoed in the ``reply`` or ``error`` frame that answers it. Every
op is listed once, in :data:`OPS`; the union and :data:`WS_OPS` (the table the authorization matrix test iterates)
are made from it. The server sends frames with a ``type``: ``hello``, ``reply``, ``error``, ``snapshot``,
``resync``, ``event``, ``signal``, ``removed``, ``user_event``, ``hallway`` (to a client whose hallway is open:
``hallway_watch``; see web/hallway_live.py).
Room ``event`` frames carry the room's ``seq``; a client that resubscribes with its last ``seq`` misses nothing.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
)

from salon.app.ports import RoomMessage
from salon.domain.errors import DomainError, ErrorCode
from salon.web.room_ops import ROOM_COMMANDS, NoBody, RoomCommand
from salon.web.schemas_interpretation import Channels, DuckingDb, Language, MemberId, WsChannels, WsLanguage
from salon.web.schemas_rooms import UserId
from salon.web.schemas_text import ID_PATTERN

PROTOCOL_VERSION = 1
MAX_MESSAGE_CHARS = 16 * 1024

Id = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=ID_PATTERN)]
Ref = Annotated[str, StringConstraints(strict=True, max_length=64)] | Annotated[int, Field(strict=True)] | None
Seq = Annotated[int, Field(strict=True, ge=0)]
P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- op data -----------------------------------------------------------------------------------------------------


class NoData(_Closed):
    pass


class RoomData(_Closed):
    room_id: Id


class SubscribeData(RoomData):
    last_seq: Seq | None = None


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


HALLWAY_PAGE_MAX = 50  # app.hallway.MAX_PAGE


class HallwayWatchData(_Closed):
    limit: Annotated[int, Field(strict=True, ge=1, le=HALLWAY_PAGE_MAX)] = 20


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


class HallwayWatch(_Op):
    """Open the live hallway: the reply is the first ranked page; ``hallway`` frames follow as rooms change."""

    op: Literal["hallway_watch"]
    data: HallwayWatchData = HallwayWatchData()


class HallwayUnwatch(_Op):
    op: Literal["hallway_unwatch"]
    data: NoData = NoData()


# --- the room commands' ops, made from room_ops.ROOM_COMMANDS ------------------------------------------------------


class RoomOp(_Op):
    """A room command (room_ops.py); its ``data`` is the command's own data model, made by :func:`command_data`."""

    data: RoomData


# The WebSocket's rule for each type a REST body's field may have: ids are up to 64 characters of an id's alphabet,
# like every id of this protocol, and values are strictly typed (no "true" for true). A body with a field of another
# type (a text, say) stops the import until its rule is written here.
_FIELD_TYPES: dict[object, object] = {
    UserId: Id,
    MemberId: Id,
    StrictBool: StrictBool,
    Language: WsLanguage,
    Language | None: WsLanguage | None,
    Channels: WsChannels,
    DuckingDb: DuckingDb,
}


@functools.cache
def command_data(body: type[BaseModel]) -> type[RoomData]:
    """The data of a command's op: ``room_id`` and the fields of the command's REST body, under this protocol's
    rules (one model per body, shared by the ops that take it)."""
    if body is NoBody:
        return RoomData
    hints = get_type_hints(body, include_extras=True)
    fields: dict[str, Any] = {}
    for name, info in body.model_fields.items():
        if hints[name] not in _FIELD_TYPES:
            raise TypeError(f"{body.__name__}.{name}: no WebSocket rule for {hints[name]!r} (ws_protocol._FIELD_TYPES)")
        default: Any = ... if info.is_required() else info.default
        if info.default_factory is not None:
            default = Field(default_factory=info.default_factory)
        fields[name] = (_FIELD_TYPES[hints[name]], default)
    return create_model(f"{body.__name__}Data", __base__=RoomData, **fields)


def payload(body: type[P], data: RoomData) -> P:
    """A command's payload from its op's data. The data passed this protocol's rules, not the REST body's, so its
    values are carried over as they are rather than validated again (which would apply the other edge's rules)."""
    return body.model_construct(**{name: getattr(data, name) for name in body.model_fields})


def _command_op(command: RoomCommand[P, R]) -> type[RoomOp]:
    name = "".join(word.capitalize() for word in command.op.split("_"))
    tag: Any = Literal[command.op]  # a Literal made at run time: the checker cannot see its value
    return create_model(name, __base__=RoomOp, op=(tag, ...), data=(command_data(command.body), ...))


COMMAND_OPS: dict[str, type[RoomOp]] = {command.op: _command_op(command) for command in ROOM_COMMANDS}


# --- media signalling ops ----------------------------------------------------------------------------------------


class MediaListen(_Op):
    op: Literal["media_listen"]
    data: RoomData


class MediaSpeakerMix(_Op):
    """Hear each speaker on a track of their own (listeners only): the reply is the offer (answer with
    ``media_answer``) and ``tracks``, which mid carries each speaker; ``speaker_tracks`` signals follow changes."""

    op: Literal["media_speaker_mix"]
    data: RoomData


class MediaStream(_Op):
    """Hear the room on the broadcast tier: the reply carries the stream's URL with a single-use ticket."""

    op: Literal["media_stream"]
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


# --- interpretation channels' media ops (app/interpretation.py) ----------------------------------------------------


class ChannelData(RoomData):
    language: WsLanguage


class PickLanguageData(RoomData):
    language: WsLanguage | None  # null: the Original


class InterpretData(ChannelData):
    jsep: Offer


class InterpretCandidateData(ChannelData):
    candidate: Candidate | None


class MediaPickLanguage(_Op):
    """The language picker: move this connection's listen connection to a channel or back to the Original, without
    renegotiating (the client remembers the choice)."""

    op: Literal["media_pick_language"]
    data: PickLanguageData


class MediaChannelListen(_Op):
    """Hear a channel on a new WebRTC listen connection (the server's offer; answer with ``media_answer``)."""

    op: Literal["media_channel_listen"]
    data: ChannelData


class MediaChannelStream(_Op):
    """Hear a channel on the broadcast tier."""

    op: Literal["media_channel_stream"]
    data: ChannelData


class MediaInterpret(_Op):
    """An interpreter's connection into their channel (never the floor); muted in the media plane unless live."""

    op: Literal["media_interpret"]
    data: InterpretData


class MediaInterpretCandidate(_Op):
    op: Literal["media_interpret_candidate"]
    data: InterpretCandidateData


class MediaInterpretClose(_Op):
    op: Literal["media_interpret_close"]
    data: ChannelData


# Every op once; the union that parses a message and WS_OPS are derived from this list.
OPS: tuple[type[_Op], ...] = (
    Subscribe,
    Unsubscribe,
    Ping,
    HallwayWatch,
    HallwayUnwatch,
    *COMMAND_OPS.values(),
    MediaListen,
    MediaSpeakerMix,
    MediaStream,
    MediaAnswer,
    MediaSpeak,
    MediaCandidate,
    MediaClose,
    MediaPickLanguage,
    MediaChannelListen,
    MediaChannelStream,
    MediaInterpret,
    MediaInterpretCandidate,
    MediaInterpretClose,
)


def _op_name(model: type[_Op]) -> str:
    (name,) = get_args(model.model_fields["op"].annotation)
    return str(name)


WS_OPS: dict[str, type[BaseModel]] = {_op_name(model): model for model in OPS}

# A union made from the list at run time (``Union`` of a tuple, which has no ``X | Y`` spelling): pydantic reads it,
# a type checker cannot, hence ``Any``; what it parses is always one of OPS.
ClientMessage: Any = Annotated[Union[OPS], Field(discriminator="op")]  # noqa: UP007
_MESSAGE: TypeAdapter[_Op] = TypeAdapter(ClientMessage)


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


def hallway(rooms: list[dict[str, Any]], removed: list[str]) -> dict[str, Any]:
    """What changed in an open hallway: cards of rooms to show or refresh (as ``GET /hallway`` lists them), and the
    ids of rooms shown before that ended or may no longer be seen."""
    return {"type": "hallway", "rooms": rooms, "removed": removed}
