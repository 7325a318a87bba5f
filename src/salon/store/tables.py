"""Store layer: the database schema (SQLAlchemy Core tables). Alembic migrations are generated from it.

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
    false,
    true,
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
    Column("dismissed_at", TS, nullable=True),  # an admin took them off the list without an invite
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
    # When an unanswered invitation up lapses (swept by app/stage_invites.py).
    Column("invited_until", TS, nullable=True),
    # Presence (docs/ARCHITECTURE.md): with no live connection, the member leaves the room once this has passed.
    Column("present_until", TS, nullable=True),
    Index("ix_participants_room_role", "room_id", "role"),
    Index("ix_participants_present_until", "present_until"),
    Index("ix_participants_invited_until", "invited_until"),
)

# A moderator's invitation up for a member who is not (yet) in the room: joining takes them straight to the stage.
stage_invites = Table(
    "stage_invites",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("invited_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("as_moderator", Boolean, nullable=False, default=False, server_default=false()),
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

# --- people find each other (issue "People find each other") ---------------------------------------------------

follows = Table(
    "follows",
    metadata,
    Column("follower_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("followee_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", TS, nullable=False),
    Index("ix_follows_followee", "followee_id", "created_at"),
    Index("ix_follows_follower_created", "follower_id", "created_at"),
)

member_topics = Table(
    "member_topics",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("topic", String(20), primary_key=True),
    Column("position", Integer, nullable=False),  # the order the member picked them in
)

blocks = Table(
    "blocks",
    metadata,
    Column("blocker_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("blocked_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", TS, nullable=False),
    Index("ix_blocks_blocked", "blocked_id"),
)

# Reports on a member or a room, kept for admins (`salon report list`); exactly one target is set.
reports = Table(
    "reports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("reporter_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("target_user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("target_room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=True),
    Column("reason", String(30), nullable=False),
    Column("details", Text, nullable=False, default=""),
    Column("created_at", TS, nullable=False),
    Column("resolved_at", TS, nullable=True),
    Column("resolved_by", ID, ForeignKey("users.id"), nullable=True),
    Column("resolution_note", Text, nullable=True),
    Index("ix_reports_created", "created_at"),
)

# Every moderator action in a room: who did what to whom, when (readable by the room's moderators and admins).
# Entries with no room are the instance's own log: admins' actions on members, reports, the waitlist and the
# instance settings (domain/admin.py; readable by admins).
moderation_log = Table(
    "moderation_log",
    metadata,
    Column("id", ID, primary_key=True),
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=True),
    Column("actor_id", ID, ForeignKey("users.id"), nullable=True),  # NULL: the system (e.g. an operator's end)
    Column("action", String(30), nullable=False),
    Column("target_id", ID, ForeignKey("users.id"), nullable=True),
    Column("data", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_moderation_log_room", "room_id", "created_at"),
)

# Instance settings an admin changes live (domain/admin.py, InstanceSettings); a missing key takes its default from
# the start-up Settings. One row per key, the value as JSON.
instance_settings = Table(
    "instance_settings",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_by", ID, ForeignKey("users.id"), nullable=True),
    Column("updated_at", TS, nullable=False),
)

# Scheduled conversations: announced with their topics, hosted, RSVPed; starting one opens a live room.
events = Table(
    "events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("title", String(120), nullable=False),
    Column("description", Text, nullable=False),
    Column("topics", JSON, nullable=False),
    Column("starts_at", TS, nullable=False),
    Column("timezone", String(64), nullable=False),  # the creator's IANA zone, for display and the .ics
    Column("room_type", String(10), nullable=False),
    Column("created_by", ID, ForeignKey("users.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("cancelled_at", TS, nullable=True),
    Column("started_at", TS, nullable=True),
    Column("room_id", ID, ForeignKey("rooms.id"), nullable=True),
    Column("sequence", Integer, nullable=False, default=0),  # iCalendar SEQUENCE: bumped by every edit
    Index("ix_events_starts", "starts_at"),
)

event_hosts = Table(
    "event_hosts",
    metadata,
    Column("event_id", ID, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

event_rsvps = Table(
    "event_rsvps",
    metadata,
    Column("event_id", ID, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("created_at", TS, nullable=False),
    # A row is a place on the event's list (what lets a guest see a closed event); "Notify me" off keeps the place.
    Column("notify", Boolean, nullable=False, server_default=true()),
)

# A member's personal calendar feed: a secret-token URL (stored hashed), revocable by replacing or deleting it.
calendar_feeds = Table(
    "calendar_feeds",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", TS, nullable=False),
)

# Reminders that went out, one row per (event, kind): the scheduler's memory across restarts, so that no reminder
# is sent twice (the row is written in the transaction that creates the notifications) and none is lost.
event_reminders = Table(
    "event_reminders",
    metadata,
    Column("event_id", ID, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(20), primary_key=True),  # "soon" (10 minutes before) | "started"
    Column("sent_at", TS, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("read_at", TS, nullable=True),
    Index("ix_notifications_user", "user_id", "created_at"),
    Index("ix_notifications_unread", "user_id", "read_at"),
)

# A member's notification preferences (domain/notification_prefs.py): the groups turned off and a pause. No row:
# every group on, no pause.
notification_prefs = Table(
    "notification_prefs",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("off_groups", JSON, nullable=False),  # a sorted list of group names
    Column("paused_until", TS, nullable=True),
    Column("updated_at", TS, nullable=False),
)

# Interpretation channels (domain/interpretation.py): a room's floor language and the floor's ducking under a live
# interpreter (a room setting), its channels in the moderators' order, each channel's booth (its interpreters in
# assignment order; who holds the booth's floor and a pending handover are on the channel's row). No row in
# room_languages: the room declared no languages.
room_languages = Table(
    "room_languages",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("floor", String(8), nullable=False),
    Column("ducking_db", Integer, nullable=False),  # the room's setting, for every channel (the "room setting")
)

room_channels = Table(
    "room_channels",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("language", String(8), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("live_id", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("handover_to", ID, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Index("ix_room_channels_language", "language"),
)

room_interpreters = Table(
    "room_interpreters",
    metadata,
    Column("room_id", ID, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("language", String(8), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("position", Integer, nullable=False),
)

# A scheduled event's languages, copied to its room when it starts.
event_languages = Table(
    "event_languages",
    metadata,
    Column("event_id", ID, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("floor", String(8), nullable=False),
    Column("channels", JSON, nullable=False),  # the channel tags, in order
    Column("ducking_db", Integer, nullable=False),
)
