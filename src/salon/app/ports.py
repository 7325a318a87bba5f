"""App layer: the ports — what use cases need from the outside world, as Protocols.

Real implementations live in ``salon.adapters``; unit tests use the in-memory fakes in ``salon.app.fakes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class Ids(Protocol):
    def new_id(self) -> str:
        """A public, non-sequential identifier."""
        ...

    def new_secret(self) -> str:
        """A URL-safe secret of at least 128 random bits (invite codes, session tokens)."""
        ...


@dataclass(frozen=True)
class RoomMessage:
    """One event of a room's stream, as committed: ``seq`` is the room's sequence number."""

    room_id: str
    seq: int
    name: str
    data: dict[str, Any]


class EventBus(Protocol):
    """Fan-out of committed events to live connections (in-process, or across instances through Redis)."""

    async def publish_room(self, messages: list[RoomMessage]) -> None: ...

    async def publish_user(self, user_id: str, name: str, data: dict[str, Any]) -> None: ...

    async def close_sessions(self, token_hashes: list[str], reason: str) -> None:
        """Close every open WebSocket authenticated by one of these sessions."""
        ...

    async def close_user(self, user_id: str, reason: str) -> None: ...

    async def leave_room(self, room_id: str, user_id: str, reason: str) -> None:
        """Stop delivering a room's events to a user's connections (removed, or the room ended)."""
        ...


MediaRole = Literal["speaker", "listener"]


@dataclass(frozen=True)
class MediaEvent:
    """Something the media plane noticed: ``speaking`` on/off, or that it lost and re-created its state."""

    room_id: str
    kind: Literal["speaking", "stopped_speaking", "media_reset"]
    user_id: str | None = None


class MediaPort(Protocol):
    """The media plane (Janus in production). Each call is idempotent; the app calls it after its own commit."""

    async def create_room(self, room_id: str) -> None: ...

    async def destroy_room(self, room_id: str) -> None: ...

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        """Allow this user's media in the room with this role (speaker: publish into the mix; listener: hear it)."""
        ...

    async def set_muted(self, room_id: str, user_id: str, muted: bool) -> None: ...

    async def remove(self, room_id: str, user_id: str) -> None:
        """Tear down this user's media in the room and refuse new handles until admitted again."""
        ...

    def events(self) -> AsyncIterator[MediaEvent]: ...
