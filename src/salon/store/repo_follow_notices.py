"""Store layer: what the follow-notice rule (``domain/notices.py``) needs about a member's followers and a room,
read in bulk — a fixed number of queries however many followers (a query per follower would make a popular
member's stage arrival thousands of reads).

Every query starts from the subject's enabled followers (``ix_follows_followee``) and reads the room's rows by
primary key or the notifications' ``(user_id, created_at)`` index.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.notices import KINDS, Candidate
from salon.domain.rooms import Access, Role, Room
from salon.store.tables import (
    blocks,
    follows,
    notifications,
    participants,
    room_access,
    room_bans,
    stage_invites,
    users,
)

# pg_advisory_xact_lock key of "writing follow notices" (any constant; nothing else in Salon takes advisory locks)
_LOCK_KEY = 0x5A1011_F011


def _followers(subject_id: str) -> Any:
    return (
        select(follows.c.follower_id)
        .join(users, users.c.id == follows.c.follower_id)
        .where(follows.c.followee_id == subject_id, users.c.disabled_at.is_(None))
    )


async def lock(conn: AsyncConnection) -> None:
    """Serialise follow-notice writers until the end of the transaction, so the hourly bound is exact: two rooms'
    commands telling the same member at the same moment would otherwise both read the count before either wrote.
    SQLite write transactions are serialised already."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


async def candidates(
    conn: AsyncConnection, room: Room, subject_id: str, now: datetime, window: timedelta
) -> list[Candidate]:
    """The subject's enabled followers, each with their relation to ``room`` and the follow notices they had in
    ``window`` before ``now``: 11 statements whatever their number (10 on SQLite; 1 when they have none). Takes
    :func:`lock` before reading the counts, so call it in the transaction that writes the notices."""
    followers = _followers(subject_id)
    ids = sorted(r[0] for r in await conn.execute(followers))
    if not ids:
        return []
    await lock(conn)

    async def users_in(table: Any) -> set[str]:
        query = select(table.c.user_id).where(table.c.room_id == room.id, table.c.user_id.in_(followers))
        return {r[0] for r in await conn.execute(query)}

    in_room = await users_in(participants)
    banned = await users_in(room_bans)
    let_in = await users_in(room_access)
    query = select(stage_invites.c.user_id, stage_invites.c.as_moderator).where(
        stage_invites.c.room_id == room.id, stage_invites.c.user_id.in_(followers)
    )
    invites = {user_id: bool(as_moderator) for user_id, as_moderator in await conn.execute(query)}
    moderators = select(participants.c.user_id).where(
        participants.c.room_id == room.id, participants.c.role == Role.MODERATOR.value
    )
    query = select(follows.c.follower_id).where(
        follows.c.follower_id.in_(followers), follows.c.followee_id.in_(moderators)
    )
    follows_a_moderator = {r[0] for r in await conn.execute(query.distinct())}
    query = select(blocks.c.blocked_id).where(blocks.c.blocked_id.in_(followers), blocks.c.blocker_id.in_(moderators))
    blocked_by_a_moderator = {r[0] for r in await conn.execute(query.distinct())}
    query = select(blocks.c.blocker_id, blocks.c.blocked_id).where(
        or_(
            and_(blocks.c.blocker_id == subject_id, blocks.c.blocked_id.in_(followers)),
            and_(blocks.c.blocked_id == subject_id, blocks.c.blocker_id.in_(followers)),
        )
    )
    block_with_subject = {a if b == subject_id else b for a, b in await conn.execute(query)}
    mine = and_(notifications.c.user_id.in_(followers), notifications.c.kind.in_(KINDS))
    query = (
        select(notifications.c.user_id, func.count())
        .where(mine, notifications.c.created_at > now - window)
        .group_by(notifications.c.user_id)
    )
    told_last_hour = {user_id: int(count) for user_id, count in await conn.execute(query)}
    query = select(notifications.c.user_id).where(
        mine,
        notifications.c.created_at >= room.created_at,
        notifications.c.data["room_id"].as_string() == room.id,
        notifications.c.data[("user", "id")].as_string() == subject_id,
    )
    told_here = {r[0] for r in await conn.execute(query.distinct())}
    return [
        Candidate(
            user_id=user_id,
            access=Access(
                banned=user_id in banned,
                let_in=user_id in let_in,
                stage_invite=user_id in invites,
                follows_a_moderator=user_id in follows_a_moderator,
                blocked_by_a_moderator=user_id in blocked_by_a_moderator,
                invited_as_moderator=invites.get(user_id, False),
            ),
            in_room=user_id in in_room,
            block_with_subject=user_id in block_with_subject,
            told_here=user_id in told_here,
            told_last_hour=told_last_hour.get(user_id, 0),
        )
        for user_id in ids
    ]
