"""Web layer: the hallway — live rooms a member may join, ranked for them (people they follow on stage first) —
and search over members and live rooms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from salon.app import hallway, scheduled_events, search
from salon.domain.errors import ErrorCode, refuse
from salon.domain.scheduled_events import check_timezone
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.routes_scheduled_events import Tz
from salon.web.schemas_interpretation import Language, LanguagesOut
from salon.web.schemas_rooms import ParticipantOut, RoomOut, UserCard
from salon.web.schemas_scheduled_events import ScheduledEventOut
from salon.web.schemas_text import optional_line_rule

router = APIRouter(tags=["hallway"])

UPCOMING_SHOWN = 5


class HallwayRoomOut(BaseModel):
    room: RoomOut
    languages: LanguagesOut | None = None  # the floor and interpretation channels, when the room declared them
    speakers: list[ParticipantOut]
    speaker_count: int
    listener_count: int
    followed_on_stage: int


class HallwayPage(BaseModel):
    """Live rooms (a page), and, on the first page, the next scheduled events one may see (the rest: /events)."""

    rooms: list[HallwayRoomOut]
    total: int
    next_offset: int | None
    upcoming: list[ScheduledEventOut]


@router.get("/hallway", response_model=HallwayPage, summary="Live rooms for you, people you follow on stage first")
async def get_hallway(
    actor: CurrentActor,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=hallway.MAX_PAGE)] = 20,
    tz: Tz = None,
) -> HallwayPage:
    zone = None if tz is None else check_timezone(tz, field="tz")
    page = await hallway.live_rooms_page(services, actor.user_id, offset, limit)
    upcoming = (
        (await scheduled_events.list_upcoming(services, actor, None, UPCOMING_SHOWN)).events if offset == 0 else []
    )
    return HallwayPage.model_validate(
        {
            "rooms": page.items,
            "total": page.total,
            "next_offset": page.next_offset,
            "upcoming": [ScheduledEventOut.from_view(v, zone) for v in upcoming],
        }
    )


class SearchResults(BaseModel):
    members: list[UserCard]
    rooms: list[HallwayRoomOut]
    events: list[ScheduledEventOut]


@router.get("/search", response_model=SearchResults, summary="Find members and live rooms")
async def get_search(
    actor: CurrentActor,
    services: ServicesDep,
    q: Annotated[
        str | None, Query(min_length=search.MIN_QUERY, max_length=search.MAX_QUERY), optional_line_rule("q")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=search.MAX_RESULTS)] = search.MAX_RESULTS,
    tz: Tz = None,
    language: Annotated[
        Language | None,
        Query(description="Only rooms and events in this language (floor or interpretation channel); no members."),
    ] = None,
) -> SearchResults:
    """A text (``q``), a language, or both: ``invalid_input`` with neither."""
    zone = None if tz is None else check_timezone(tz, field="tz")
    if q is None and language is None:  # refused before it counts against the limit, as every refused query
        raise refuse(ErrorCode.INVALID_INPUT, "Search for a text, a language, or both.", field="q")
    await services.limits.hit(services.limits.search, actor.user_id)
    found = await search.search(services, actor.user_id, q, limit, is_admin=actor.is_admin, language=language)
    return SearchResults.model_validate(
        {
            "members": found.members,
            "rooms": found.rooms,
            "events": [ScheduledEventOut.from_view(v, zone) for v in found.events],
        }
    )
