"""Domain layer: scheduled conversations ("events") — announced with their topics, hosted, RSVPed, started.

Pure rules over :class:`ScheduledEvent` and the time passed in. An event's life: *scheduled* → a host starts it
(from :data:`START_EARLY` before its time until :data:`LAPSE_AFTER` after) → *live* (it became a room) → *ended*
(the room ended); or *cancelled* by a host (or an admin) before it starts; or *missed* when nobody started it in
time. Every edit bumps ``sequence`` (iCalendar's SEQUENCE), so calendar apps replace their copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from salon.domain.errors import ErrorCode, refuse
from salon.domain.rooms import DEFAULT_CAPACITY, RoomType, clean_room_fields

# Hosts besides the creator.
COHOSTS_MAX = 5
# A host may start the event from this long before its time...
START_EARLY = timedelta(minutes=15)
# ...until this long after it; past that, nobody started it: the event is missed.
LAPSE_AFTER = timedelta(hours=1)
# How far ahead an event may be scheduled.
SCHEDULE_AHEAD_MAX = timedelta(days=365)
# The "starting soon" reminder goes out this long before the start.
REMIND_BEFORE = timedelta(minutes=10)
TIMEZONE_MAX = 64


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"
    MISSED = "missed"


@dataclass(frozen=True)
class ScheduledEvent:
    id: str
    title: str
    description: str
    topics: tuple[str, ...]
    starts_at: datetime  # aware, UTC
    timezone: str  # the creator's IANA zone, for display and the .ics
    room_type: RoomType
    created_by: str
    created_at: datetime
    updated_at: datetime
    hosts: tuple[str, ...]  # the creator first, then the co-hosts
    cancelled_at: datetime | None = None
    started_at: datetime | None = None
    room_id: str | None = None
    sequence: int = 0

    def is_host(self, user_id: str) -> bool:
        return user_id in self.hosts

    @property
    def cohosts(self) -> tuple[str, ...]:
        return tuple(h for h in self.hosts if h != self.created_by)

    def status(self, now: datetime, room_ended: bool = False) -> EventStatus:
        if self.cancelled_at is not None:
            return EventStatus.CANCELLED
        if self.started_at is not None:
            return EventStatus.ENDED if room_ended else EventStatus.LIVE
        if now > self.starts_at + LAPSE_AFTER:
            return EventStatus.MISSED
        return EventStatus.SCHEDULED


# --- validation of what a host types ---------------------------------------------------------------------------


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_names() -> list[str]:
    """Every zone :func:`check_timezone` accepts, sorted (the OpenAPI document lists them)."""
    return sorted(_zones())


def check_timezone(name: str, field: str = "timezone") -> ZoneInfo:
    """An IANA zone name as the tz database spells it (``Europe/Paris``), or ``invalid_input``."""
    if len(name) > TIMEZONE_MAX or name not in _zones():
        raise refuse(ErrorCode.INVALID_INPUT, "Unknown time zone; use an IANA name such as Europe/Paris.", field=field)
    return ZoneInfo(name)


def check_starts_at(starts_at: datetime, now: datetime) -> datetime:
    """A start time with its offset, in the future and at most a year ahead; returned in UTC."""
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise refuse(
            ErrorCode.INVALID_INPUT,
            "Give the start time with its offset, e.g. 2026-05-01T19:00:00+02:00.",
            field="starts_at",
        )
    if starts_at <= now:
        raise refuse(ErrorCode.INVALID_INPUT, "The start time is in the past.", field="starts_at")
    if starts_at > now + SCHEDULE_AHEAD_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, "An event can be scheduled at most a year ahead.", field="starts_at")
    return starts_at.astimezone(UTC)


def clean_event_fields(title: str, description: str, topics: list[str]) -> tuple[str, str, tuple[str, ...]]:
    """The same rules as a room's (the event becomes one when it starts, so it must always pass them)."""
    title, description, cleaned, _ = clean_room_fields(title, description, topics, None, DEFAULT_CAPACITY)
    return title, description, cleaned


def clean_cohosts(creator_id: str, cohosts: Iterable[str]) -> tuple[str, ...]:
    """Co-hosts in the order given, without repeats or the creator; at most :data:`COHOSTS_MAX`."""
    out: list[str] = []
    for user_id in cohosts:
        if user_id != creator_id and user_id not in out:
            out.append(user_id)
    if len(out) > COHOSTS_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"At most {COHOSTS_MAX} co-hosts.", field="hosts")
    return tuple(out)


# --- who may see and do what -----------------------------------------------------------------------------------


def can_see_event(
    event: ScheduledEvent, viewer_id: str, is_admin: bool, rsvped: bool, blocked_by_a_host: bool = False
) -> bool:
    """Open and social events are announcements every member sees; a closed one only its hosts, the members on
    its list (RSVPed) and admins. Nobody sees an event one of whose hosts blocked them (its hosts and admins
    always see it)."""
    if is_admin or event.is_host(viewer_id):
        return True
    if blocked_by_a_host:
        return False
    return event.room_type is not RoomType.CLOSED or rsvped


def check_visible(
    event: ScheduledEvent | None, viewer_id: str, is_admin: bool, rsvped: bool, blocked_by_a_host: bool = False
) -> ScheduledEvent:
    if event is None or not can_see_event(event, viewer_id, is_admin, rsvped, blocked_by_a_host):
        raise refuse(ErrorCode.NOT_FOUND, "No such event.")
    return event


def _require_host(event: ScheduledEvent, actor_id: str) -> None:
    if not event.is_host(actor_id):
        raise refuse(ErrorCode.NOT_ALLOWED, "Only the event's hosts can do that.")


def _require_not_started(event: ScheduledEvent) -> None:
    if event.cancelled_at is not None:
        raise refuse(ErrorCode.CONFLICT, "This event was cancelled.", reason="cancelled")
    if event.started_at is not None:
        raise refuse(ErrorCode.CONFLICT, "This event has started.", reason="started")


@dataclass(frozen=True)
class EventChanges:
    """What an edit sets; None leaves a field as it is."""

    title: str | None = None
    description: str | None = None
    topics: list[str] | None = None
    starts_at: datetime | None = None
    timezone: str | None = None
    room_type: RoomType | None = None
    cohosts: list[str] | None = None


def edit(event: ScheduledEvent, actor_id: str, changes: EventChanges, now: datetime) -> ScheduledEvent:
    """A host edits a scheduled event; only its creator changes who hosts. Every edit bumps ``sequence``."""
    _require_host(event, actor_id)
    _require_not_started(event)
    if changes.cohosts is not None and actor_id != event.created_by:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only the event's creator changes its hosts.", field="hosts")
    title, description, topics = clean_event_fields(
        event.title if changes.title is None else changes.title,
        event.description if changes.description is None else changes.description,
        list(event.topics) if changes.topics is None else changes.topics,
    )
    starts_at = event.starts_at if changes.starts_at is None else check_starts_at(changes.starts_at, now)
    timezone = event.timezone if changes.timezone is None else check_timezone(changes.timezone).key
    hosts = event.hosts
    if changes.cohosts is not None:
        hosts = (event.created_by, *clean_cohosts(event.created_by, changes.cohosts))
    return replace(
        event,
        title=title,
        description=description,
        topics=topics,
        starts_at=starts_at,
        timezone=timezone,
        room_type=changes.room_type or event.room_type,
        hosts=hosts,
        updated_at=now,
        sequence=event.sequence + 1,
    )


def cancel(event: ScheduledEvent, actor_id: str, is_admin: bool, now: datetime) -> ScheduledEvent | None:
    """A host (or an admin, as moderation) cancels an event that has not started; the cancelled event, or None
    when it already was (cancelling is idempotent). It stays in calendars as STATUS:CANCELLED."""
    if not is_admin:
        _require_host(event, actor_id)
    if event.cancelled_at is not None:
        return None
    _require_not_started(event)
    return replace(event, cancelled_at=now, updated_at=now, sequence=event.sequence + 1)


def check_startable(event: ScheduledEvent, actor_id: str, now: datetime) -> bool:
    """Whether a host may start the event now: False when it already started (starting is idempotent: the caller
    returns the same room); refuses outside the window from :data:`START_EARLY` before its time to
    :data:`LAPSE_AFTER` after."""
    _require_host(event, actor_id)
    if event.started_at is not None:
        return False
    _require_not_started(event)
    opens_at = event.starts_at - START_EARLY
    if now < opens_at:
        raise refuse(
            ErrorCode.CONFLICT,
            "It is too early to start this event.",
            reason="too_early",
            opens_at=opens_at.isoformat(),
        )
    if now > event.starts_at + LAPSE_AFTER:
        raise refuse(ErrorCode.CONFLICT, "This event was missed: it is too late to start it.", reason="missed")
    return True


def check_rsvp(event: ScheduledEvent, now: datetime) -> None:
    """Asking to be notified makes sense until the event is over; withdrawing is always allowed."""
    status = event.status(now)
    if status is EventStatus.CANCELLED:
        raise refuse(ErrorCode.CONFLICT, "This event was cancelled.", reason="cancelled")
    if status is EventStatus.MISSED:
        raise refuse(ErrorCode.CONFLICT, "This event was missed.", reason="missed")


def check_invite(event: ScheduledEvent, actor_id: str, now: datetime) -> None:
    """A host puts members on the list (a closed event's guests) while one could still RSVP."""
    _require_host(event, actor_id)
    check_rsvp(event, now)


def due_for_reminder(event: ScheduledEvent, now: datetime) -> bool:
    """The "starting soon" reminder is due from :data:`REMIND_BEFORE` before the start while the event is still
    scheduled (a reminder due while the app was down still goes out after a restart, until the event is missed)."""
    return event.status(now) is EventStatus.SCHEDULED and now >= event.starts_at - REMIND_BEFORE
