"""Web layer: the live hallway — members whose hallway is open get the rooms that changed, coalesced once a tick.

A client opens its hallway with the ``hallway_watch`` op (the reply is its first ranked page) and closes it with
``hallway_unwatch``. The hub marks a room dirty when it publishes one of the room events that change a hallway card
(``domain.hallway.HALLWAY_EVENTS``) or when a room opens. Once a tick (``TICK_S``) the ticker reads the dirty rooms
once for every watcher (``app.hallway.room_changes``: a fixed number of queries) and sends each watcher one
``hallway`` frame: the cards of the changed rooms it may see among those it shows (its page, the rooms opened since)
and those it should now show (just opened, someone it follows on stage), and the rooms it was shown that ended or
that it may no longer see (``domain.hallway.watcher_diff``). Watchers who get the same diff share one encoded
frame. A room a watcher may not see is never named to it: it is only told to remove rooms it was shown
(``Watcher.shown``).

A watch is two-phase, like a room subscription: the watcher is registered before its page is read, receives nothing
until the page is its reply, and the rooms that changed meanwhile are sent to it on the next tick, so nothing falls
between the page and the diffs. Each instance runs its own ticker for its own connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from salon.app import hallway
from salon.app.services import Services
from salon.domain.hallway import watcher_diff
from salon.web import ws_protocol as protocol
from salon.web.hub import Connection, Hub, Outgoing, dumps

log = logging.getLogger(__name__)

TICK_S = 1.0


@dataclass
class Watcher:
    shown: set[str] = field(default_factory=set)  # the rooms this connection was shown and not told to remove
    pending: bool = True  # its page is being read: it gets no frame until the page is its reply
    redo: set[str] = field(default_factory=set)  # rooms that changed while it was pending: sent next tick
    redo_opened: set[str] = field(default_factory=set)  # of which, rooms that opened


@dataclass(frozen=True)
class TickReport:
    rooms: int  # dirty rooms read
    frames: int  # frames sent (one per watcher with something to learn)
    encoded: int  # distinct frames serialised


class HallwayWatchers:
    """The connections whose hallway is open on this instance, and the ticker's work."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.watchers: dict[Connection, Watcher] = {}
        # Since start, for the metrics and the bench.
        self.ticks = 0
        self.frames_sent = 0

    def begin(self, conn: Connection) -> None:
        self.watchers[conn] = Watcher()

    def finish(self, conn: Connection, shown: Iterable[str]) -> None:
        watcher = self.watchers.get(conn)
        if watcher is None or conn.closed:
            self.watchers.pop(conn, None)
            return
        watcher.shown = set(shown)
        watcher.pending = False

    def stop(self, conn: Connection) -> None:
        self.watchers.pop(conn, None)

    def __len__(self) -> int:
        return len(self.watchers)

    async def tick(self, services: Services) -> TickReport:
        """Send each watcher what changed since the last tick; the rooms marked dirty are taken, whatever happens."""
        dirty, opened = self.hub.take_hallway_changes()
        self.ticks += 1
        for conn in [c for c in self.watchers if c.closed]:
            del self.watchers[conn]
        ready: list[tuple[Connection, Watcher]] = []
        for conn, watcher in self.watchers.items():
            if watcher.pending:
                watcher.redo |= dirty
                watcher.redo_opened |= opened
            elif dirty or watcher.redo:
                ready.append((conn, watcher))
        if not ready:
            return TickReport(0, 0, 0)
        wanted = set(dirty)
        for _, watcher in ready:
            wanted |= watcher.redo
        changes = await hallway.room_changes(services, wanted, {conn.user_id for conn, _ in ready})
        order = sorted(wanted)  # one order for everyone, so that equal diffs are equal tuples
        frames: dict[tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]], Outgoing] = {}
        sent = 0
        for conn, watcher in ready:
            if conn.closed or self.watchers.get(conn) is not watcher:
                continue  # left meanwhile, or watching again (then pending)
            changed, new = order, opened
            if watcher.redo:
                changed, new = sorted(dirty | watcher.redo), opened | watcher.redo_opened
                watcher.redo, watcher.redo_opened = set(), set()
            user_id = conn.user_id
            visible = {r for r in changed if r in changes and changes[r].visible_to(user_id)}
            friends = {r for r in visible if changes[r].followed.get(user_id)}  # someone it follows is on stage
            diff = watcher_diff(changed, visible, watcher.shown, new | friends if friends else new)
            if not diff:
                continue
            watcher.shown.difference_update(diff.remove)
            watcher.shown.update(diff.show)
            followed = tuple(changes[r].followed.get(user_id, 0) for r in diff.show)
            key = (diff.show, diff.remove, followed)
            frame = frames.get(key)
            if frame is None:
                rooms = [changes[r].entry_for(user_id) for r in diff.show]
                frame = frames[key] = Outgoing(dumps(protocol.hallway(rooms, list(diff.remove))))
            if self.hub.put(conn, frame):
                sent += 1
        self.frames_sent += sent
        return TickReport(len(wanted), sent, len(frames))


def watchers_of(hub: Hub) -> HallwayWatchers:
    """The hub's hallway watchers (made on first use)."""
    if hub.hallway is None:
        hub.hallway = HallwayWatchers(hub)
    watchers: HallwayWatchers = hub.hallway
    return watchers


async def run_ticker(services: Services, hub: Hub, interval: float = TICK_S) -> None:
    """Every ``interval``: one tick, for the life of the app."""
    watchers = watchers_of(hub)
    while True:
        await asyncio.sleep(interval)
        try:
            await watchers.tick(services)
        except Exception:
            log.exception("hallway tick failed; the next tick carries on")


def page_data(page: hallway.Page) -> dict[str, Any]:
    return {"rooms": page.items, "total": page.total, "next_offset": page.next_offset}
