"""Adapters layer: each room's events handed to this instance's hub once and in ``seq`` order, whatever the bus did.

Redis pub/sub delivers at most once: a message is lost when Redis restarts or this instance's subscription drops,
and two instances committing to one room can publish out of order. The database holds every committed event with
its ``seq``, so the sequencer remembers the last ``seq`` it delivered for each room and, on a message past the next
one, reads the missing events from the database first (``fetch``). Duplicates (the database already filled them,
or the publisher's own echo) are dropped. After a reconnection, ``catch_up`` reads every known room's tail, since
a room whose lost event was its last would otherwise wait for its next one.

A room becomes known at its first message, or when a connection here subscribes to it (``known``: the snapshot's
``seq`` is complete up to there). Each room has a lock so a fill (which awaits the database) and the next message
of the same room do not overtake each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from salon.app.ports import RoomMessage
from salon.domain.rooms import ROOM_ENDED

log = logging.getLogger(__name__)

ENDED_MEMORY = 10_000  # ended rooms whose last seq is remembered

# The retained events of a room after a seq, in order (app.rooms.committed_events_after).
Fetch = Callable[[str, int], Awaitable[list[RoomMessage]]]
# Hand events to this instance's connections (the hub's publish_room).
Deliver = Callable[[list[RoomMessage]], Awaitable[None]]


class RoomSequencer:
    def __init__(self, deliver: Deliver, fetch: Fetch | None = None) -> None:
        self._deliver = deliver
        self.fetch = fetch  # set once the services exist (the bus is built before them)
        self._last: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._ended: dict[str, None] = {}  # rooms that ended, oldest first (an ordered set)
        # Since start, for the metrics: events read from the database to fill gaps, events that were no longer
        # retained when their gap was noticed (their clients resubscribe and get a resync), duplicates dropped.
        self.events_filled = 0
        self.events_lost = 0
        self.duplicates = 0

    def last_seq(self, room_id: str) -> int | None:
        return self._last.get(room_id)

    def known(self, room_id: str, seq: int) -> None:
        """A connection here starts from a snapshot at ``seq``: the room's events up to it need no fill."""
        if room_id not in self._last:
            self._last[room_id] = seq

    async def offer(self, messages: list[RoomMessage]) -> None:
        """Deliver committed events (possibly of several rooms, each room's in order), filling gaps first."""
        by_room: dict[str, list[RoomMessage]] = {}
        for message in messages:
            by_room.setdefault(message.room_id, []).append(message)
        for room_id, room_messages in by_room.items():
            async with self._lock(room_id):
                await self._offer_room(room_id, room_messages)

    async def catch_up(self) -> None:
        """Deliver every known room's events committed after the last one delivered (after the bus was away)."""
        for room_id in [r for r in self._last if r not in self._ended]:
            async with self._lock(room_id):
                last = self._last.get(room_id)
                if last is not None:
                    await self._offer_room(room_id, await self._fetch(room_id, last))

    def _lock(self, room_id: str) -> asyncio.Lock:
        lock = self._locks.get(room_id)
        if lock is None:
            lock = self._locks[room_id] = asyncio.Lock()
        return lock

    async def _fetch(self, room_id: str, after: int) -> list[RoomMessage]:
        if self.fetch is None:
            raise RuntimeError("RoomSequencer.fetch is not set")
        return await self.fetch(room_id, after)

    async def _offer_room(self, room_id: str, messages: list[RoomMessage]) -> None:
        last = self._last.get(room_id)
        out: list[RoomMessage] = []
        for message in messages:
            if last is not None and message.seq <= last:
                self.duplicates += 1
                continue
            if last is not None and message.seq > last + 1:
                missing = [m for m in await self._fetch(room_id, last) if m.seq < message.seq]
                expected = last + 1
                for filled in missing:
                    if filled.seq > expected:
                        self._lose(room_id, expected, filled.seq)
                    out.append(filled)
                    expected = filled.seq + 1
                if expected < message.seq:
                    self._lose(room_id, expected, message.seq)
                self.events_filled += len(missing)
            out.append(message)
            last = message.seq
        if not out:
            return
        self._last[room_id] = out[-1].seq
        if any(m.name == ROOM_ENDED for m in out):
            self._end(room_id)
        await self._deliver(out)

    def _end(self, room_id: str) -> None:
        """Nothing follows an end: no catch-up for the room any more. Its last seq is kept a while, so that a late
        copy of its last events is still recognised as one."""
        self._ended[room_id] = None
        while len(self._ended) > ENDED_MEMORY:
            oldest = next(iter(self._ended))
            del self._ended[oldest]
            self._last.pop(oldest, None)
            self._locks.pop(oldest, None)

    def _lose(self, room_id: str, first: int, after_last: int) -> None:
        self.events_lost += after_last - first
        log.warning(
            "room %s: events %d-%d left the retained window before the bus noticed them missing; "
            "its clients here will resync",
            room_id,
            first,
            after_last - 1,
        )
