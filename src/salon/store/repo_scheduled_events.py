"""Store layer: scheduled events — the events with their hosts, RSVPs, reminders sent, calendar feeds.

Functions take the caller's ``AsyncConnection``. ``get_event(lock=True)`` takes the event's row lock on PostgreSQL
(``FOR UPDATE``), so that starting, editing, cancelling and sending a reminder for one event run one at a time; on
SQLite the write transaction (``BEGIN IMMEDIATE``) already serialises writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from salon.domain.api_paths import avatar_url
from salon.domain.paging import Cursor
from salon.domain.rooms import Profile, RoomType
from salon.domain.scheduled_events import ScheduledEvent
from salon.store.tables import (
    blocks,
    calendar_feeds,
    event_hosts,
    event_reminders,
    event_rsvps,
    events,
    rooms,
    users,
)


def _event(row: RowMapping, hosts: Sequence[str]) -> ScheduledEvent:
    creator = row["created_by"]
    return ScheduledEvent(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        topics=tuple(row["topics"]),
        starts_at=row["starts_at"],
        timezone=row["timezone"],
        room_type=RoomType(row["room_type"]),
        created_by=creator,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        hosts=(creator, *sorted(h for h in hosts if h != creator)),
        cancelled_at=row["cancelled_at"],
        started_at=row["started_at"],
        room_id=row["room_id"],
        sequence=row["sequence"],
    )


def _values(event: ScheduledEvent) -> dict[str, Any]:
    return {
        "title": event.title,
        "description": event.description,
        "topics": list(event.topics),
        "starts_at": event.starts_at,
        "timezone": event.timezone,
        "room_type": event.room_type.value,
        "updated_at": event.updated_at,
        "cancelled_at": event.cancelled_at,
        "sequence": event.sequence,
    }


async def _hosts_of(conn: AsyncConnection, event_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {e: [] for e in event_ids}
    if event_ids:
        query = select(event_hosts.c.event_id, event_hosts.c.user_id).where(event_hosts.c.event_id.in_(event_ids))
        for event_id, user_id in await conn.execute(query):
            out[event_id].append(user_id)
    return out


async def _with_hosts(conn: AsyncConnection, rows: Sequence[RowMapping]) -> list[ScheduledEvent]:
    hosts = await _hosts_of(conn, [r["id"] for r in rows])
    return [_event(r, hosts[r["id"]]) for r in rows]


async def insert_event(conn: AsyncConnection, event: ScheduledEvent) -> None:
    await conn.execute(
        insert(events).values(
            id=event.id,
            created_by=event.created_by,
            created_at=event.created_at,
            started_at=event.started_at,
            room_id=event.room_id,
            **_values(event),
        )
    )
    await conn.execute(insert(event_hosts), [{"event_id": event.id, "user_id": h} for h in event.hosts])


async def get_event(conn: AsyncConnection, event_id: str, *, lock: bool = False) -> ScheduledEvent | None:
    query = select(events).where(events.c.id == event_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else (await _with_hosts(conn, [row]))[0]


async def update_event(conn: AsyncConnection, event: ScheduledEvent) -> None:
    """Write an edit or a cancellation (fields, sequence, and the host list when it changed)."""
    await conn.execute(update(events).where(events.c.id == event.id).values(**_values(event)))
    stored = set((await _hosts_of(conn, [event.id]))[event.id])
    wanted = set(event.hosts)
    if stored - wanted:
        await conn.execute(
            delete(event_hosts).where(event_hosts.c.event_id == event.id, event_hosts.c.user_id.in_(stored - wanted))
        )
    if wanted - stored:
        await conn.execute(insert(event_hosts), [{"event_id": event.id, "user_id": h} for h in sorted(wanted - stored)])


async def mark_started(conn: AsyncConnection, event_id: str, room_id: str, now: datetime) -> bool:
    """Record the start; the row count says whether this call won (a started event never starts again)."""
    result = await conn.execute(
        update(events)
        .where(events.c.id == event_id, events.c.started_at.is_(None), events.c.cancelled_at.is_(None))
        .values(started_at=now, room_id=room_id)
    )
    return result.rowcount == 1


async def room_ended(conn: AsyncConnection, room_id: str | None) -> bool:
    if room_id is None:
        return False
    query = select(rooms.c.ended_at).where(rooms.c.id == room_id)
    return (await conn.execute(query)).scalar() is not None


async def ended_rooms(conn: AsyncConnection, room_ids: Sequence[str]) -> set[str]:
    if not room_ids:
        return set()
    query = select(rooms.c.id).where(rooms.c.id.in_(list(room_ids)), rooms.c.ended_at.is_not(None))
    return set((await conn.execute(query)).scalars())


# --- who: hosts' cards, RSVPs, blocks --------------------------------------------------------------------------


async def profiles(conn: AsyncConnection, user_ids: Sequence[str]) -> dict[str, Profile]:
    """Cards of these members (disabled ones too: a host who was disabled still hosted)."""
    if not user_ids:
        return {}
    query = select(users.c.id, users.c.username, users.c.display_name, users.c.avatar).where(
        users.c.id.in_(list(set(user_ids)))
    )
    return {r.id: Profile(r.id, r.username, r.display_name, avatar_url(r.avatar)) for r in await conn.execute(query)}


async def active_members(conn: AsyncConnection, user_ids: Sequence[str]) -> set[str]:
    if not user_ids:
        return set()
    query = select(users.c.id).where(users.c.id.in_(list(user_ids)), users.c.disabled_at.is_(None))
    return set((await conn.execute(query)).scalars())


async def blocked_by_any(conn: AsyncConnection, blockers: Sequence[str], user_id: str) -> bool:
    """Whether one of ``blockers`` (an event's hosts) blocked ``user_id``."""
    query = select(blocks.c.blocker_id).where(blocks.c.blocked_id == user_id, blocks.c.blocker_id.in_(list(blockers)))
    return (await conn.execute(query.limit(1))).first() is not None


def _rsvp(event_id: str, user_id: str) -> ColumnElement[bool]:
    return and_(event_rsvps.c.event_id == event_id, event_rsvps.c.user_id == user_id)


async def is_listed(conn: AsyncConnection, event_id: str, user_id: str) -> bool:
    """On the event's list: RSVPed once or invited by a host, whether or not they still want to be notified."""
    return (await conn.execute(select(event_rsvps.c.user_id).where(_rsvp(event_id, user_id)))).first() is not None


async def add_rsvp(conn: AsyncConnection, event_id: str, user_id: str, now: datetime) -> None:
    """On the list, notified."""
    if await is_listed(conn, event_id, user_id):
        await conn.execute(update(event_rsvps).where(_rsvp(event_id, user_id)).values(notify=True))
    else:
        await conn.execute(insert(event_rsvps).values(event_id=event_id, user_id=user_id, created_at=now))


async def stop_notifying(conn: AsyncConnection, event_id: str, user_id: str) -> None:
    """ "Notify me" off: the place on the list stays (a closed event's guest keeps seeing it)."""
    await conn.execute(update(event_rsvps).where(_rsvp(event_id, user_id)).values(notify=False))


async def rsvp_counts(conn: AsyncConnection, event_ids: Sequence[str]) -> dict[str, int]:
    out = dict.fromkeys(event_ids, 0)
    if event_ids:
        query = (
            select(event_rsvps.c.event_id, func.count())
            .where(event_rsvps.c.event_id.in_(list(event_ids)), event_rsvps.c.notify)
            .group_by(event_rsvps.c.event_id)
        )
        out.update({event_id: int(n) for event_id, n in await conn.execute(query)})
    return out


async def rsvped_among(conn: AsyncConnection, event_ids: Sequence[str], user_id: str) -> set[str]:
    if not event_ids:
        return set()
    query = select(event_rsvps.c.event_id).where(
        event_rsvps.c.user_id == user_id, event_rsvps.c.event_id.in_(list(event_ids)), event_rsvps.c.notify
    )
    return set((await conn.execute(query)).scalars())


async def rsvp_members(conn: AsyncConnection, event_id: str) -> list[str]:
    """Who asked to be notified (enabled members only), in the order they asked."""
    query = (
        select(event_rsvps.c.user_id)
        .join(users, users.c.id == event_rsvps.c.user_id)
        .where(event_rsvps.c.event_id == event_id, event_rsvps.c.notify, users.c.disabled_at.is_(None))
        .order_by(event_rsvps.c.created_at, event_rsvps.c.user_id)
    )
    return list((await conn.execute(query)).scalars())


# --- listings --------------------------------------------------------------------------------------------------


def _visible_to(viewer_id: str) -> Any:
    """What ``domain.events.can_see_event`` allows, as SQL: events the viewer hosts; otherwise none one of whose
    hosts blocked them, and of those the open and social ones, or closed ones the viewer is on the list of."""
    hosted = select(event_hosts.c.event_id).where(event_hosts.c.user_id == viewer_id)
    listed = select(event_rsvps.c.event_id).where(event_rsvps.c.user_id == viewer_id)
    blocking_hosts = (
        select(event_hosts.c.event_id)
        .join(blocks, blocks.c.blocker_id == event_hosts.c.user_id)
        .where(blocks.c.blocked_id == viewer_id)
    )
    return or_(
        events.c.id.in_(hosted),
        and_(
            events.c.id.not_in(blocking_hosts),
            or_(events.c.room_type != RoomType.CLOSED.value, events.c.id.in_(listed)),
        ),
    )


async def upcoming(
    conn: AsyncConnection,
    viewer_id: str,
    is_admin: bool,
    since: datetime,
    after: Cursor | None,
    limit: int,
) -> list[ScheduledEvent]:
    """Scheduled events (not started, not cancelled, starting after ``since``) the viewer may see, soonest first,
    after the keyset cursor ``after`` = (starts_at, id)."""
    query = select(events).where(
        events.c.cancelled_at.is_(None), events.c.started_at.is_(None), events.c.starts_at >= since
    )
    if not is_admin:
        query = query.where(_visible_to(viewer_id))
    if after is not None:
        at, event_id = after.at, after.id
        query = query.where(or_(events.c.starts_at > at, and_(events.c.starts_at == at, events.c.id > event_id)))
    query = query.order_by(events.c.starts_at, events.c.id).limit(limit)
    return await _with_hosts(conn, list((await conn.execute(query)).mappings()))


async def of_member(conn: AsyncConnection, user_id: str, since: datetime, limit: int) -> list[ScheduledEvent]:
    """The events a member hosts or RSVPed, starting after ``since`` (cancelled ones included), by start."""
    hosted = select(event_hosts.c.event_id).where(event_hosts.c.user_id == user_id)
    listed = select(event_rsvps.c.event_id).where(event_rsvps.c.user_id == user_id)
    query = (
        select(events)
        .where(or_(events.c.id.in_(hosted), events.c.id.in_(listed)), events.c.starts_at >= since)
        .order_by(events.c.starts_at, events.c.id)
        .limit(limit)
    )
    return await _with_hosts(conn, list((await conn.execute(query)).mappings()))


# --- reminders -------------------------------------------------------------------------------------------------


async def due_reminders(conn: AsyncConnection, kind: str, starting_by: datetime, since: datetime) -> list[str]:
    """Scheduled events starting between ``since`` and ``starting_by`` with no ``kind`` reminder sent yet, by
    start. A scan by time: one that fell due while the app was down is still found after a restart."""
    sent = select(event_reminders.c.event_id).where(event_reminders.c.kind == kind)
    query = (
        select(events.c.id)
        .where(
            events.c.cancelled_at.is_(None),
            events.c.started_at.is_(None),
            events.c.starts_at <= starting_by,
            events.c.starts_at >= since,
            events.c.id.not_in(sent),
        )
        .order_by(events.c.starts_at, events.c.id)
    )
    return list((await conn.execute(query)).scalars())


async def reminder_sent(conn: AsyncConnection, event_id: str, kind: str) -> bool:
    query = select(event_reminders.c.event_id).where(
        event_reminders.c.event_id == event_id, event_reminders.c.kind == kind
    )
    return (await conn.execute(query)).first() is not None


async def record_reminder(conn: AsyncConnection, event_id: str, kind: str, now: datetime) -> None:
    """Insert the reminder's row: a second insert for the same (event, kind) fails on the primary key, so a
    reminder written in the same transaction as its notifications is never sent twice."""
    await conn.execute(insert(event_reminders).values(event_id=event_id, kind=kind, sent_at=now))


async def forget_reminder(conn: AsyncConnection, event_id: str, kind: str) -> None:
    await conn.execute(
        delete(event_reminders).where(event_reminders.c.event_id == event_id, event_reminders.c.kind == kind)
    )


# --- calendar feeds --------------------------------------------------------------------------------------------


async def set_feed(conn: AsyncConnection, user_id: str, token_hash: str, now: datetime) -> None:
    """Replace the member's feed token (the old URL stops working in the same transaction)."""
    await conn.execute(delete(calendar_feeds).where(calendar_feeds.c.user_id == user_id))
    await conn.execute(insert(calendar_feeds).values(user_id=user_id, token_hash=token_hash, created_at=now))


async def delete_feed(conn: AsyncConnection, user_id: str) -> bool:
    result = await conn.execute(delete(calendar_feeds).where(calendar_feeds.c.user_id == user_id))
    return result.rowcount > 0


async def feed_created_at(conn: AsyncConnection, user_id: str) -> datetime | None:
    query = select(calendar_feeds.c.created_at).where(calendar_feeds.c.user_id == user_id)
    value: datetime | None = (await conn.execute(query)).scalar()
    return value


async def feed_owner(conn: AsyncConnection, token_hash: str) -> Profile | None:
    """The enabled member whose feed this token opens."""
    query = (
        select(users.c.id, users.c.username, users.c.display_name, users.c.avatar)
        .join(calendar_feeds, calendar_feeds.c.user_id == users.c.id)
        .where(calendar_feeds.c.token_hash == token_hash, users.c.disabled_at.is_(None))
    )
    row = (await conn.execute(query)).first()
    return None if row is None else Profile(row.id, row.username, row.display_name, avatar_url(row.avatar))
