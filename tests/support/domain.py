"""Test support: plain builders for domain values (fixed times, one open room), shared by the domain unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from salon.domain.rooms import Room, RoomType

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
