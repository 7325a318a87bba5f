"""App layer: iCalendar (RFC 5545) — one event's ``.ics``, and a member's personal calendar feed.

The feed is a secret URL a calendar app subscribes to (it sends no cookie): ``{public_url}/api/v1/calendar/
{token}.ics``, where the token is ``ids.new_secret()`` (256 random bits), shown once and stored only as
HMAC-SHA256(secret key, token) like session tokens. Creating a feed again replaces the token (the old URL stops
working); deleting it revokes it. The feed lists the events the member hosts or RSVPed, from a month back, cancelled
ones as ``STATUS:CANCELLED`` so calendars drop them.

Every VEVENT has a stable ``UID`` (``{event id}@salon``: it does not change with the public URL), ``SEQUENCE``
(bumped by every edit and by cancelling), ``DTSTAMP``/``LAST-MODIFIED`` (the last change), ``DTSTART`` in the
creator's zone with its ``VTIMEZONE``, a nominal one-hour ``DURATION`` (events have no end; a zero-length event
shows badly in calendars) and the ``URL`` of the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as VEvent

from salon.app.scheduled_events import load_visible
from salon.app.services import Services
from salon.app.sessions import Actor, hash_token
from salon.domain.api_paths import API_PREFIX
from salon.domain.errors import ErrorCode, refuse
from salon.domain.scheduled_events import ScheduledEvent
from salon.store import repo_scheduled_events as repo

FEED_PATH = API_PREFIX + "/calendar/{token}.ics"  # web/routes_scheduled_events.py serves it under the app's prefix
PRODID = "-//Salon//Scheduled conversations//EN"
NOMINAL_DURATION = timedelta(hours=1)
FEED_PAST = timedelta(days=30)
FEED_MAX = 500
FEED_REFRESH = timedelta(hours=1)  # how often subscribers should fetch the feed again
# Our tokens are 43 characters; anything much longer is not one of ours and is not worth hashing.
TOKEN_MAX = 128


@dataclass(frozen=True)
class NewFeed:
    """A feed just created. ``token`` and ``url`` exist only here: the database keeps the token's hash."""

    token: str
    url: str
    created_at: datetime


def event_url(services: Services, event_id: str) -> str:
    return f"{services.settings.public_url.rstrip('/')}/events/{event_id}"


def event_uid(event_id: str) -> str:
    return f"{event_id}@salon"


def _vevent(services: Services, event: ScheduledEvent) -> VEvent:
    url = event_url(services, event.id)
    text = [event.description] if event.description else []
    if event.topics:
        text.append("Topics: " + ", ".join(event.topics))
    text.append(url)
    vevent = VEvent()
    vevent.add("uid", event_uid(event.id))
    vevent.add("dtstamp", event.updated_at)
    vevent.add("created", event.created_at)
    vevent.add("last-modified", event.updated_at)
    vevent.add("sequence", event.sequence)
    vevent.add("summary", event.title)
    vevent.add("description", "\n\n".join(text))
    if event.topics:
        vevent.add("categories", list(event.topics))
    vevent.add("dtstart", event.starts_at.astimezone(ZoneInfo(event.timezone)))
    vevent.add("duration", NOMINAL_DURATION)
    vevent.add("status", "CANCELLED" if event.cancelled_at is not None else "CONFIRMED")
    vevent.add("url", url)
    return vevent


def render(services: Services, events: Sequence[ScheduledEvent], name: str | None = None) -> bytes:
    """A VCALENDAR with one VEVENT per event (and the VTIMEZONEs their start times use)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name is not None:
        cal.add("name", name)
        cal.add("x-wr-calname", name)
        cal.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", "PT1H")  # the same hour, as Outlook and Apple read it
    for event in events:
        cal.add_component(_vevent(services, event))
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data


async def event_ics(services: Services, actor: Actor, event_id: str) -> bytes:
    """One event as an ``.ics`` file, for whoever may see it."""
    async with services.db.read() as conn:
        event = await load_visible(conn, actor, event_id)
    return render(services, [event])


async def create_feed(services: Services, actor: Actor) -> NewFeed:
    """A new secret feed URL for the member; the previous one, if any, stops working."""
    now = services.clock.now()
    token = services.ids.new_secret()
    async with services.db.transaction() as conn:
        await repo.set_feed(conn, actor.user_id, hash_token(services.secret, token), now)
    url = services.settings.public_url.rstrip("/") + FEED_PATH.format(token=token)
    return NewFeed(token, url, now)


async def revoke_feed(services: Services, actor: Actor) -> bool:
    """Whether there was a feed to revoke (revoking none is not an error)."""
    async with services.db.transaction() as conn:
        return await repo.delete_feed(conn, actor.user_id)


async def feed_created_at(services: Services, actor: Actor) -> datetime | None:
    """When the member's current feed URL was made (None: they have none). The URL itself cannot be shown again."""
    async with services.db.read() as conn:
        return await repo.feed_created_at(conn, actor.user_id)


async def feed_ics(services: Services, token: str) -> bytes:
    """The feed a token opens (no session: the token is the credential); ``not_found`` for any other token or when
    the member's account is disabled."""
    if not token or len(token) > TOKEN_MAX:
        raise refuse(ErrorCode.NOT_FOUND, "No such calendar.")
    async with services.db.read() as conn:
        owner = await repo.feed_owner(conn, hash_token(services.secret, token))
        if owner is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such calendar.")
        events = await repo.of_member(conn, owner.user_id, services.clock.now() - FEED_PAST, FEED_MAX)
    return render(services, events, name=f"Salon: {owner.display_name}")
