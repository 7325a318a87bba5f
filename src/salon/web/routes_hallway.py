"""Web layer: the hallway — live rooms a member may join, ranked for them (people they follow on stage first) —
and search over members and live rooms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from salon.app import hallway, search
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_rooms import ParticipantOut, RoomOut, UserCard

router = APIRouter(tags=["hallway"])


class HallwayRoomOut(BaseModel):
    room: RoomOut
    speakers: list[ParticipantOut]
    speaker_count: int
    listener_count: int
    followed_on_stage: int


class HallwayPage(BaseModel):
    rooms: list[HallwayRoomOut]
    total: int
    next_offset: int | None


@router.get("/hallway", response_model=HallwayPage, summary="Live rooms for you, people you follow on stage first")
async def get_hallway(
    actor: CurrentActor,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=hallway.MAX_PAGE)] = 20,
) -> HallwayPage:
    page = await hallway.live_rooms_page(services, actor.user_id, offset, limit)
    return HallwayPage.model_validate({"rooms": page.items, "total": page.total, "next_offset": page.next_offset})


class SearchResults(BaseModel):
    members: list[UserCard]
    rooms: list[HallwayRoomOut]


@router.get("/search", response_model=SearchResults, summary="Find members and live rooms")
async def get_search(
    actor: CurrentActor,
    services: ServicesDep,
    q: Annotated[str, Query(min_length=search.MIN_QUERY, max_length=search.MAX_QUERY)],
    limit: Annotated[int, Query(ge=1, le=search.MAX_RESULTS)] = search.MAX_RESULTS,
) -> SearchResults:
    found = await search.search(services, actor.user_id, q, limit)
    return SearchResults.model_validate({"members": found.members, "rooms": found.rooms})
