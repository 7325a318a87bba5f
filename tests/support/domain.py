"""Test support: plain builders for domain values (fixed times, one open room), shared by the domain unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from salon.domain.rooms import Participant, Profile, Role, Room, RoomType

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

BASE_ROOM = Room(
    id="r1",
    title="Evening chat",
    description="",
    topics=(),
    type=RoomType.OPEN,
    capacity=10,
    hands_enabled=True,
    created_by="ada",
    created_at=T0,
)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def room(**overrides: Any) -> Room:
    return replace(BASE_ROOM, **overrides)


def profile(user_id: str) -> Profile:
    return Profile(user_id, user_id, user_id.title())


def person(user_id: str, role: Role = Role.LISTENER, *, since: int = 0, **overrides: Any) -> Participant:
    """A participant who joined ``since`` minutes after T0 (and, on stage, has been there since then)."""
    p = Participant(
        room_id="r1",
        user=profile(user_id),
        role=role,
        joined_at=at(since),
        stage_since=at(since) if role.on_stage else None,
    )
    return replace(p, **overrides)


def moderator(user_id: str = "ada", **overrides: Any) -> Participant:
    return person(user_id, Role.MODERATOR, **overrides)


def speaker(user_id: str = "bob", **overrides: Any) -> Participant:
    return person(user_id, Role.SPEAKER, **overrides)


def listener(user_id: str = "dee", **overrides: Any) -> Participant:
    return person(user_id, Role.LISTENER, **overrides)
