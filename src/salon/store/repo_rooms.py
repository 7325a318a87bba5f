"""Store layer: reading and writing rooms, participants, access lists and the retained event window.

Functions take an open ``AsyncConnection`` (the caller owns the transaction). ``lock_room`` takes the row lock on
PostgreSQL (``FOR UPDATE``) so that commands on one room run one at a time; on SQLite the write transaction
(``BEGIN IMMEDIATE``) already serialises writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.api_paths import avatar_url
from salon.domain.rooms import Access, Participant, Profile, Role, Room, RoomEventName, RoomType
from salon.store.tables import (
    blocks,
    follows,
    participants,
    room_access,
    room_bans,
    room_events,
    rooms,
    stage_invites,
    users,
)


def _room(row: RowMapping) -> Room:
    return Room(
        id=row["id"],
        title=row["title"],
        description=row["description"],
        topics=tuple(row["topics"]),
        type=RoomType(row["type"]),
        capacity=row["capacity"],
        hands_enabled=row["hands_enabled"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        ended_at=row["ended_at"],
        audience_batched=row["audience_batched"],
    )


def _profile(row: RowMapping) -> Profile:
    return Profile(row["user_id"], row["username"], row["display_name"], avatar_url(row["avatar"]))


def _participant(row: RowMapping) -> Participant:
    return Participant(
        room_id=row["room_id"],
        user=_profile(row),
        role=Role(row["role"]),
        joined_at=row["joined_at"],
        stage_since=row["stage_since"],
        hand_raised_at=row["hand_raised_at"],
        muted=row["muted"],
        mute_locked=row["mute_locked"],
        invited_up=row["invited_up"],
        invited_until=row["invited_until"],
    )


_PARTICIPANT_COLUMNS = (
    participants,
    users.c.username,
    users.c.display_name,
    users.c.avatar,
)


def _participants_query() -> Any:
    return select(*_PARTICIPANT_COLUMNS).join(users, users.c.id == participants.c.user_id)


async def insert_room(conn: AsyncConnection, room: Room) -> None:
    await conn.execute(
        insert(rooms).values(
            id=room.id,
            title=room.title,
            description=room.description,
            topics=list(room.topics),
            type=room.type.value,
            capacity=room.capacity,
            hands_enabled=room.hands_enabled,
            audience_batched=room.audience_batched,
            created_by=room.created_by,
            created_at=room.created_at,
            ended_at=room.ended_at,
            seq=0,
        )
    )


async def get_room(conn: AsyncConnection, room_id: str, *, lock: bool = False) -> tuple[Room, int] | None:
    """The room and its current event sequence number."""
    query = select(rooms).where(rooms.c.id == room_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else (_room(row), row["seq"])


async def update_room(conn: AsyncConnection, room: Room) -> None:
    await conn.execute(
        update(rooms)
        .where(rooms.c.id == room.id)
        .values(hands_enabled=room.hands_enabled, ended_at=room.ended_at, audience_batched=room.audience_batched)
    )


async def live_rooms(conn: AsyncConnection) -> list[Room]:
    rows = (await conn.execute(select(rooms).where(rooms.c.ended_at.is_(None)).order_by(rooms.c.created_at))).mappings()
    return [_room(r) for r in rows]


async def live_ids(conn: AsyncConnection, room_ids: Iterable[str]) -> set[str]:
    """Those of ``room_ids`` that name a live room (not ended; an unknown id is not live)."""
    query = select(rooms.c.id).where(rooms.c.id.in_(list(room_ids)), rooms.c.ended_at.is_(None))
    return set((await conn.execute(query)).scalars())


async def get_participant(conn: AsyncConnection, room_id: str, user_id: str) -> Participant | None:
    query = _participants_query().where(participants.c.room_id == room_id, participants.c.user_id == user_id)
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else _participant(row)


async def stage(conn: AsyncConnection, room_id: str) -> list[Participant]:
    query = _participants_query().where(participants.c.room_id == room_id, participants.c.role != Role.LISTENER.value)
    return [_participant(r) for r in (await conn.execute(query)).mappings()]


async def raised_hands(conn: AsyncConnection, room_id: str) -> list[Participant]:
    query = _participants_query().where(participants.c.room_id == room_id, participants.c.hand_raised_at.is_not(None))
    return [_participant(r) for r in (await conn.execute(query)).mappings()]


async def visible_participants(conn: AsyncConnection, room_id: str, batched: bool) -> list[Participant]:
    """Everyone, or — in a batched audience — the stage plus listeners with a raised hand or an invitation up."""
    query = _participants_query().where(participants.c.room_id == room_id)
    if batched:
        query = query.where(
            or_(
                participants.c.role != Role.LISTENER.value,
                participants.c.hand_raised_at.is_not(None),
                participants.c.invited_up.is_(True),
            )
        )
    return [_participant(r) for r in (await conn.execute(query)).mappings()]


async def headcount(conn: AsyncConnection, room_id: str, *, role: Role | None = None) -> int:
    query = select(func.count()).select_from(participants).where(participants.c.room_id == room_id)
    if role is not None:
        query = query.where(participants.c.role == role.value)
    return int((await conn.execute(query)).scalar_one())


async def lapsed_invitations(conn: AsyncConnection, now: datetime, limit: int) -> list[tuple[str, str]]:
    """(room, member) whose invitation up lapsed by ``now``, the longest lapsed first."""
    until = participants.c.invited_until
    query = (
        select(participants.c.room_id, participants.c.user_id)
        .where(participants.c.invited_up.is_(True), until <= now)
        .order_by(until, participants.c.room_id, participants.c.user_id)
        .limit(limit)
    )
    return [(row.room_id, row.user_id) for row in await conn.execute(query)]


async def stored_participants(conn: AsyncConnection, room_id: str, user_ids: Sequence[str]) -> set[str]:
    if not user_ids:
        return set()
    query = select(participants.c.user_id).where(
        participants.c.room_id == room_id, participants.c.user_id.in_(list(user_ids))
    )
    return set((await conn.execute(query)).scalars())


def _participant_values(p: Participant) -> dict[str, Any]:
    return {
        "role": p.role.value,
        "joined_at": p.joined_at,
        "stage_since": p.stage_since,
        "hand_raised_at": p.hand_raised_at,
        "muted": p.muted,
        "mute_locked": p.mute_locked,
        "invited_up": p.invited_up,
        "invited_until": p.invited_until,
    }


async def save_participants(conn: AsyncConnection, upserts: Iterable[Participant], existing: set[str]) -> None:
    """Insert new participants and update known ones (``existing`` holds the user ids already stored)."""
    for p in upserts:
        if p.user_id in existing:
            await conn.execute(
                update(participants)
                .where(participants.c.room_id == p.room_id, participants.c.user_id == p.user_id)
                .values(**_participant_values(p))
            )
        else:
            await conn.execute(
                insert(participants).values(room_id=p.room_id, user_id=p.user_id, **_participant_values(p))
            )


async def delete_participants(conn: AsyncConnection, room_id: str, user_ids: Sequence[str] | None = None) -> None:
    query = delete(participants).where(participants.c.room_id == room_id)
    if user_ids is not None:
        query = query.where(participants.c.user_id.in_(list(user_ids)))
    await conn.execute(query)


async def access_flags(conn: AsyncConnection, room_id: str, user_id: str) -> tuple[bool, bool, bool]:
    """(banned, let in, has a pending stage invitation) for one member in one room."""

    async def _exists(table: Any) -> bool:
        query = select(table.c.user_id).where(table.c.room_id == room_id, table.c.user_id == user_id)
        return (await conn.execute(query)).first() is not None

    return await _exists(room_bans), await _exists(room_access), await _exists(stage_invites)


def _moderator_ids(room_id: str) -> Any:
    return select(participants.c.user_id).where(
        participants.c.room_id == room_id, participants.c.role == Role.MODERATOR.value
    )


async def follows_a_moderator(conn: AsyncConnection, room_id: str, user_id: str) -> bool:
    query = select(follows.c.followee_id).where(
        follows.c.follower_id == user_id, follows.c.followee_id.in_(_moderator_ids(room_id))
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def blocked_by_a_moderator(conn: AsyncConnection, room_id: str, user_id: str) -> bool:
    query = select(blocks.c.blocker_id).where(
        blocks.c.blocked_id == user_id, blocks.c.blocker_id.in_(_moderator_ids(room_id))
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def invited_as_moderator(conn: AsyncConnection, room_id: str, user_id: str) -> bool:
    query = select(stage_invites.c.as_moderator).where(
        stage_invites.c.room_id == room_id, stage_invites.c.user_id == user_id
    )
    return bool((await conn.execute(query)).scalar())


async def load_access(conn: AsyncConnection, room_id: str, user_id: str) -> Access:
    """Everything the room rules need to know about one member's relation to one room."""
    banned, let_in, invited = await access_flags(conn, room_id, user_id)
    return Access(
        is_admin=await is_admin(conn, user_id),
        banned=banned,
        let_in=let_in,
        stage_invite=invited,
        follows_a_moderator=await follows_a_moderator(conn, room_id, user_id),
        blocked_by_a_moderator=await blocked_by_a_moderator(conn, room_id, user_id),
        invited_as_moderator=invited and await invited_as_moderator(conn, room_id, user_id),
    )


async def add_ban(conn: AsyncConnection, room_id: str, user_id: str, by: str, now: datetime) -> None:
    if (await access_flags(conn, room_id, user_id))[0]:
        return
    await conn.execute(insert(room_bans).values(room_id=room_id, user_id=user_id, banned_by=by, created_at=now))
    await conn.execute(
        delete(stage_invites).where(stage_invites.c.room_id == room_id, stage_invites.c.user_id == user_id)
    )


async def grant_access(conn: AsyncConnection, room_id: str, user_id: str, by: str, now: datetime) -> None:
    if (await access_flags(conn, room_id, user_id))[1]:
        return
    await conn.execute(insert(room_access).values(room_id=room_id, user_id=user_id, granted_by=by, created_at=now))


async def add_stage_invite(
    conn: AsyncConnection, room_id: str, user_id: str, by: str, now: datetime, *, as_moderator: bool = False
) -> None:
    """Invite a member not in the room up; ``as_moderator``: joining makes them a moderator (an event's host)."""
    if (await access_flags(conn, room_id, user_id))[2]:
        return
    await conn.execute(
        insert(stage_invites).values(
            room_id=room_id, user_id=user_id, invited_by=by, created_at=now, as_moderator=as_moderator
        )
    )


async def clear_stage_invites(conn: AsyncConnection, room_id: str, user_id: str | None = None) -> None:
    query = delete(stage_invites).where(stage_invites.c.room_id == room_id)
    if user_id is not None:
        query = query.where(stage_invites.c.user_id == user_id)
    await conn.execute(query)


async def user_exists(conn: AsyncConnection, user_id: str) -> bool:
    query = select(users.c.id).where(users.c.id == user_id, users.c.disabled_at.is_(None))
    return (await conn.execute(query)).first() is not None


async def get_profile(conn: AsyncConnection, user_id: str) -> Profile | None:
    query = select(users.c.id.label("user_id"), users.c.username, users.c.display_name, users.c.avatar).where(
        users.c.id == user_id, users.c.disabled_at.is_(None)
    )
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else _profile(row)


async def is_admin(conn: AsyncConnection, user_id: str) -> bool:
    query = select(users.c.is_admin).where(users.c.id == user_id)
    return bool((await conn.execute(query)).scalar())


# --- the event window ------------------------------------------------------------------------------------------


async def append_events(
    conn: AsyncConnection,
    room_id: str,
    first_seq: int,
    events: Sequence[tuple[RoomEventName, dict[str, Any]]],
    now: datetime,
    window: int,
) -> int:
    """Store events with consecutive sequence numbers from ``first_seq``; return the room's new last seq."""
    if not events:
        return first_seq - 1
    rows = [
        {"room_id": room_id, "seq": first_seq + i, "name": name, "data": data, "created_at": now}
        for i, (name, data) in enumerate(events)
    ]
    await conn.execute(insert(room_events), rows)
    last = first_seq + len(events) - 1
    await conn.execute(update(rooms).where(rooms.c.id == room_id).values(seq=last))
    await conn.execute(delete(room_events).where(room_events.c.room_id == room_id, room_events.c.seq <= last - window))
    return last


async def events_after(
    conn: AsyncConnection, room_id: str, after: int
) -> list[tuple[int, RoomEventName, dict[str, Any]]]:
    """The retained events after ``after``; their names are those ``append_events`` wrote, hence the closed type."""
    query = (
        select(room_events.c.seq, room_events.c.name, room_events.c.data)
        .where(and_(room_events.c.room_id == room_id, room_events.c.seq > after))
        .order_by(room_events.c.seq)
    )
    return [(r.seq, r.name, r.data) for r in await conn.execute(query)]


async def oldest_retained_seq(conn: AsyncConnection, room_id: str) -> int | None:
    query = select(func.min(room_events.c.seq)).where(room_events.c.room_id == room_id)
    value = (await conn.execute(query)).scalar()
    return None if value is None else int(value)
