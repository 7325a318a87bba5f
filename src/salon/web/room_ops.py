"""Web layer: the room commands, each declared once in :data:`ROOM_COMMANDS`; both edges are made from that table.

A room command is something the caller does in one room: join it, raise a hand, mute someone, end it. Each one is
a REST route ``POST /rooms/{room_id}<path>`` (routes_rooms.py; the payload is the JSON body) and a WebSocket op
(ws_protocol.py, answered by ws.py; the payload's fields and ``room_id`` are its ``data``). Both edges call the
command's ``run``, which calls one ``salon.app`` use case, so the server enforces the same rules through either
door. Each edge validates the payload under its own rules: the REST bodies are models of schemas_rooms.py, and the
WebSocket makes its data models from them with the protocol's stricter types (ws_protocol.command_data).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from salon.app import interpretation, pings, rooms, stage
from salon.app.ratelimit import PINGED_PER_MINUTE, PINGS_PER_HOUR, PINGS_PER_MINUTE
from salon.app.services import Services
from salon.web.schemas_interpretation import BoothTarget, DuckingSetting, InterpreterTarget, LanguagesSetting
from salon.web.schemas_rooms import CommandDone, HandsSetting, ModeratorChange, MuteTarget, PingDone, SelfMute, Target

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


class Applied(Protocol):
    """What a room command's use case answers: the room's seq once it is applied (``room_commands.Result``,
    ``interpretation.Done``)."""

    @property
    def seq(self) -> int: ...


class NoBody(BaseModel):
    """The payload of a command that needs nothing but its room: no request body, no data beyond ``room_id``."""


@dataclass(frozen=True)
class RoomCommand(Generic[P, R]):
    op: str  # the WebSocket op
    name: str  # the REST endpoint's name, from which FastAPI makes the OpenAPI operation id
    path: str  # below /rooms/{room_id}
    summary: str
    description: str | None  # the OpenAPI description, when the summary is not enough
    body: type[P]  # the payload as the REST body model (NoBody: none)
    reply: type[R]  # the REST response model; its fields are also the WebSocket reply's data
    run: Callable[[Services, str, str, P], Awaitable[R]]  # (services, the caller's user id, the room id, payload)


def _typed(command: RoomCommand[P, R]) -> RoomCommand[Any, Any]:
    # The table holds commands of every payload type, hence Any there; an entry built inside this call is still
    # checked on its own (its payload and answer against its run).
    return command


def _command(
    op: str,
    path: str,
    summary: str,
    body: type[P],
    run: Callable[[Services, str, str, P], Awaitable[Applied]],
    name: str | None = None,
) -> RoomCommand[Any, Any]:
    """A command answered with the seq of its last event (every command but ping). The REST endpoint is named
    after the op unless ``name`` says otherwise."""

    async def run_then_seq(services: Services, user_id: str, room_id: str, payload: P) -> CommandDone:
        return CommandDone(seq=(await run(services, user_id, room_id, payload)).seq)

    return _typed(RoomCommand(op, name or op, path, summary, None, body, CommandDone, run_then_seq))


async def _ping(services: Services, user_id: str, room_id: str, body: Target) -> PingDone:
    done = await pings.ping(services, user_id, room_id, body.user_id)
    return PingDone(let_in=done.let_in)


# In the order of the REST routes in the OpenAPI document and of the ops in WS_OPS.
ROOM_COMMANDS: tuple[RoomCommand[Any, Any], ...] = (
    _command(
        op="join",
        path="/join",
        summary="Join (as a listener, or on stage if invited up)",
        body=NoBody,
        run=lambda services, actor, room, _: stage.join(services, actor, room),
    ),
    _command(
        op="leave",
        path="/leave",
        summary="Leave quietly",
        body=NoBody,
        run=lambda services, actor, room, _: stage.leave(services, actor, room),
    ),
    _command(
        op="raise_hand",
        path="/hand/raise",
        summary="Raise your hand",
        body=NoBody,
        run=lambda services, actor, room, _: stage.raise_hand(services, actor, room),
    ),
    _command(
        op="lower_hand",
        path="/hand/lower",
        summary="Lower your hand",
        body=NoBody,
        run=lambda services, actor, room, _: stage.lower_hand(services, actor, room),
    ),
    _command(
        op="set_hands_enabled",
        name="set_hands",
        path="/hands",
        summary="Turn hand-raising on or off (moderators)",
        body=HandsSetting,
        run=lambda services, actor, room, body: stage.set_hands_enabled(services, actor, room, body.enabled),
    ),
    _command(
        op="invite_up",
        path="/invite-up",
        summary="Invite someone to speak (moderators)",
        body=Target,
        run=lambda services, actor, room, body: stage.invite_up(services, actor, room, body.user_id),
    ),
    _command(
        op="accept_invite",
        path="/invite-up/accept",
        summary="Accept an invitation to speak",
        body=NoBody,
        run=lambda services, actor, room, _: stage.accept_stage_invite(services, actor, room),
    ),
    _command(
        op="decline_invite",
        path="/invite-up/decline",
        summary="Decline an invitation to speak",
        body=NoBody,
        run=lambda services, actor, room, _: stage.decline_stage_invite(services, actor, room),
    ),
    _command(
        op="mute",
        path="/mute",
        summary="Mute a speaker, optionally locked (moderators)",
        body=MuteTarget,
        run=lambda services, actor, room, body: stage.mute(services, actor, room, body.user_id, body.lock),
    ),
    _command(
        op="unlock_mute",
        path="/unlock-mute",
        summary="Let a muted speaker unmute (moderators)",
        body=Target,
        run=lambda services, actor, room, body: stage.unlock_mute(services, actor, room, body.user_id),
    ),
    _command(
        op="self_mute",
        path="/self-mute",
        summary="Mute or unmute yourself",
        body=SelfMute,
        run=lambda services, actor, room, body: stage.set_self_muted(services, actor, room, body.muted),
    ),
    _command(
        op="move_to_audience",
        path="/move-to-audience",
        summary="Move someone off stage",
        body=Target,
        run=lambda services, actor, room, body: stage.move_to_audience(services, actor, room, body.user_id),
    ),
    _command(
        op="set_moderator",
        path="/moderators",
        summary="Make or unmake a moderator",
        body=ModeratorChange,
        run=lambda services, actor, room, body: stage.set_moderator(services, actor, room, body.user_id, body.make),
    ),
    _command(
        op="remove",
        path="/remove",
        summary="Remove someone; they cannot rejoin",
        body=Target,
        run=lambda services, actor, room, body: stage.remove(services, actor, room, body.user_id),
    ),
    _command(
        op="let_in",
        path="/let-in",
        summary="Let a member into a closed room",
        body=Target,
        run=lambda services, actor, room, body: stage.let_in(services, actor, room, body.user_id),
    ),
    _typed(
        RoomCommand(
            op="ping_member",  # not "ping": that op is the connection's keepalive
            name="ping",
            path="/ping",
            summary="Ping a member into the room",
            description=(
                "Someone in the room tells a member about it (a `pinged` notification, pushed live). Listeners and "
                "speakers ping members they follow, into a room those members may see; moderators ping anyone, and a "
                "moderator's ping lets the member into a closed or social room (logged as `let_in`). Refused with "
                "`blocked` / `unblock_first` across a block, `conflict` when the member is already in the room, "
                f"`rate_limited` past {PINGS_PER_MINUTE} pings a minute or {PINGS_PER_HOUR} an hour per pinger, or "
                f"{PINGED_PER_MINUTE} a minute per member pinged. Also the WebSocket op `ping_member`."
            ),
            body=Target,
            reply=PingDone,
            run=_ping,
        )
    ),
    # Interpretation channels (app/interpretation.py): moderators set the languages and the interpreters; each
    # interpreter moves their own booth's floor.
    _command(
        op="set_languages",
        path="/languages",
        summary="Set the room's floor language and interpretation channels (moderators)",
        body=LanguagesSetting,
        run=lambda services, actor, room, body: interpretation.set_languages(
            services,
            actor,
            room,
            interpretation.check_languages(body.floor, body.channels),
            body.ducking_db,
        ),
    ),
    _command(
        op="set_ducking",
        path="/ducking",
        summary="Change how far the floor goes down under a live interpreter, in every channel, live (moderators)",
        body=DuckingSetting,
        run=lambda services, actor, room, body: interpretation.set_ducking(services, actor, room, body.ducking_db),
    ),
    _command(
        op="assign_interpreter",
        path="/interpreters",
        summary="Make a member of the room an interpreter of a channel (moderators)",
        body=InterpreterTarget,
        run=lambda services, actor, room, body: interpretation.assign_interpreter(
            services, actor, room, body.language, body.user_id
        ),
    ),
    _command(
        op="remove_interpreter",
        path="/interpreters/remove",
        summary="Take the interpreter role away; their channel audio is cut at once (moderators)",
        body=InterpreterTarget,
        run=lambda services, actor, room, body: interpretation.remove_interpreter(
            services, actor, room, body.language, body.user_id
        ),
    ),
    _command(
        op="take_booth",
        path="/booth/take",
        summary="Go live in your booth, or take the handover your partner offered (interpreters)",
        body=BoothTarget,
        run=lambda services, actor, room, body: interpretation.take_booth(services, actor, room, body.language),
    ),
    _command(
        op="offer_handover",
        path="/booth/hand-over",
        summary="Offer your booth's floor to your partner; you stay live until they take it (the live interpreter)",
        body=BoothTarget,
        run=lambda services, actor, room, body: interpretation.offer_handover(services, actor, room, body.language),
    ),
    _command(
        op="release_booth",
        path="/booth/release",
        summary="Stop interpreting: the channel plays the floor at full level (the live interpreter)",
        body=BoothTarget,
        run=lambda services, actor, room, body: interpretation.release_booth(services, actor, room, body.language),
    ),
    _command(
        op="end_room",
        path="/end",
        summary="End the room (moderators, admins)",
        body=NoBody,
        run=lambda services, actor, room, _: rooms.end_room(services, actor, room),
    ),
)
