"""Adapters layer: the media port for a process that carries no audio — console commands (``salon room end``,
``salon invite create``) and seeding scripts. It is not a test double: it keeps no state and records nothing.

Room and membership changes succeed and do nothing (the server that runs the room's media re-creates it from the
database when it starts); a connection is refused as ``MediaUnavailable``, since no audio can flow here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from salon.app.ports import Booth, Jsep, MediaEvent, MediaKind, MediaRole, MediaUnavailable, StreamGrant


class NullMedia:
    async def create_room(self, room_id: str) -> None:
        return None

    async def destroy_room(self, room_id: str, *, restarting: bool = False) -> None:
        return None

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        return None

    async def set_muted(self, room_id: str, user_id: str, muted: bool) -> None:
        return None

    async def remove(self, room_id: str, user_id: str) -> None:
        return None

    async def open_listen(self, room_id: str, user_id: str) -> Jsep:
        raise MediaUnavailable("this process has no media plane")

    async def answer_listen(self, room_id: str, user_id: str, answer: Jsep) -> None:
        raise MediaUnavailable("this process has no media plane")

    async def open_speak(self, room_id: str, user_id: str, offer: Jsep) -> Jsep:
        raise MediaUnavailable("this process has no media plane")

    async def open_speaker_mix(self, room_id: str, user_id: str) -> Jsep:
        raise MediaUnavailable("this process has no media plane")

    def speaker_tracks(self, room_id: str) -> dict[str, str]:
        return {}

    async def add_candidate(
        self, room_id: str, user_id: str, media: MediaKind, candidate: dict[str, Any] | None
    ) -> None:
        raise MediaUnavailable("this process has no media plane")

    async def close(self, room_id: str, user_id: str, media: MediaKind) -> None:
        return None  # closing takes media away: nothing to take

    async def open_stream(self, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        raise MediaUnavailable("this process has no media plane")

    async def audience_split(self, room_id: str) -> dict[str, int]:
        return {"webrtc": 0, "broadcast": 0}

    async def reconnect(self) -> None:
        return None

    async def create_channel(self, room_id: str, language: str, ducking_db: int) -> None:
        return None

    async def destroy_channel(self, room_id: str, language: str) -> None:
        return None

    async def set_ducking(self, room_id: str, language: str, ducking_db: int) -> None:
        return None

    async def set_booth(self, room_id: str, booth: Booth) -> None:
        return None

    async def open_interpret(self, room_id: str, language: str, user_id: str, offer: Jsep) -> Jsep:
        raise MediaUnavailable("this process has no media plane")

    async def open_channel_listen(
        self, room_id: str, language: str, user_id: str, *, interpreter_only: bool = False
    ) -> Jsep:
        raise MediaUnavailable("this process has no media plane")

    async def open_channel_stream(self, room_id: str, language: str, user_id: str, connection_id: str) -> StreamGrant:
        raise MediaUnavailable("this process has no media plane")

    async def add_interpret_candidate(
        self, room_id: str, language: str, user_id: str, candidate: dict[str, Any] | None
    ) -> None:
        raise MediaUnavailable("this process has no media plane")

    async def close_interpret(self, room_id: str, language: str, user_id: str) -> None:
        return None

    async def switch_listen(
        self, room_id: str, user_id: str, language: str | None, *, interpreter_only: bool = False
    ) -> None:
        raise MediaUnavailable("this process has no media plane")

    async def events(self) -> AsyncIterator[MediaEvent]:
        never: asyncio.Queue[MediaEvent] = asyncio.Queue()  # no media plane: no talking, no resets
        while True:
            yield await never.get()
