"""Adapters layer: the media port's calls of a room, each carried by ``RoutedMedia._call`` to the instance that
drives the room (routing.py), its result checked back into the port's types (codec.py). Apart from routing.py so
that the port's long surface does not hide how a call finds its room's driver."""

from __future__ import annotations

from typing import Any

from salon.adapters.redis_media import codec
from salon.app.ports import Booth, Jsep, MediaKind, MediaRole, StreamGrant

# The port's calls for a room that may be carried to its holder (``reconnect`` and ``events`` are each instance's).
ROOM_OPS = frozenset(
    {
        "create_room", "destroy_room", "admit", "set_muted", "remove", "open_listen", "answer_listen",
        "open_speaker_mix", "open_speak", "add_candidate", "close", "open_stream", "audience_split",
        "create_channel", "destroy_channel", "set_ducking", "set_booth", "open_interpret", "open_channel_listen",
        "open_channel_stream", "add_interpret_candidate", "close_interpret", "switch_listen",
    }
)  # fmt: skip


class RoomCalls:
    """The room calls of ``MediaPort`` (all but the room's life, the tracks, ``reconnect`` and ``events``)."""

    async def _call(self, room_id: str, op: str, *args: Any, **kwargs: Any) -> object:
        raise NotImplementedError

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        await self._call(room_id, "admit", room_id, user_id, role, muted)

    async def set_muted(self, room_id: str, user_id: str, muted: bool) -> None:
        await self._call(room_id, "set_muted", room_id, user_id, muted)

    async def remove(self, room_id: str, user_id: str) -> None:
        await self._call(room_id, "remove", room_id, user_id)

    async def open_listen(self, room_id: str, user_id: str) -> Jsep:
        return codec.jsep(await self._call(room_id, "open_listen", room_id, user_id))

    async def answer_listen(self, room_id: str, user_id: str, answer: Jsep) -> None:
        await self._call(room_id, "answer_listen", room_id, user_id, answer)

    async def open_speaker_mix(self, room_id: str, user_id: str) -> Jsep:
        return codec.jsep(await self._call(room_id, "open_speaker_mix", room_id, user_id))

    async def open_speak(self, room_id: str, user_id: str, offer: Jsep) -> Jsep:
        return codec.jsep(await self._call(room_id, "open_speak", room_id, user_id, offer))

    async def add_candidate(
        self, room_id: str, user_id: str, media: MediaKind, candidate: dict[str, Any] | None
    ) -> None:
        await self._call(room_id, "add_candidate", room_id, user_id, media, candidate)

    async def close(self, room_id: str, user_id: str, media: MediaKind) -> None:
        await self._call(room_id, "close", room_id, user_id, media)

    async def open_stream(self, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        return codec.grant(await self._call(room_id, "open_stream", room_id, user_id, connection_id))

    async def audience_split(self, room_id: str) -> dict[str, int]:
        return codec.counts(await self._call(room_id, "audience_split", room_id))

    async def create_channel(self, room_id: str, language: str, ducking_db: int) -> None:
        await self._call(room_id, "create_channel", room_id, language, ducking_db)

    async def destroy_channel(self, room_id: str, language: str) -> None:
        await self._call(room_id, "destroy_channel", room_id, language)

    async def set_ducking(self, room_id: str, language: str, ducking_db: int) -> None:
        await self._call(room_id, "set_ducking", room_id, language, ducking_db)

    async def set_booth(self, room_id: str, booth: Booth) -> None:
        await self._call(room_id, "set_booth", room_id, booth)

    async def open_interpret(self, room_id: str, language: str, user_id: str, offer: Jsep) -> Jsep:
        return codec.jsep(await self._call(room_id, "open_interpret", room_id, language, user_id, offer))

    async def open_channel_listen(
        self, room_id: str, language: str, user_id: str, *, interpreter_only: bool = False
    ) -> Jsep:
        reply = await self._call(
            room_id, "open_channel_listen", room_id, language, user_id, interpreter_only=interpreter_only
        )
        return codec.jsep(reply)

    async def open_channel_stream(self, room_id: str, language: str, user_id: str, connection_id: str) -> StreamGrant:
        return codec.grant(await self._call(room_id, "open_channel_stream", room_id, language, user_id, connection_id))

    async def add_interpret_candidate(
        self, room_id: str, language: str, user_id: str, candidate: dict[str, Any] | None
    ) -> None:
        await self._call(room_id, "add_interpret_candidate", room_id, language, user_id, candidate)

    async def close_interpret(self, room_id: str, language: str, user_id: str) -> None:
        await self._call(room_id, "close_interpret", room_id, language, user_id)

    async def switch_listen(
        self, room_id: str, user_id: str, language: str | None, *, interpreter_only: bool = False
    ) -> None:
        await self._call(room_id, "switch_listen", room_id, user_id, language, interpreter_only=interpreter_only)
