"""App layer: scheduled conversations — create, list upcoming, read, edit, cancel, RSVP, start.

Rules live in ``salon.domain.scheduled_events``; these use cases load, decide, save in one transaction, then notify
after the commit. Starting an event opens its room (``app/rooms.insert_new_room``) in the same transaction that marks
the event started, invites the other hosts up *as moderators* (joining makes them moderators), lets the members on the
list of a closed event into its room, and writes the ``event_started`` notifications with the reminder row that says
they went out (``app/reminders.py`` never sends them again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import EllipsisType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.follow_notices import tell_followers
from salon.app.notifications import notify, publish
from salon.app.rooms import NewRoom, insert_new_room, open_room_media
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain import notices
from salon.domain import scheduled_events as rules
from salon.domain.errors import ErrorCode, refuse
from salon.domain.interpretation import DEFAULT_DUCKING_DB, RoomLanguages, check_ducking
from salon.domain.notifications import NotificationRecord
from salon.domain.paging import PAGE_DEFAULT, Cursor, decode_cursor, encode_cursor
from salon.domain.rooms import Profile, Room, RoomType, profile_data
from salon.domain.scheduled_events import EventChanges, EventStatus, ScheduledEvent
from salon.store import repo_interpretation, repo_rooms
from salon.store import repo_scheduled_events as repo

# event_reminders.kind values
REMINDER_SOON = "soon"
REMINDER_STARTED = "started"
# notification kinds
STARTING_SOON = "event_starting_soon"
STARTED = "event_started"
CANCELLED = "event_cancelled"
INVITED = "event_invited"


@dataclass(frozen=True)
class NewEvent:
    title: str
    description: str
    topics: list[str]
    starts_at: datetime
    timezone: str = "UTC"
    room_type: RoomType = RoomType.OPEN
    cohosts: list[str] = field(default_factory=list)
    languages: RoomLanguages | None = None  # checked (app.interpretation.check_languages); copied to its room
    ducking_db: int = DEFAULT_DUCKING_DB


@dataclass(frozen=True)
class EventView:
    """An event as one member sees it."""

    event: ScheduledEvent
    status: EventStatus
    hosts: list[Profile]
    rsvp_count: int
    rsvped: bool
    is_host: bool
    languages: RoomLanguages | None = None


@dataclass(frozen=True)
class EventPage:
    events: list[EventView]
    next_cursor: str | None


def notification_data(event: ScheduledEvent) -> dict[str, Any]:
    """What an event notification carries: enough to show it and to open the event or its room."""
    return {
        "event_id": event.id,
        "title": event.title,
        "starts_at": event.starts_at.isoformat(),
        "timezone": event.timezone,
        "room_id": event.room_id,
    }


async def views(
    conn: AsyncConnection, events: Sequence[ScheduledEvent], viewer_id: str, now: datetime
) -> list[EventView]:
    ids = [e.id for e in events]
    counts = await repo.rsvp_counts(conn, ids)
    mine = await repo.rsvped_among(conn, ids, viewer_id)
    ended = await repo.ended_rooms(conn, [e.room_id for e in events if e.room_id is not None])
    cards = await repo.profiles(conn, [h for e in events for h in e.hosts])
    languages = await repo_interpretation.events_languages(conn, ids)
    return [
        EventView(
            event=e,
            status=e.status(now, e.room_id in ended),
            hosts=[cards[h] for h in e.hosts if h in cards],
            rsvp_count=counts[e.id],
            rsvped=e.id in mine,
            is_host=e.is_host(viewer_id),
            languages=languages.get(e.id),
        )
        for e in events
    ]


async def load_visible(conn: AsyncConnection, actor: Actor, event_id: str, *, lock: bool = False) -> ScheduledEvent:
    """The event if the actor may see it; ``not_found`` otherwise (a closed event never shows it exists)."""
    event = await repo.get_event(conn, event_id, lock=lock)
    if event is None:
        raise refuse(ErrorCode.NOT_FOUND, "No such event.")
    rsvped = await repo.is_listed(conn, event.id, actor.user_id)
    blocked = await repo.blocked_by_any(conn, event.hosts, actor.user_id)
    return rules.check_visible(event, actor.user_id, actor.is_admin, rsvped, blocked)


async def _check_cohosts(conn: AsyncConnection, cohosts: Sequence[str]) -> None:
    missing = set(cohosts) - await repo.active_members(conn, cohosts)
    if missing:
        raise refuse(ErrorCode.INVALID_INPUT, "Every host must be a member.", field="hosts", unknown=sorted(missing))


async def create_event(services: Services, actor: Actor, spec: NewEvent) -> EventView:
    """Any member schedules a conversation; they host it, with up to ``COHOSTS_MAX`` others."""
    now = services.clock.now()
    title, description, topics = rules.clean_event_fields(spec.title, spec.description, spec.topics)
    event = ScheduledEvent(
        id=services.ids.new_id(),
        title=title,
        description=description,
        topics=topics,
        starts_at=rules.check_starts_at(spec.starts_at, now),
        timezone=rules.check_timezone(spec.timezone).key,
        room_type=spec.room_type,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
        hosts=(actor.user_id, *rules.clean_cohosts(actor.user_id, spec.cohosts)),
    )
    async with services.db.transaction() as conn:
        await _check_cohosts(conn, event.cohosts)
        await repo.insert_event(conn, event)
        await repo_interpretation.save_event(conn, event.id, spec.languages, check_ducking(spec.ducking_db))
        return (await views(conn, [event], actor.user_id, now))[0]


async def get_event(services: Services, actor: Actor, event_id: str) -> EventView:
    now = services.clock.now()
    async with services.db.read() as conn:
        return (await views(conn, [await load_visible(conn, actor, event_id)], actor.user_id, now))[0]


async def list_upcoming(
    services: Services, actor: Actor, cursor: str | None = None, limit: int = PAGE_DEFAULT
) -> EventPage:
    """Scheduled events the member may see, soonest first: not started, not cancelled, not missed yet."""
    now = services.clock.now()
    after = None if cursor is None else decode_cursor(cursor)
    async with services.db.read() as conn:
        found = await repo.upcoming(conn, actor.user_id, actor.is_admin, now - rules.LAPSE_AFTER, after, limit + 1)
        page = await views(conn, found[:limit], actor.user_id, now)
    last = found[limit - 1] if len(found) > limit else None
    return EventPage(page, None if last is None else encode_cursor(Cursor(last.starts_at, last.id)))


async def edit_event(
    services: Services,
    actor: Actor,
    event_id: str,
    changes: EventChanges,
    languages: RoomLanguages | EllipsisType | None = ...,
) -> EventView:
    """A host edits a scheduled event (``sequence`` goes up, so calendars replace their copy). Moving the start
    re-arms the "starting soon" reminder for the new time. ``languages``: ``...`` unchanged, None dropped."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        event = await load_visible(conn, actor, event_id, lock=True)
        edited = rules.edit(event, actor.user_id, changes, now)
        if changes.cohosts is not None:
            await _check_cohosts(conn, edited.cohosts)
        await repo.update_event(conn, edited)
        if not isinstance(languages, EllipsisType):
            kept = await repo_interpretation.load_event(conn, event.id)
            ducking = kept[1] if kept is not None else DEFAULT_DUCKING_DB
            await repo_interpretation.save_event(conn, event.id, languages, ducking)
        if edited.starts_at != event.starts_at:
            await repo.forget_reminder(conn, event.id, REMINDER_SOON)
        return (await views(conn, [edited], actor.user_id, now))[0]


async def cancel_event(services: Services, actor: Actor, event_id: str) -> EventView:
    """A host (or an admin) cancels; the other hosts and the members on the list are told. Idempotent."""
    now = services.clock.now()
    notes: list[NotificationRecord] = []
    async with services.db.transaction() as conn:
        event = await load_visible(conn, actor, event_id, lock=True)
        cancelled = rules.cancel(event, actor.user_id, actor.is_admin, now)
        if cancelled is not None:
            await repo.update_event(conn, cancelled)
            told = [u for u in [*cancelled.hosts, *await repo.rsvp_members(conn, event.id)] if u != actor.user_id]
            notes = await notify(services, conn, told, CANCELLED, notification_data(cancelled))
            event = cancelled
        view = (await views(conn, [event], actor.user_id, now))[0]
    await publish(services, notes)
    return view


async def set_rsvp(services: Services, actor: Actor, event_id: str, going: bool) -> EventView:
    """ "Notify me" on or off; idempotent. Off is always allowed; on until the event is over."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        event = await load_visible(conn, actor, event_id)
        if going:
            rules.check_rsvp(event, now)
            await repo.add_rsvp(conn, event.id, actor.user_id, now)
        else:
            await repo.stop_notifying(conn, event.id, actor.user_id)
        return (await views(conn, [event], actor.user_id, now))[0]


async def invite_to_event(services: Services, actor: Actor, event_id: str, user_id: str) -> EventView:
    """A host puts a member on the event's list (as if they had RSVPed) and tells them: how a closed event gets
    its guests. Idempotent: someone already on the list is not told again."""
    now = services.clock.now()
    notes: list[NotificationRecord] = []
    async with services.db.transaction() as conn:
        event = await load_visible(conn, actor, event_id)
        rules.check_invite(event, actor.user_id, now)
        if not await repo.active_members(conn, [user_id]):
            raise refuse(ErrorCode.NOT_FOUND, "No such member.")
        if not event.is_host(user_id) and not await repo.is_listed(conn, event.id, user_id):
            await repo.add_rsvp(conn, event.id, user_id, now)
            inviter = (await repo.profiles(conn, [actor.user_id]))[actor.user_id]
            data = {**notification_data(event), "by": actor.user_id, "inviter": profile_data(inviter)}
            notes = await notify(services, conn, [user_id], INVITED, data)
        view = (await views(conn, [event], actor.user_id, now))[0]
    await publish(services, notes)
    return view


async def start_event(services: Services, actor: Actor, event_id: str) -> EventView:
    """A host starts the event: it becomes a live room the host moderates. Starting again returns the same room."""
    now = services.clock.now()
    opened: Room | None = None
    notes: list[NotificationRecord] = []
    async with services.db.transaction() as conn:
        event = await load_visible(conn, actor, event_id, lock=True)
        if rules.check_startable(event, actor.user_id, now):
            declared = await repo_interpretation.load_event(conn, event.id)
            spec = NewRoom(event.title, event.description, list(event.topics), event.room_type)
            if declared is not None:
                spec = replace(spec, languages=declared[0], ducking_db=declared[1])
            opened, starter = await insert_new_room(services, conn, actor.user_id, spec)
            others = [h for h in event.hosts if h != actor.user_id]
            for host in sorted(await repo.active_members(conn, others)):
                await repo_rooms.add_stage_invite(conn, opened.id, host, actor.user_id, now, as_moderator=True)
            listed = await repo.rsvp_members(conn, event.id)
            if event.room_type is RoomType.CLOSED:
                for user_id in listed:
                    await repo_rooms.grant_access(conn, opened.id, user_id, actor.user_id, now)
            if not await repo.mark_started(conn, event.id, opened.id, now):
                raise refuse(ErrorCode.CONFLICT, "This event changed meanwhile; try again.")
            await repo.record_reminder(conn, event.id, REMINDER_STARTED, now)
            event = replace(event, started_at=now, room_id=opened.id)
            told = [u for u in [*others, *listed] if u != actor.user_id]
            notes = await notify(services, conn, told, STARTED, notification_data(event))
            # The host's other followers who may see the room: "started a room" (those on the list just heard).
            notes += await tell_followers(services, conn, opened, starter.user, notices.STARTED_ROOM, exclude=told)
        view = (await views(conn, [event], actor.user_id, now))[0]
    if opened is not None:
        await open_room_media(services, opened, actor.user_id, spec.interpretation)
    await publish(services, notes)
    return view
