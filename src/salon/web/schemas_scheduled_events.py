"""Web layer: request and response models for scheduled events and calendar feeds."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from salon.app.calendar import NewFeed
from salon.app.scheduled_events import EventView
from salon.domain.api_paths import API_PREFIX
from salon.domain.interpretation import DEFAULT_DUCKING_DB
from salon.domain.scheduled_events import COHOSTS_MAX
from salon.web.schemas_interpretation import DuckingDb, LanguagesIn, LanguagesOut
from salon.web.schemas_rooms import Description, Strict, Title, Topics, UserCard, UserId
from salon.web.schemas_text import zone_rule

Zone = Annotated[str, zone_rule("timezone"), Field(examples=["Europe/Paris"])]
RoomTypeIn = Literal["open", "social", "closed"]
Hosts = Annotated[list[UserId], Field(max_length=COHOSTS_MAX + 1)]


class CreateEvent(Strict):
    """``starts_at`` must carry its offset (``2026-05-01T19:00:00+02:00``); ``timezone`` is your IANA zone, kept to
    show the event as you meant it. ``hosts``: the members who host with you (up to 5)."""

    title: Title
    description: Description = ""
    topics: Topics = Field(default_factory=list)
    starts_at: datetime
    timezone: Zone = "UTC"
    room_type: RoomTypeIn = "open"
    hosts: Hosts = Field(default_factory=list)
    languages: LanguagesIn | None = Field(None, description="The floor language and interpretation channels.")
    ducking_db: DuckingDb = DEFAULT_DUCKING_DB


class EditEvent(Strict):
    """Only the fields sent change. ``hosts`` (the co-hosts) can be changed by the event's creator only."""

    title: Title | None = None
    description: Description | None = None
    topics: Topics | None = None
    starts_at: datetime | None = None
    timezone: Zone | None = None
    room_type: RoomTypeIn | None = None
    hosts: Hosts | None = None
    languages: LanguagesIn | None = Field(None, description="Sent: the event's new languages (null drops them).")


class Guest(Strict):
    user_id: UserId


def _iso(at: datetime | None, zone: tzinfo) -> str | None:
    return None if at is None else at.astimezone(zone).isoformat()


class ScheduledEventOut(BaseModel):
    """A scheduled conversation. Times are ISO 8601 with their offset, in ``shown_in``: the zone asked for with
    ``?tz=``, else the event's own ``timezone``. ``status``: scheduled, live (a host started it: ``room_id``),
    ended, cancelled, or missed (nobody started it within an hour of its time)."""

    id: str
    title: str
    description: str
    topics: list[str]
    starts_at: str
    timezone: str
    shown_in: str
    room_type: RoomTypeIn
    status: Literal["scheduled", "live", "ended", "cancelled", "missed"]
    hosts: list[UserCard]
    created_by: str
    created_at: str
    updated_at: str
    cancelled_at: str | None
    started_at: str | None
    room_id: str | None
    sequence: int
    rsvp_count: int
    rsvped: bool
    is_host: bool
    ics_url: str
    languages: LanguagesOut | None = None

    @classmethod
    def from_view(cls, view: EventView, zone: ZoneInfo | None = None) -> ScheduledEventOut:
        e = view.event
        shown = zone or ZoneInfo(e.timezone)
        return cls(
            id=e.id,
            title=e.title,
            description=e.description,
            topics=list(e.topics),
            starts_at=e.starts_at.astimezone(shown).isoformat(),
            timezone=e.timezone,
            shown_in=shown.key,
            room_type=e.room_type.value,
            status=view.status.value,
            hosts=[
                UserCard(id=p.user_id, username=p.username, display_name=p.display_name, avatar_url=p.avatar_url)
                for p in view.hosts
            ],
            created_by=e.created_by,
            created_at=e.created_at.astimezone(shown).isoformat(),
            updated_at=e.updated_at.astimezone(shown).isoformat(),
            cancelled_at=_iso(e.cancelled_at, shown),
            started_at=_iso(e.started_at, shown),
            room_id=e.room_id,
            sequence=e.sequence,
            rsvp_count=view.rsvp_count,
            rsvped=view.rsvped,
            is_host=view.is_host,
            ics_url=f"{API_PREFIX}/events/{e.id}.ics",
            languages=None
            if view.languages is None
            else LanguagesOut(floor=view.languages.floor, channels=list(view.languages.channels)),
        )


class EventPageOut(BaseModel):
    """Upcoming events, soonest first; pass ``next_cursor`` as ``cursor`` for the next page (null: no more)."""

    events: list[ScheduledEventOut]
    next_cursor: str | None


class FeedOut(BaseModel):
    """Your calendar feed's secret URL, shown only now: subscribe to it in a calendar app. Creating another one
    revokes this one."""

    url: str
    created_at: datetime

    @classmethod
    def from_new(cls, feed: NewFeed) -> FeedOut:
        return cls(url=feed.url, created_at=feed.created_at)


class FeedStatusOut(BaseModel):
    """Whether you have a calendar feed (its URL cannot be shown again: create a new one if you lost it)."""

    active: bool
    created_at: datetime | None
