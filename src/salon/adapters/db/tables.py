"""Adapters layer: the database schema (SQLAlchemy Core tables). Alembic migrations are generated from it.

Public IDs are random strings (``salon.app.system.RandomIds``), never sequential. Secrets are stored only as
digests: invite codes as SHA-256, session tokens as HMAC-SHA256 keyed with the server secret. They are 256-bit
random values, so a fast hash is enough (a slow one protects low-entropy passwords, see ``app/passwords.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine (SQLite has no time zones: store naive UTC, hand back aware UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


ID = String(32)
TS = UTCDateTime()

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", String(20), nullable=False),
    Column("username_key", String(20), nullable=False, unique=True),
    Column("display_name", String(50), nullable=False),
    Column("bio", Text, nullable=False, default=""),
    Column("avatar", String(64), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("invites_left", Integer, nullable=False),
    Column("invited_by", ID, ForeignKey("users.id"), nullable=True),
    Column("created_at", TS, nullable=False),
    Column("disabled_at", TS, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),  # "cookie" (browser, CSRF-checked) or "bearer" (API client)
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)

invites = Table(
    "invites",
    metadata,
    Column("id", ID, primary_key=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("created_by", ID, ForeignKey("users.id"), nullable=True),  # NULL: created by an operator (CLI)
    Column("grants_admin", Boolean, nullable=False, default=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS, nullable=True),
    Column("used_by", ID, ForeignKey("users.id"), nullable=True),
    Column("revoked_at", TS, nullable=True),
    Column("waitlist_id", ID, ForeignKey("waitlist.id"), nullable=True),
    Index("ix_invites_created_by", "created_by"),
)

waitlist = Table(
    "waitlist",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("contact", String(200), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("nominated_by", ID, ForeignKey("users.id"), nullable=True),
    Column("nominated_at", TS, nullable=True),
)

rooms = Table(
    "rooms",
    metadata,
    Column("id", ID, primary_key=True),
    Column("title", String(120), nullable=False),
    Column("description", Text, nullable=False),
    Column("topics", JSON, nullable=False),
    Column("type", String(10), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("hands_enabled", Boolean, nullable=False),
    Column("audience_batched", Boolean, nullable=False, default=False),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("ended_at", TS, nullable=True),
    Column("seq", Integer, nullable=False, default=0),
    Index("ix_rooms_live", "ended_at"),
)

participants = Table(
    "participants",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("role", String(10), nullable=False),
    Column("joined_at", TS, nullable=False),
    Column("stage_since", TS, nullable=True),
    Column("hand_raised_at", TS, nullable=True),
    Column("muted", Boolean, nullable=False, default=False),
    Column("mute_locked", Boolean, nullable=False, default=False),
    Column("invited_up", Boolean, nullable=False, default=False),
    Index("ix_participants_room_role", "room_id", "role"),
)

# A moderator's invitation up for a member who is not (yet) in the room: joining takes them straight to the stage.
stage_invites = Table(
    "stage_invites",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("invited_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
)

room_access = Table(
    "room_access",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("granted_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
)

room_bans = Table(
    "room_bans",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("banned_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
)

# The retained window of each room's event stream, for clients resuming after a reconnect.
room_events = Table(
    "room_events",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
)
