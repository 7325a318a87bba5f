"""Adapters layer: several Janus nodes as one media port — each room's stage and audience live on one node.

A room's node is chosen from its id (a hash, modulo the number of nodes), so every app instance, and the same app
after a restart, finds a room where it is: recovery re-creates it on the same node, and a node that kept it is
repaired rather than duplicated. Changing the list of nodes moves rooms: restart the app when no room is live, or
accept that live rooms' clients reconnect. Each node reports its own events; they are merged into one stream, and a
``media_reset`` from any node makes the app re-create every live room (idempotent on the nodes that kept theirs).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any

from salon.adapters.janus.media import JanusMedia
from salon.app.media_health import MediaHealth
from salon.app.ports import Booth, Jsep, MediaEvent, MediaKind, MediaRole, StreamGrant


class JanusCluster:
    """``async with JanusCluster([JanusMedia(...), ...]) as media:`` — the media port over several nodes."""

    def __init__(self, nodes: Sequence[JanusMedia]) -> None:
        if not nodes:
            raise ValueError("a cluster needs at least one Janus node")
        self.nodes = list(nodes)
        self._events: asyncio.Queue[MediaEvent] = asyncio.Queue()
        self._pumps: list[asyncio.Task[None]] = []

    def node_for(self, room_id: str) -> JanusMedia:
        digest = hashlib.blake2b(room_id.encode(), digest_size=8).digest()
        return self.nodes[int.from_bytes(digest, "big") % len(self.nodes)]

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def __aenter__(self) -> JanusCluster:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Connect every node (each ``JanusUnavailable`` if it does not answer), then merge their events."""
        await asyncio.gather(*(node.start() for node in self.nodes))
        self._pumps = [asyncio.create_task(self._pump(node), name="janus-cluster-events") for node in self.nodes]

    async def _pump(self, node: JanusMedia) -> None:
        async for event in node.events():
            self._events.put_nowait(event)

    async def aclose(self) -> None:
        for pump in self._pumps:
            pump.cancel()
        for pump in self._pumps:
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        await asyncio.gather(*(node.aclose() for node in self.nodes))

    async def reconnect(self) -> None:
        """Every node answers again (``JanusUnavailable`` from the first that does not)."""
        await asyncio.gather(*(node.reconnect() for node in self.nodes))

    async def events(self) -> AsyncIterator[MediaEvent]:
        while True:
            yield await self._events.get()

    # --- the media port: each call goes to the room's node -----------------------------------------------------

    async def create_room(self, room_id: str) -> None:
        await self.node_for(room_id).create_room(room_id)

    async def destroy_room(self, room_id: str, *, restarting: bool = False) -> None:
        await self.node_for(room_id).destroy_room(room_id, restarting=restarting)

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        await self.node_for(room_id).admit(room_id, user_id, role, muted)

    async def set_muted(self, room_id: str, user_id: str, muted: bool) -> None:
        await self.node_for(room_id).set_muted(room_id, user_id, muted)

    async def remove(self, room_id: str, user_id: str) -> None:
        await self.node_for(room_id).remove(room_id, user_id)

    async def open_listen(self, room_id: str, user_id: str) -> Jsep:
        return await self.node_for(room_id).open_listen(room_id, user_id)

    async def answer_listen(self, room_id: str, user_id: str, answer: Jsep) -> None:
        await self.node_for(room_id).answer_listen(room_id, user_id, answer)

    async def open_speak(self, room_id: str, user_id: str, offer: Jsep) -> Jsep:
        return await self.node_for(room_id).open_speak(room_id, user_id, offer)

    async def open_speaker_mix(self, room_id: str, user_id: str) -> Jsep:
        return await self.node_for(room_id).open_speaker_mix(room_id, user_id)

    def speaker_tracks(self, room_id: str) -> dict[str, str]:
        return self.node_for(room_id).speaker_tracks(room_id)

    async def add_candidate(
        self, room_id: str, user_id: str, media: MediaKind, candidate: dict[str, Any] | None
    ) -> None:
        await self.node_for(room_id).add_candidate(room_id, user_id, media, candidate)

    async def close(self, room_id: str, user_id: str, media: MediaKind) -> None:
        await self.node_for(room_id).close(room_id, user_id, media)

    async def open_stream(self, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        return await self.node_for(room_id).open_stream(room_id, user_id, connection_id)

    async def audience_split(self, room_id: str) -> dict[str, int]:
        return await self.node_for(room_id).audience_split(room_id)

    # A room's channels live on the room's node: the floor's mix reaches them over the node's own loopback.

    async def create_channel(self, room_id: str, language: str, ducking_db: int) -> None:
        await self.node_for(room_id).create_channel(room_id, language, ducking_db)

    async def destroy_channel(self, room_id: str, language: str) -> None:
        await self.node_for(room_id).destroy_channel(room_id, language)

    async def set_ducking(self, room_id: str, language: str, ducking_db: int) -> None:
        await self.node_for(room_id).set_ducking(room_id, language, ducking_db)

    async def set_booth(self, room_id: str, booth: Booth) -> None:
        await self.node_for(room_id).set_booth(room_id, booth)

    async def open_interpret(self, room_id: str, language: str, user_id: str, offer: Jsep) -> Jsep:
        return await self.node_for(room_id).open_interpret(room_id, language, user_id, offer)

    async def open_channel_listen(
        self, room_id: str, language: str, user_id: str, *, interpreter_only: bool = False
    ) -> Jsep:
        node = self.node_for(room_id)
        return await node.open_channel_listen(room_id, language, user_id, interpreter_only=interpreter_only)

    async def open_channel_stream(self, room_id: str, language: str, user_id: str, connection_id: str) -> StreamGrant:
        return await self.node_for(room_id).open_channel_stream(room_id, language, user_id, connection_id)

    async def add_interpret_candidate(
        self, room_id: str, language: str, user_id: str, candidate: dict[str, Any] | None
    ) -> None:
        await self.node_for(room_id).add_interpret_candidate(room_id, language, user_id, candidate)

    async def close_interpret(self, room_id: str, language: str, user_id: str) -> None:
        await self.node_for(room_id).close_interpret(room_id, language, user_id)

    async def switch_listen(
        self, room_id: str, user_id: str, language: str | None, *, interpreter_only: bool = False
    ) -> None:
        await self.node_for(room_id).switch_listen(room_id, user_id, language, interpreter_only=interpreter_only)

    async def health(self) -> MediaHealth:
        """Every node's own state; the broadcast workers (one fleet shared by the nodes) once."""
        reports = await asyncio.gather(*(node.health() for node in self.nodes))
        return MediaHealth([janus for report in reports for janus in report.janus], reports[0].broadcast)
