"""Store layer: the follow graph and blocks (tables ``follows`` and ``blocks``).

Functions take the caller's ``AsyncConnection``. Writes that touch a pair of members first lock both users' rows
(``lock_pair``: PostgreSQL ``FOR NO KEY UPDATE``, in id order so two requests never wait on each other in a
circle; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so a follow racing a block of the same pair runs
before or after it, never through it. Inserts are ``ON CONFLICT DO NOTHING``: following twice is not an error.

Disabled members are left out of every list and count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from salon.domain.accounts import UserSummary
from salon.domain.paging import Cursor
from salon.domain.social import Entry
from salon.store.tables import blocks, follows, participants, users

_SUMMARY = (users.c.id, users.c.username, users.c.display_name, users.c.avatar)


async def lock_pair(conn: AsyncConnection, a: str, b: str) -> None:
    query = select(users.c.id).where(users.c.id.in_(sorted({a, b}))).order_by(users.c.id)
    await conn.execute(query.with_for_update(key_share=True))


async def _insert_ignore(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> bool:
    """Insert unless the primary key exists; whether a row was added."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    result = await conn.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount == 1)


# --- follows -------------------------------------------------------------------------------------------------------


async def add_follow(conn: AsyncConnection, follower_id: str, followee_id: str, now: datetime) -> bool:
    values = {"follower_id": follower_id, "followee_id": followee_id, "created_at": now}
    return await _insert_ignore(conn, follows, values)


async def remove_follow(conn: AsyncConnection, follower_id: str, followee_id: str) -> bool:
    query = delete(follows).where(follows.c.follower_id == follower_id, follows.c.followee_id == followee_id)
    return bool((await conn.execute(query)).rowcount == 1)


async def is_following(conn: AsyncConnection, follower_id: str, followee_id: str) -> bool:
    query = select(follows.c.follower_id).where(
        follows.c.follower_id == follower_id, follows.c.followee_id == followee_id
    )
    return (await conn.execute(query)).first() is not None


def _enabled(column: Any) -> ColumnElement[bool]:
    return exists().where(users.c.id == column, users.c.disabled_at.is_(None))


async def count_followers(conn: AsyncConnection, user_id: str) -> int:
    query = select(func.count()).select_from(follows).where(follows.c.followee_id == user_id)
    return int((await conn.execute(query.where(_enabled(follows.c.follower_id)))).scalar_one())


async def count_following(conn: AsyncConnection, user_id: str) -> int:
    query = select(func.count()).select_from(follows).where(follows.c.follower_id == user_id)
    return int((await conn.execute(query.where(_enabled(follows.c.followee_id)))).scalar_one())


def _after(since: Any, user_id: Any, cursor: Cursor | None) -> list[ColumnElement[bool]]:
    """Entries strictly after the cursor in (since DESC, user id DESC) order."""
    if cursor is None:
        return []
    return [or_(since < cursor.at, and_(since == cursor.at, user_id < cursor.id))]


async def _page(
    conn: AsyncConnection,
    table: Any,
    owner: Any,
    other: Any,
    owner_id: str,
    viewer_id: str | None,
    cursor: Cursor | None,
    limit: int,
) -> list[Entry]:
    """``limit`` entries of ``table`` whose ``owner`` column is ``owner_id``, newest first, joined to the ``other``
    member (enabled only); each says whether ``viewer_id`` follows that member."""
    mine = follows.alias("viewer_follows")
    followed = (
        exists().where(mine.c.follower_id == viewer_id, mine.c.followee_id == users.c.id)
        if viewer_id is not None
        else None
    )
    columns = [*_SUMMARY, table.c.created_at]
    query = (
        select(*columns, *([followed.label("followed")] if followed is not None else []))
        .select_from(table.join(users, users.c.id == other))
        .where(owner == owner_id, users.c.disabled_at.is_(None), *_after(table.c.created_at, other, cursor))
        .order_by(table.c.created_at.desc(), other.desc())
        .limit(limit)
    )
    rows = (await conn.execute(query)).all()
    return [Entry(UserSummary(*r[:4]), r[4], bool(r[5]) if followed is not None else False) for r in rows]


async def followers(
    conn: AsyncConnection, user_id: str, viewer_id: str, cursor: Cursor | None, limit: int
) -> list[Entry]:
    return await _page(conn, follows, follows.c.followee_id, follows.c.follower_id, user_id, viewer_id, cursor, limit)


async def following(
    conn: AsyncConnection, user_id: str, viewer_id: str, cursor: Cursor | None, limit: int
) -> list[Entry]:
    return await _page(conn, follows, follows.c.follower_id, follows.c.followee_id, user_id, viewer_id, cursor, limit)


async def known_followers(
    conn: AsyncConnection, user_id: str, viewer_id: str, shown: int
) -> tuple[int, list[UserSummary]]:
    """Followers of ``user_id`` whom ``viewer_id`` follows: how many, and the ``shown`` who followed most recently."""
    theirs = follows.alias("theirs")  # someone -> the member
    mine = follows.alias("mine")  # the viewer -> someone
    base = (
        select()
        .select_from(
            theirs.join(mine, mine.c.followee_id == theirs.c.follower_id).join(
                users, users.c.id == theirs.c.follower_id
            )
        )
        .where(theirs.c.followee_id == user_id, mine.c.follower_id == viewer_id, users.c.disabled_at.is_(None))
    )
    count = int((await conn.execute(base.add_columns(func.count()))).scalar_one())
    if count == 0:
        return 0, []
    query = base.add_columns(*_SUMMARY).order_by(theirs.c.created_at.desc(), theirs.c.follower_id.desc()).limit(shown)
    return count, [UserSummary(*r) for r in await conn.execute(query)]


# --- blocks --------------------------------------------------------------------------------------------------------


async def add_block(conn: AsyncConnection, blocker_id: str, blocked_id: str, now: datetime) -> bool:
    """Block, and end follows between the two in both directions."""
    added = await _insert_ignore(conn, blocks, {"blocker_id": blocker_id, "blocked_id": blocked_id, "created_at": now})
    await conn.execute(
        delete(follows).where(
            or_(
                and_(follows.c.follower_id == blocker_id, follows.c.followee_id == blocked_id),
                and_(follows.c.follower_id == blocked_id, follows.c.followee_id == blocker_id),
            )
        )
    )
    return added


async def remove_block(conn: AsyncConnection, blocker_id: str, blocked_id: str) -> bool:
    query = delete(blocks).where(blocks.c.blocker_id == blocker_id, blocks.c.blocked_id == blocked_id)
    return bool((await conn.execute(query)).rowcount == 1)


async def has_blocked(conn: AsyncConnection, blocker_id: str, blocked_id: str) -> bool:
    query = select(blocks.c.blocker_id).where(blocks.c.blocker_id == blocker_id, blocks.c.blocked_id == blocked_id)
    return (await conn.execute(query)).first() is not None


async def blocked_by(conn: AsyncConnection, blocker_id: str, cursor: Cursor | None, limit: int) -> list[Entry]:
    return await _page(conn, blocks, blocks.c.blocker_id, blocks.c.blocked_id, blocker_id, None, cursor, limit)


async def listeners_followed_by_stage(conn: AsyncConnection, room_id: str, limit: int) -> list[str]:
    """Listeners of a room whom someone on its stage follows (the audience's first row), longest in the room
    first."""
    on_stage = participants.alias("on_stage")
    listening = participants.alias("listening")
    query = (
        select(listening.c.user_id)
        .join(follows, follows.c.followee_id == listening.c.user_id)
        .join(
            on_stage,
            and_(
                on_stage.c.user_id == follows.c.follower_id,
                on_stage.c.room_id == listening.c.room_id,
                on_stage.c.role != "listener",
            ),
        )
        .where(listening.c.room_id == room_id, listening.c.role == "listener")
        .group_by(listening.c.user_id, listening.c.joined_at)
        .order_by(listening.c.joined_at, listening.c.user_id)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())
