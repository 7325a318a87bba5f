"""App layer: notifications — an in-app list per member (unread count, mark read) plus a live push.

Any use case that has something to tell members calls :func:`notify` inside its own write transaction (the rows
commit or roll back with what caused them), then :func:`publish` after the commit: every connection of each
recipient gets a ``user_event`` frame named ``notification`` with the notification as data. A member who is not
connected finds it in the list later. ``kind`` says what happened and ``data`` carries what a client needs to show
it (ids, a title); both are free-form here so that pings, follows, invites and the like can use the same path.

Kinds produced so far: ``event_starting_soon`` (an event you host or RSVPed starts in 10 minutes, sent by
``app/reminders.py``), ``event_started`` (it became a live room), ``event_cancelled``, ``event_invited``;
``pinged`` (``app/pings.py``); ``followed_started_room`` and ``followed_speaking`` (``app/follow_notices.py``,
bounded by ``domain/notices.py``); ``invite_redeemed`` and ``nominated`` (sign-up, ``app/accounts.py``);
``followed_you`` (someone followed you, from the API or the inviter's auto-follow at sign-up: ``app/new_followers.py``,
bounded by ``domain/new_followers.py``). ``domain/notification_prefs.GROUPS`` sorts the kinds into the groups a member
turns on or off.

Members' preferences are applied here and nowhere else, since every producer goes through these two functions: a
kind whose group the recipient turned off is not written (:func:`notify`), and a recipient whose pause lasts is not
pushed live (:func:`publish`): the notification waits in the list. Their settings are read and saved with
:func:`get_prefs` / :func:`set_prefs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain import notification_prefs as prefs_rules
from salon.domain.errors import ErrorCode, refuse
from salon.domain.notification_prefs import NotificationPrefs
from salon.domain.notifications import NotificationRecord
from salon.domain.paging import PAGE_DEFAULT, Cursor, decode_cursor, encode_cursor
from salon.store import repo_notification_prefs as repo_prefs
from salon.store import repo_notifications as repo
from salon.store import repo_rooms

PUSH_NAME = "notification"
READ_PUSH_NAME = "notifications_read"
KIND_MAX = 30  # the column's width
# At most this many ids in one "mark read" request.
MARK_MAX = 500


@dataclass(frozen=True)
class Page:
    notifications: list[NotificationRecord]
    unread_count: int
    next_cursor: str | None
    live_rooms: set[str]  # the live rooms among those the notifications point to


def notification_data(note: NotificationRecord, live_rooms: Set[str] = frozenset()) -> dict[str, Any]:
    """The wire shape, in the list and in the push. ``room_ended`` says whether the room the notification points
    to (``data.room_id``) is over — ended, or gone — as the server knows it when it answers, so a client never
    offers "Join" for a room that ended; null when it points to no room. ``live_rooms``: the live ones among them."""
    room_id = _room_of(note)
    return {
        "id": note.id,
        "kind": note.kind,
        "data": note.data,
        "created_at": note.created_at.isoformat(),
        "read_at": note.read_at.isoformat() if note.read_at else None,
        "room_ended": None if room_id is None else room_id not in live_rooms,
    }


def _room_of(note: NotificationRecord) -> str | None:
    room_id = note.data.get("room_id")
    return room_id if isinstance(room_id, str) else None


async def live_rooms_of(conn: AsyncConnection, notes: Iterable[NotificationRecord]) -> set[str]:
    """Which of the rooms these notifications point to are live (one query; none when they point to no room)."""
    ids = {room_id for note in notes if (room_id := _room_of(note)) is not None}
    return await repo_rooms.live_ids(conn, ids) if ids else set()


async def notify(
    services: Services, conn: AsyncConnection, user_ids: Iterable[str], kind: str, data: dict[str, Any]
) -> list[NotificationRecord]:
    """Write one notification per recipient (each once, in the order given) inside the caller's transaction,
    leaving out those who turned this kind's group off; pass the result to :func:`publish` after the commit."""
    if not 1 <= len(kind) <= KIND_MAX:
        raise ValueError(f"notification kind {kind!r} does not fit")
    now = services.clock.now()
    told = list(dict.fromkeys(user_ids))
    if told and prefs_rules.group_of(kind) is not None:
        told = prefs_rules.recipients(told, kind, await repo_prefs.of_users(conn, told))
    records = [NotificationRecord(services.ids.new_id(), user_id, kind, data, now) for user_id in told]
    await repo.insert_notifications(conn, records)
    return records


async def publish(services: Services, records: Sequence[NotificationRecord]) -> None:
    """Push committed notifications to their recipients' live connections, except to members whose pause lasts
    (as of now: a pause set since the commit counts). Their notifications stay in the list, unread."""
    if not records:
        return
    async with services.db.read() as conn:
        stored = await repo_prefs.of_users(conn, {note.user_id for note in records})
        now = services.clock.now()
        records = [n for n in records if n.user_id not in stored or not prefs_rules.is_paused(stored[n.user_id], now)]
        live = await live_rooms_of(conn, records)
    for note in records:
        await services.bus.publish_user(note.user_id, PUSH_NAME, notification_data(note, live))


async def list_notifications(services: Services, actor: Actor, cursor: str | None, limit: int = PAGE_DEFAULT) -> Page:
    before = None if cursor is None else decode_cursor(cursor)
    async with services.db.read() as conn:
        notes = await repo.list_for(conn, actor.user_id, before, limit + 1)
        unread = await repo.unread_count(conn, actor.user_id)
        more = len(notes) > limit
        notes = notes[:limit]
        live = await live_rooms_of(conn, notes)
    next_cursor = encode_cursor(Cursor(notes[-1].created_at, notes[-1].id)) if more else None
    return Page(notes, unread, next_cursor, live)


async def mark_read(services: Services, actor: Actor, ids: Sequence[str] | None) -> int:
    """Mark some (``ids``) or all (None) of my notifications read; the unread count after. Ids that are not mine
    or already read are ignored, so marking is idempotent. My other connections hear the new count."""
    if ids is not None and len(ids) > MARK_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"Mark at most {MARK_MAX} notifications at once.", field="ids")
    async with services.db.transaction() as conn:
        changed = await repo.mark_read(conn, actor.user_id, ids, services.clock.now())
        unread = await repo.unread_count(conn, actor.user_id)
    if changed:
        await services.bus.publish_user(actor.user_id, READ_PUSH_NAME, {"unread_count": unread})
    return unread


async def get_prefs(services: Services, actor: Actor) -> NotificationPrefs:
    """My notification preferences as they stand now (a pause that ended is shown as none)."""
    async with services.db.read() as conn:
        stored = await repo_prefs.get(conn, actor.user_id)
    return prefs_rules.as_of(stored, services.clock.now())


async def set_prefs(
    services: Services, actor: Actor, off: Iterable[str], paused_until: datetime | None
) -> NotificationPrefs:
    """Replace my preferences: the groups turned off, and a pause until ``paused_until`` (None: no pause)."""
    now = services.clock.now()
    chosen = prefs_rules.choose(off, paused_until, now)
    async with services.db.transaction() as conn:
        await repo_prefs.put(conn, actor.user_id, chosen, now)
    return chosen
