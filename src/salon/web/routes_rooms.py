"""Web layer: REST routes for rooms and the stage. Thin: validate, call one use case, shape the answer.

The room commands (join, mute, end...) are declared once in ``room_ops.py``, which also makes them WebSocket ops;
their routes are added from that table at the end of this module, after the reads and room creation.
"""

from __future__ import annotations

from inspect import Parameter, Signature
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from salon.app import rooms as room_cases
from salon.app.audience import audience_tiers
from salon.app.interpretation import check_languages
from salon.app.services import Services
from salon.domain.rooms import RoomType
from salon.web.auth import Actor, CurrentActor
from salon.web.deps import ServicesDep
from salon.web.room_ops import ROOM_COMMANDS, NoBody, RoomCommand
from salon.web.schemas_rooms import (
    AudienceTiers,
    CreateRoom,
    EventOut,
    FollowedByStage,
    MissedEvents,
    RoomListItem,
    SnapshotOut,
)

router = APIRouter(tags=["rooms"])

RoomId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post("/rooms", status_code=201, response_model=SnapshotOut, summary="Open a room (you moderate it)")
async def create_room(body: CreateRoom, actor: CurrentActor, services: ServicesDep) -> dict[str, Any]:
    languages = check_languages(body.languages.floor, body.languages.channels) if body.languages else None
    spec = room_cases.NewRoom(
        body.title, body.description, body.topics, RoomType(body.type), body.capacity, languages, body.ducking_db
    )
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


@router.get(
    "/rooms/{room_id}/audience",
    response_model=AudienceTiers,
    summary="How the room's audience hears it: WebRTC or the broadcast tier (its moderators, admins)",
)
async def get_audience(room_id: RoomId, actor: CurrentActor, services: ServicesDep) -> AudienceTiers:
    """Listeners in the room, and how many of them are connected on each tier now (a listener between two
    connections is on neither)."""
    return AudienceTiers(**await audience_tiers(services, actor.user_id, room_id))


@router.get("/rooms/{room_id}/events", response_model=MissedEvents, summary="Events after a seq (resume)")
async def get_events(
    room_id: RoomId, actor: CurrentActor, services: ServicesDep, after: Annotated[int, Query(ge=0)]
) -> MissedEvents:
    missed = await room_cases.events_since(services, actor.user_id, room_id, after)
    events = [EventOut(seq=m.seq, name=m.name, data=m.data) for m in missed.messages]
    return MissedEvents(events=events, resync=missed.resync, seq=missed.seq)


# --- the room commands, from room_ops.ROOM_COMMANDS ----------------------------------------------------------------

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)


def _add_command_route(command: RoomCommand[P, R]) -> None:
    async def endpoint(room_id: str, actor: Actor, services: Services, body: P | None = None) -> R:
        payload = command.body() if body is None else body  # None: a command without a body (NoBody)
        return await command.run(services, actor.user_id, room_id, payload)

    # FastAPI reads an endpoint's parameters from its signature, and the body model is only known here, so the
    # signature is written out. FastAPI makes the OpenAPI operation id from the endpoint's name.
    parameters = [Parameter("room_id", Parameter.KEYWORD_ONLY, annotation=RoomId)]
    if command.body is not NoBody:
        parameters.append(Parameter("body", Parameter.KEYWORD_ONLY, annotation=command.body))
    parameters.append(Parameter("actor", Parameter.KEYWORD_ONLY, annotation=CurrentActor))
    parameters.append(Parameter("services", Parameter.KEYWORD_ONLY, annotation=ServicesDep))
    endpoint.__signature__ = Signature(parameters, return_annotation=command.reply)  # type: ignore[attr-defined]
    endpoint.__name__ = endpoint.__qualname__ = command.name
    router.add_api_route(
        f"/rooms/{{room_id}}{command.path}",
        endpoint,
        methods=["POST"],
        response_model=command.reply,
        summary=command.summary,
        description=command.description,
    )


for _command in ROOM_COMMANDS:
    _add_command_route(_command)
