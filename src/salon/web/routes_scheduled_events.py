"""Web layer: scheduled events (create, list, read, edit, cancel, RSVP, start), their ``.ics`` files and the
personal calendar feed. Thin: validate, call one use case (``salon.app.scheduled_events`` /
``salon.app.calendar``), shape the answer.
"""

from __future__ import annotations

from types import EllipsisType
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response

from salon.app import calendar, scheduled_events
from salon.app.interpretation import check_languages
from salon.domain.interpretation import RoomLanguages
from salon.domain.paging import CURSOR_MAX, PAGE_DEFAULT, PAGE_MAX
from salon.domain.rooms import RoomType
from salon.domain.scheduled_events import EventChanges, check_timezone
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_scheduled_events import (
    CreateEvent,
    EditEvent,
    EventPageOut,
    FeedOut,
    FeedStatusOut,
    Guest,
    ScheduledEventOut,
)
from salon.web.schemas_text import zone_rule

router = APIRouter()

EventId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Tz = Annotated[
    Annotated[str, zone_rule("tz")] | None,
    Query(description="Show times in this IANA zone (default: the event's own zone)."),
]
ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"
_ICS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/calendar": {}}, "description": "An iCalendar (RFC 5545) file."}
}


def _zone(tz: str | None) -> ZoneInfo | None:
    return None if tz is None else check_timezone(tz, field="tz")


def _ics(body: bytes, headers: dict[str, str]) -> Response:
    return Response(body, media_type=ICS_MEDIA_TYPE, headers={"X-Content-Type-Options": "nosniff", **headers})


@router.post("/events", status_code=201, summary="Schedule a conversation", tags=["events"])
async def create_event(
    body: CreateEvent, actor: CurrentActor, services: ServicesDep, tz: Tz = None
) -> ScheduledEventOut:
    zone = _zone(tz)
    spec = scheduled_events.NewEvent(
        title=body.title,
        description=body.description,
        topics=body.topics,
        starts_at=body.starts_at,
        timezone=body.timezone,
        room_type=RoomType(body.room_type),
        cohosts=body.hosts,
        languages=check_languages(body.languages.floor, body.languages.channels) if body.languages else None,
        ducking_db=body.ducking_db,
    )
    return ScheduledEventOut.from_view(await scheduled_events.create_event(services, actor, spec), zone)


@router.get("/events", summary="Upcoming events you may see, soonest first", tags=["events"])
async def list_events(
    actor: CurrentActor,
    services: ServicesDep,
    tz: Tz = None,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
) -> EventPageOut:
    zone = _zone(tz)
    page = await scheduled_events.list_upcoming(services, actor, cursor, limit)
    return EventPageOut(
        events=[ScheduledEventOut.from_view(v, zone) for v in page.events], next_cursor=page.next_cursor
    )


# Declared before /events/{event_id}: that pattern would otherwise take "abc.ics" as an id.
@router.get(
    "/events/{event_id}.ics",
    summary="An event as an iCalendar file",
    tags=["events"],
    response_class=Response,
    responses=_ICS,
)
async def event_ics(event_id: EventId, actor: CurrentActor, services: ServicesDep) -> Response:
    body = await calendar.event_ics(services, actor, event_id)
    return _ics(body, {"Content-Disposition": f'attachment; filename="salon-{event_id}.ics"'})


@router.get("/events/{event_id}", summary="An event", tags=["events"])
async def get_event(event_id: EventId, actor: CurrentActor, services: ServicesDep, tz: Tz = None) -> ScheduledEventOut:
    zone = _zone(tz)
    return ScheduledEventOut.from_view(await scheduled_events.get_event(services, actor, event_id), zone)


@router.patch("/events/{event_id}", summary="Edit an event (hosts)", tags=["events"])
async def edit_event(
    event_id: EventId, body: EditEvent, actor: CurrentActor, services: ServicesDep, tz: Tz = None
) -> ScheduledEventOut:
    zone = _zone(tz)
    changes = EventChanges(
        title=body.title,
        description=body.description,
        topics=body.topics,
        starts_at=body.starts_at,
        timezone=body.timezone,
        room_type=None if body.room_type is None else RoomType(body.room_type),
        cohosts=body.hosts,
    )
    languages: RoomLanguages | EllipsisType | None = ...
    if "languages" in body.model_fields_set:
        languages = check_languages(body.languages.floor, body.languages.channels) if body.languages else None
    edited = await scheduled_events.edit_event(services, actor, event_id, changes, languages)
    return ScheduledEventOut.from_view(edited, zone)


@router.post("/events/{event_id}/cancel", summary="Cancel an event (hosts, admins)", tags=["events"])
async def cancel_event(
    event_id: EventId, actor: CurrentActor, services: ServicesDep, tz: Tz = None
) -> ScheduledEventOut:
    zone = _zone(tz)
    return ScheduledEventOut.from_view(await scheduled_events.cancel_event(services, actor, event_id), zone)


@router.put("/events/{event_id}/rsvp", summary="Notify me (RSVP)", tags=["events"])
async def rsvp(event_id: EventId, actor: CurrentActor, services: ServicesDep, tz: Tz = None) -> ScheduledEventOut:
    zone = _zone(tz)
    return ScheduledEventOut.from_view(await scheduled_events.set_rsvp(services, actor, event_id, True), zone)


@router.delete("/events/{event_id}/rsvp", summary="Stop notifying me", tags=["events"])
async def unrsvp(event_id: EventId, actor: CurrentActor, services: ServicesDep, tz: Tz = None) -> ScheduledEventOut:
    zone = _zone(tz)
    return ScheduledEventOut.from_view(await scheduled_events.set_rsvp(services, actor, event_id, False), zone)


@router.post("/events/{event_id}/invite", summary="Put a member on the event's list (hosts)", tags=["events"])
async def invite(
    event_id: EventId, body: Guest, actor: CurrentActor, services: ServicesDep, tz: Tz = None
) -> ScheduledEventOut:
    """As if they had RSVPed: they see the event (a closed one too), get its reminders and, for a closed event,
    are let into its room when it starts. They are notified (``event_invited``)."""
    zone = _zone(tz)
    return ScheduledEventOut.from_view(
        await scheduled_events.invite_to_event(services, actor, event_id, body.user_id), zone
    )


@router.post("/events/{event_id}/start", summary="Start the event: it becomes a live room (hosts)", tags=["events"])
async def start_event(
    event_id: EventId, actor: CurrentActor, services: ServicesDep, tz: Tz = None
) -> ScheduledEventOut:
    """From 15 minutes before the event's time until an hour after. Starting again answers with the same room."""
    zone = _zone(tz)
    return ScheduledEventOut.from_view(await scheduled_events.start_event(services, actor, event_id), zone)


# --- the personal calendar feed ------------------------------------------------------------------------------------


@router.get("/me/calendar-feed", summary="Whether I have a calendar feed", tags=["calendar"])
async def feed_status(actor: CurrentActor, services: ServicesDep) -> FeedStatusOut:
    created_at = await calendar.feed_created_at(services, actor)
    return FeedStatusOut(active=created_at is not None, created_at=created_at)


@router.post("/me/calendar-feed", status_code=201, summary="Create (or replace) my calendar feed", tags=["calendar"])
async def create_feed(actor: CurrentActor, services: ServicesDep) -> FeedOut:
    """A new secret URL listing the events you host or RSVPed; the previous URL stops working."""
    return FeedOut.from_new(await calendar.create_feed(services, actor))


@router.delete("/me/calendar-feed", summary="Revoke my calendar feed", tags=["calendar"])
async def revoke_feed(actor: CurrentActor, services: ServicesDep) -> FeedStatusOut:
    await calendar.revoke_feed(services, actor)
    return FeedStatusOut(active=False, created_at=None)


@router.get(
    "/calendar/{token}.ics",
    summary="A calendar feed (the secret URL is the credential)",
    tags=["calendar"],
    response_class=Response,
    responses=_ICS,
)
async def feed(token: Annotated[str, Path(max_length=200)], services: ServicesDep) -> Response:
    body = await calendar.feed_ics(services, token)
    return _ics(body, {"Cache-Control": "private, no-cache", "Referrer-Policy": "no-referrer"})
