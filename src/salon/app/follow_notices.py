"""App layer: telling followers that someone they follow started a room or came on stage (``domain/notices.py``
decides who, and bounds it).

Called inside the transaction of what happened — opening a room (``app/rooms.create_room``), starting a scheduled
event (``app/events.start_event``), any room command that puts someone on stage (``app/room_commands``) — so the
notices commit or roll back with it; the caller pushes them with ``notifications.publish`` after the commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.notifications import notify
from salon.app.services import Services
from salon.domain import notices as rules
from salon.domain.notifications import NotificationRecord
from salon.domain.rooms import Participant, Profile, Room, profile_data
from salon.store import repo_follow_notices as repo


async def tell_followers(
    services: Services,
    conn: AsyncConnection,
    room: Room,
    subject: Profile,
    kind: str,
    *,
    exclude: Collection[str] = (),
) -> list[NotificationRecord]:
    """Write ``kind`` (``followed_started_room`` or ``followed_speaking``) about ``subject`` in ``room`` for the
    followers the rule picks."""
    now = services.clock.now()
    found = await repo.candidates(conn, room, subject.user_id, now, rules.WINDOW)
    told = rules.recipients(room, found, exclude=exclude)
    data = {"room_id": room.id, "title": room.title, "user": profile_data(subject)}
    return await notify(services, conn, told, kind, data)


async def tell_about_arrivals(
    services: Services,
    conn: AsyncConnection,
    room: Room,
    before: Mapping[str, Participant],
    written: Iterable[Participant],
) -> list[NotificationRecord]:
    """``followed_speaking`` for everyone a room command just put on stage (``before``: who was in the room, as
    far as the command loaded them; ``written``: the participants it saved)."""
    notes: list[NotificationRecord] = []
    if room.ended:
        return notes
    for p in rules.stage_arrivals(before, written):
        notes += await tell_followers(services, conn, room, p.user, rules.SPEAKING)
    return notes
