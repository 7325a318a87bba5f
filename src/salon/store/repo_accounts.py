"""Store layer: the accounts repository — users, sessions, invites and the waitlist (SQLAlchemy Core).

Every function takes the caller's ``AsyncConnection``, so a use case decides what one transaction holds. Quotas and
single use are decided by conditional ``UPDATE``s whose row count says whether this request won: exact under
concurrency on SQLite (``BEGIN IMMEDIATE`` serialises writers) and on PostgreSQL (the second writer waits for the
row lock, then re-checks the ``WHERE`` against the committed row).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.accounts import UserSummary, username_key
from salon.domain.errors import ErrorCode, refuse
from salon.store.tables import sessions, users


@dataclass(frozen=True)
class UserRecord:
    id: str
    username: str
    display_name: str
    bio: str
    avatar: str | None
    password_hash: str
    is_admin: bool
    invites_left: int
    invited_by: str | None
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class SessionRecord:
    """A live session with its (enabled) user: what authentication needs, in one query."""

    token_hash: str
    kind: str
    csrf_token: str
    expires_at: datetime
    user_id: str
    username: str
    is_admin: bool


_SUMMARY_COLUMNS = (users.c.id, users.c.username, users.c.display_name, users.c.avatar)


def _user(row: Row[Any]) -> UserRecord:
    m = row._mapping
    return UserRecord(**{f.name: m[f.name] for f in fields(UserRecord)} | {"is_admin": bool(m["is_admin"])})


# --- users ---------------------------------------------------------------------------------------------------------


async def insert_user(
    conn: AsyncConnection,
    *,
    user_id: str,
    username: str,
    display_name: str,
    password_hash: str,
    is_admin: bool,
    invites_left: int,
    invited_by: str | None,
    now: datetime,
) -> None:
    """Insert a member; the unique ``username_key`` turns a lost race for a name into ``username_taken``."""
    try:
        await conn.execute(
            insert(users).values(
                id=user_id,
                username=username,
                username_key=username_key(username),
                display_name=display_name,
                bio="",
                avatar=None,
                password_hash=password_hash,
                is_admin=is_admin,
                invites_left=invites_left,
                invited_by=invited_by,
                created_at=now,
                disabled_at=None,
            )
        )
    except IntegrityError as exc:
        raise refuse(ErrorCode.USERNAME_TAKEN, "That username is taken; pick another.", field="username") from exc


async def get_user(conn: AsyncConnection, user_id: str) -> UserRecord | None:
    row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
    return _user(row) if row else None


async def get_user_by_username(conn: AsyncConnection, username: str) -> UserRecord | None:
    row = (await conn.execute(select(users).where(users.c.username_key == username_key(username)))).first()
    return _user(row) if row else None


async def get_summary(conn: AsyncConnection, user_id: str | None) -> UserSummary | None:
    if user_id is None:
        return None
    row = (await conn.execute(select(*_SUMMARY_COLUMNS).where(users.c.id == user_id))).first()
    return UserSummary(*row) if row else None


async def list_users(conn: AsyncConnection) -> list[UserRecord]:
    rows = await conn.execute(select(users).order_by(users.c.created_at, users.c.username_key))
    return [_user(r) for r in rows]


async def update_user(conn: AsyncConnection, user_id: str, **values: Any) -> bool:
    """Set profile fields (display_name, bio, avatar, password_hash); False when the user does not exist."""
    allowed = {"display_name", "bio", "avatar", "password_hash"}
    if not values.keys() <= allowed:
        raise ValueError(f"not a profile field: {sorted(values.keys() - allowed)}")
    result = await conn.execute(update(users).where(users.c.id == user_id).values(**values))
    return result.rowcount == 1


async def spend_invite(conn: AsyncConnection, user_id: str) -> bool:
    """Take one invite from the member's quota; False (and no change) when none is left."""
    result = await conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.invites_left > 0)
        .values(invites_left=users.c.invites_left - 1)
    )
    return result.rowcount == 1


async def add_invites(conn: AsyncConnection, user_id: str, count: int) -> int | None:
    """Give ``count`` invites to a member; their new quota, or None when the user does not exist."""
    result = await conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(invites_left=users.c.invites_left + count)
        .returning(users.c.invites_left)
    )
    row = result.first()
    return int(row[0]) if row else None


async def invites_left(conn: AsyncConnection, user_id: str) -> int:
    value = (await conn.execute(select(users.c.invites_left).where(users.c.id == user_id))).scalar_one()
    return int(value)


async def set_disabled(conn: AsyncConnection, user_id: str, at: datetime | None) -> bool:
    result = await conn.execute(update(users).where(users.c.id == user_id).values(disabled_at=at))
    return result.rowcount == 1


# --- sessions ------------------------------------------------------------------------------------------------------


async def insert_session(
    conn: AsyncConnection,
    *,
    token_hash: str,
    user_id: str,
    kind: str,
    csrf_token: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        insert(sessions).values(
            token_hash=token_hash,
            user_id=user_id,
            kind=kind,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def find_session(conn: AsyncConnection, token_hash: str, now: datetime) -> SessionRecord | None:
    """The session with this hash when it has not expired and its user is not disabled."""
    query = (
        select(
            sessions.c.token_hash,
            sessions.c.kind,
            sessions.c.csrf_token,
            sessions.c.expires_at,
            users.c.id,
            users.c.username,
            users.c.is_admin,
        )
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now, users.c.disabled_at.is_(None))
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return SessionRecord(
        token_hash=row[0],
        kind=row[1],
        csrf_token=row[2],
        expires_at=row[3],
        user_id=row[4],
        username=row[5],
        is_admin=bool(row[6]),
    )


async def live_session_hashes(conn: AsyncConnection, token_hashes: list[str], now: datetime) -> set[str]:
    """Which of these sessions still stand (not ended, not expired, user not disabled)."""
    if not token_hashes:
        return set()
    query = (
        select(sessions.c.token_hash)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash.in_(token_hashes), sessions.c.expires_at > now, users.c.disabled_at.is_(None))
    )
    return set((await conn.execute(query)).scalars())


async def delete_session(conn: AsyncConnection, token_hash: str) -> bool:
    result = await conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))
    return result.rowcount == 1


async def delete_user_sessions(conn: AsyncConnection, user_id: str) -> list[str]:
    """End every session of a member; the hashes ended (to close their WebSockets)."""
    result = await conn.execute(delete(sessions).where(sessions.c.user_id == user_id).returning(sessions.c.token_hash))
    return [r[0] for r in result]


async def delete_expired_sessions(conn: AsyncConnection, now: datetime, user_id: str | None = None) -> int:
    query = delete(sessions).where(sessions.c.expires_at <= now)
    if user_id is not None:
        query = query.where(sessions.c.user_id == user_id)
    result = await conn.execute(query)
    return int(result.rowcount)
