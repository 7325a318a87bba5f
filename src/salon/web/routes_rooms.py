"""Web layer: REST routes for rooms and the stage. Thin: validate, call one use case, shape the answer.

Every room command is also a WebSocket op (``ws_protocol.py``); both call the same ``salon.app`` functions, so
the server enforces the same rules on both.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from salon.app import pings, stage
from salon.app import rooms as room_cases
from salon.app.ratelimit import PINGED_PER_MINUTE, PINGS_PER_HOUR, PINGS_PER_MINUTE
from salon.app.room_commands import Result
from salon.domain.rooms import RoomType
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_rooms import (
    CommandDone,
    CreateRoom,
    EventOut,
    FollowedByStage,
    HandsSetting,
    MissedEvents,
    ModeratorChange,
    MuteTarget,
    PingDone,
    RoomListItem,
    SelfMute,
    SnapshotOut,
    Target,
)

router = APIRouter(tags=["rooms"])

RoomId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


def _done(result: Result) -> CommandDone:
    return CommandDone(seq=result.seq)


@router.post("/rooms", status_code=201, response_model=SnapshotOut, summary="Open a room (you moderate it)")
async def create_room(body: CreateRoom, actor: CurrentActor, services: ServicesDep) -> dict[str, Any]:
    spec = room_cases.NewRoom(body.title, body.description, body.topics, RoomType(body.type), body.capacity)
    return await room_cases.create_room(services, actor.user_id, spec)


@router.get("/rooms", response_model=list[RoomListItem], summary="Live rooms you may join")
async def list_rooms(actor: CurrentActor, services: ServicesDep) -> list[dict[str, Any]]:
    return await room_cases.list_live_rooms(services, actor.user_id)


@router.get("/rooms/{room_id}", response_model=SnapshotOut, summary="A room's snapshot")
async def get_room(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> dict[str, Any]:
    return await room_cases.get_snapshot(services, actor.user_id, room_id)


@router.get(
    "/rooms/{room_id}/followed-by-speakers",
    response_model=FollowedByStage,
    summary="Listeners someone on stage follows (the audience's first row)",
)
async def followed_by_speakers(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> FollowedByStage:
    """Clients list these listeners first in the audience, as Clubhouse did. At most 500, longest in the room
    first; ask again when the stage changes."""
    return FollowedByStage(user_ids=await room_cases.followed_by_stage(services, actor.user_id, room_id))


@router.get("/rooms/{room_id}/events", response_model=MissedEvents, summary="Events after a seq (resume)")
async def get_events(
    room_id: RoomId, actor: CurrentActor, services: ServicesDep, after: Annotated[int, Query(ge=0)]
) -> MissedEvents:
    missed = await room_cases.events_since(services, actor.user_id, room_id, after)
    events = [EventOut(seq=m.seq, name=m.name, data=m.data) for m in missed.messages]
    return MissedEvents(events=events, resync=missed.resync, seq=missed.seq)


@router.post(
    "/rooms/{room_id}/join", response_model=CommandDone, summary="Join (as a listener, or on stage if invited up)"
)
async def join(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.join(services, actor.user_id, room_id))


@router.post("/rooms/{room_id}/leave", response_model=CommandDone, summary="Leave quietly")
async def leave(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.leave(services, actor.user_id, room_id))


@router.post("/rooms/{room_id}/hand/raise", response_model=CommandDone, summary="Raise your hand")
async def raise_hand(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.raise_hand(services, actor.user_id, room_id))


@router.post("/rooms/{room_id}/hand/lower", response_model=CommandDone, summary="Lower your hand")
async def lower_hand(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.lower_hand(services, actor.user_id, room_id))


@router.post("/rooms/{room_id}/hands", response_model=CommandDone, summary="Turn hand-raising on or off (moderators)")
async def set_hands(room_id: RoomId, body: HandsSetting, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.set_hands_enabled(services, actor.user_id, room_id, body.enabled))


@router.post("/rooms/{room_id}/invite-up", response_model=CommandDone, summary="Invite someone to speak (moderators)")
async def invite_up(room_id: RoomId, body: Target, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.invite_up(services, actor.user_id, room_id, body.user_id))


@router.post("/rooms/{room_id}/invite-up/accept", response_model=CommandDone, summary="Accept an invitation to speak")
async def accept_invite(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.accept_stage_invite(services, actor.user_id, room_id))


@router.post("/rooms/{room_id}/invite-up/decline", response_model=CommandDone, summary="Decline an invitation to speak")
async def decline_invite(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.decline_stage_invite(services, actor.user_id, room_id))


@router.post(
    "/rooms/{room_id}/mute", response_model=CommandDone, summary="Mute a speaker, optionally locked (moderators)"
)
async def mute(room_id: RoomId, body: MuteTarget, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.mute(services, actor.user_id, room_id, body.user_id, body.lock))


@router.post(
    "/rooms/{room_id}/unlock-mute", response_model=CommandDone, summary="Let a muted speaker unmute (moderators)"
)
async def unlock_mute(room_id: RoomId, body: Target, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.unlock_mute(services, actor.user_id, room_id, body.user_id))


@router.post("/rooms/{room_id}/self-mute", response_model=CommandDone, summary="Mute or unmute yourself")
async def self_mute(room_id: RoomId, body: SelfMute, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.set_self_muted(services, actor.user_id, room_id, body.muted))


@router.post("/rooms/{room_id}/move-to-audience", response_model=CommandDone, summary="Move someone off stage")
async def move_to_audience(room_id: RoomId, body: Target, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.move_to_audience(services, actor.user_id, room_id, body.user_id))


@router.post("/rooms/{room_id}/moderators", response_model=CommandDone, summary="Make or unmake a moderator")
async def set_moderator(
    room_id: RoomId, body: ModeratorChange, actor: CurrentActor, services: ServicesDep
) -> CommandDone:
    return _done(await stage.set_moderator(services, actor.user_id, room_id, body.user_id, body.make))


@router.post("/rooms/{room_id}/remove", response_model=CommandDone, summary="Remove someone; they cannot rejoin")
async def remove(room_id: RoomId, body: Target, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.remove(services, actor.user_id, room_id, body.user_id))


@router.post("/rooms/{room_id}/let-in", response_model=CommandDone, summary="Let a member into a closed room")
async def let_in(room_id: RoomId, body: Target, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await stage.let_in(services, actor.user_id, room_id, body.user_id))


@router.post(
    "/rooms/{room_id}/ping",
    response_model=PingDone,
    summary="Ping a member into the room",
    description=(
        "Someone in the room tells a member about it (a `pinged` notification, pushed live). Listeners and speakers "
        "ping members they follow, into a room those members may see; moderators ping anyone, and a moderator's ping "
        "lets the member into a closed or social room (logged as `let_in`). Refused with `blocked` / "
        "`unblock_first` across a block, `conflict` when the member is already in the room, `rate_limited` past "
        f"{PINGS_PER_MINUTE} pings a minute or {PINGS_PER_HOUR} an hour per pinger, or {PINGED_PER_MINUTE} a minute "
        "per member pinged. Also the WebSocket op `ping_member`."
    ),
)
async def ping(room_id: RoomId, body: Target, actor: CurrentActor, services: ServicesDep) -> PingDone:
    done = await pings.ping(services, actor.user_id, room_id, body.user_id)
    return PingDone(let_in=done.let_in)


@router.post("/rooms/{room_id}/end", response_model=CommandDone, summary="End the room (moderators, admins)")
async def end_room(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> CommandDone:
    return _done(await room_cases.end_room(services, actor.user_id, room_id))
