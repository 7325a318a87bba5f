"""App layer: in-memory fakes of the ports, for unit tests and for ``--media none`` development runs.

The product never fakes the media path; ``FakeMedia`` records what the app asked for so tests can assert it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from salon.app.ports import MediaEvent, MediaRole, RoomMessage


@dataclass
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class RecordingBus:
    rooms: list[RoomMessage] = field(default_factory=list)
    users: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    closed_sessions: list[str] = field(default_factory=list)
    closed_users: list[str] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)

    async def publish_room(self, messages: list[RoomMessage]) -> None:
        self.rooms.extend(messages)

    async def publish_user(self, user_id: str, name: str, data: dict[str, Any]) -> None:
        self.users.append((user_id, name, data))

    async def close_sessions(self, token_hashes: list[str], reason: str) -> None:
        self.closed_sessions.extend(token_hashes)

    async def close_user(self, user_id: str, reason: str) -> None:
        self.closed_users.append(user_id)

    async def leave_room(self, room_id: str, user_id: str, reason: str) -> None:
        self.left.append((room_id, user_id))


@dataclass
class FakeMedia:
    """Keeps the media state the app asked for: rooms, and each admitted user's role and mute."""

    rooms: set[str] = field(default_factory=set)
    members: dict[tuple[str, str], tuple[MediaRole, bool]] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    queue: asyncio.Queue[MediaEvent] = field(default_factory=asyncio.Queue)

    async def create_room(self, room_id: str) -> None:
        self.calls.append(("create_room", room_id))
        self.rooms.add(room_id)

    async def destroy_room(self, room_id: str) -> None:
        self.calls.append(("destroy_room", room_id))
        self.rooms.discard(room_id)
        for key in [k for k in self.members if k[0] == room_id]:
            del self.members[key]

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        self.calls.append(("admit", room_id, user_id, role))
        self.members[(room_id, user_id)] = (role, muted)

    async def set_muted(self, room_id: str, user_id: str, muted: bool) -> None:
        self.calls.append(("set_muted", room_id, user_id, str(muted)))
        if (room_id, user_id) in self.members:
            role, _ = self.members[(room_id, user_id)]
            self.members[(room_id, user_id)] = (role, muted)

    async def remove(self, room_id: str, user_id: str) -> None:
        self.calls.append(("remove", room_id, user_id))
        self.members.pop((room_id, user_id), None)

    async def events(self) -> AsyncIterator[MediaEvent]:
        while True:
            yield await self.queue.get()
