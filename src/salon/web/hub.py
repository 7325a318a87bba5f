"""Web layer: the WebSocket hub — live connections, room subscriptions and the fan-out of committed events.

The hub implements the app's ``EventBus`` port for one instance. Publishing serialises an event once, as an
``Outgoing`` frame every subscriber shares, and never awaits a client. Each connection has a bounded queue and one
sender task that drains it to the socket. When the server offers a ``FrameWriter`` (``web/ws_server.py``, what
``salon serve`` runs) and a connection has nothing queued, the frame is written to its socket at once, encoded once
for everyone: no task wakes, no queue is touched. Otherwise the frame waits in the queue, behind the ones before it,
so frames reach a client in the order they were sent either way. A client whose queue is full is dropped (close
``4008``) and resumes later from its last ``seq``; it never slows the room down.

Publishing also marks the rooms whose hallway card changed, for the live hallway's ticker (``web/hallway_live.py``).

Subscribing is two-phase so a client misses nothing between its snapshot and the live stream: ``begin_subscribe``
buffers the room's events for the connection while the caller loads the snapshot (or the missed events), then
``finish_subscribe`` sends that start, replays the buffered events newer than it and goes live, with no ``await``
in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from salon.app.ports import RoomMessage
from salon.app.settings import Settings
from salon.domain.hallway import HALLWAY_EVENTS
from salon.domain.rooms import ROOM_ENDED, RoomEventName
from salon.web import ws_protocol as protocol
from salon.web.errors import WS_CLOSE_SESSION_ENDED, WS_CLOSE_TOO_SLOW
from salon.web.presence import Departures
from salon.web.ws_server import encode_text_frame

if TYPE_CHECKING:
    from salon.web.hallway_live import HallwayWatchers

log = logging.getLogger(__name__)

STATE_SIGNALS = frozenset({"speakers"})  # signals that describe the room now, rather than something that happened
WS_CLOSE_GOING_AWAY = 1001
# Ended sessions and users are remembered this long, for handshakes that authenticated just before the end.
ENDED_MEMORY_S = 60.0
# How long a close may wait for a socket that takes nothing (its buffers are full); then the endpoint lets go.
CLOSE_TIMEOUT_S = 10.0


class Transport(Protocol):
    """What the hub needs of a socket (Starlette's ``WebSocket`` fits)."""

    async def send_text(self, data: str) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Writer(Protocol):
    """Direct writes of encoded frames to one socket (``web.ws_server.FrameWriter``)."""

    def write_now(self, wire: bytes) -> bool: ...

    async def write(self, wire: bytes) -> None: ...


def dumps(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


class Outgoing:
    """One frame on its way out: the JSON text, and its wire encoding made on first use and shared by everyone."""

    __slots__ = ("_wire", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = encode_text_frame(self.text)
        return self._wire


@dataclass(eq=False)
class Connection:
    """One authenticated socket. Compared by identity; ``closed`` is set the moment the hub lets go of it."""

    id: int
    user_id: str
    session_hash: str
    transport: Transport
    queue: asyncio.Queue[Outgoing]
    writer: Writer | None = None
    rooms: set[str] = field(default_factory=set)  # live subscriptions
    sender: asyncio.Task[None] | None = None
    sending: bool = False  # the sender holds a frame it took from the queue and has not written yet
    closer: asyncio.Task[None] | None = None
    closed: bool = False
    close_code: int | None = None
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # set when the hub lets go

    def __hash__(self) -> int:
        return self.id


class Hub:
    """In-process ``EventBus``: who is connected, who follows which room, and the fan-out to them."""

    def __init__(self, settings: Settings) -> None:
        self._queue_size = settings.ws_queue_size
        self._next_id = 0
        self._connections: dict[int, Connection] = {}
        self._by_user: dict[str, set[Connection]] = {}
        self._by_session: dict[str, set[Connection]] = {}
        self._rooms: dict[str, set[Connection]] = {}
        # Subscriptions being set up: room -> connection -> events (seq, name, frame) published meanwhile.
        self._pending: dict[str, dict[Connection, list[tuple[int, RoomEventName, Outgoing]]]] = {}
        self._closers: set[asyncio.Task[None]] = set()
        self._ended: dict[str, float] = {}  # session hash or user id -> when its connections were closed
        # The latest "state" signal of each room (who is speaking now): a new subscriber gets it with its snapshot,
        # since the next one only comes when it changes.
        self._state_signals: dict[str, Outgoing] = {}
        self.departures: Departures | None = None  # set by the app: presence (web/presence.py)
        # Rooms whose hallway card changed since the last hallway tick, and the open hallways (web/hallway_live.py).
        self._hallway_dirty: set[str] = set()
        self._hallway_opened: set[str] = set()  # of which, rooms that opened
        self.hallway: HallwayWatchers | None = None
        # Told (room, seq) when a connection starts following a room from a state complete up to ``seq``: the
        # Redis bus's sequencer (adapters/redis_bus) needs no database fill for the room's events up to there.
        self.on_following: Callable[[str, int], None] | None = None
        # Since start, for the metrics (web/metrics.py): room events published, the frames they became (one per
        # live subscriber), and connections dropped because their send queue was full.
        self.events_published = 0
        self.frames_fanned_out = 0
        self.dropped_too_slow = 0

    @staticmethod
    def now() -> float:
        return time.monotonic()

    # --- connections ---------------------------------------------------------------------------------------------

    def connect(
        self,
        transport: Transport,
        user_id: str,
        session_hash: str,
        authenticated_at: float | None = None,
        writer: Writer | None = None,
    ) -> Connection | None:
        """Register an accepted socket and start its sender. None when its session or user was ended after
        ``authenticated_at`` (the handshake read a session that was being logged out). With a ``writer``, frames
        are written to the socket directly whenever it can take them at once."""
        if authenticated_at is not None and any(
            self._ended.get(key, -1.0) >= authenticated_at for key in (session_hash, user_id)
        ):
            return None
        self._next_id += 1
        conn = Connection(self._next_id, user_id, session_hash, transport, asyncio.Queue(self._queue_size), writer)
        self._connections[conn.id] = conn
        self._by_user.setdefault(user_id, set()).add(conn)
        self._by_session.setdefault(session_hash, set()).add(conn)
        if self.departures is not None:
            self.departures.back(user_id)
        conn.sender = asyncio.create_task(self._send_loop(conn), name=f"ws-sender-{conn.id}")
        return conn

    def disconnect(self, conn: Connection) -> None:
        """The socket is gone (the client left): forget it and stop its sender."""
        if not conn.closed:
            conn.closed = True
            self._forget(conn)
        if conn.sender is not None and conn.sender is not asyncio.current_task():
            conn.sender.cancel()

    async def finish(self, conn: Connection) -> None:
        """The endpoint is returning: forget the connection, after the close the hub started (if any) went out."""
        self.disconnect(conn)
        if conn.closer is not None:
            await asyncio.wait([conn.closer])

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def is_connected(self, user_id: str) -> bool:
        """Whether the member has a live connection here (presence: they stay in their rooms)."""
        return user_id in self._by_user

    def user_ids(self) -> list[str]:
        """The members with a live connection here (presence across instances writes them to Redis)."""
        return list(self._by_user)

    def session_hashes(self) -> list[str]:
        """The sessions that have live connections."""
        return list(self._by_session)

    def subscribers(self, room_id: str) -> int:
        return len(self._rooms.get(room_id, ()))

    def send(self, conn: Connection, frame: dict[str, Any]) -> bool:
        """Queue one frame for one connection; a full queue drops it. Whether the frame was queued."""
        return self._put(conn, Outgoing(dumps(frame)))

    def put(self, conn: Connection, frame: Outgoing) -> bool:
        """Queue one encoded frame (shared with other connections) for one connection; as :meth:`send`."""
        return self._put(conn, frame)

    def _put(self, conn: Connection, frame: Outgoing) -> bool:
        if conn.closed:
            return False
        writer = conn.writer
        if writer is not None and not conn.sending and conn.queue.empty() and writer.write_now(frame.wire):
            return True
        try:
            conn.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.close(conn, WS_CLOSE_TOO_SLOW, "too slow")
            return False
        return True

    async def _send_loop(self, conn: Connection) -> None:
        queue, transport, writer = conn.queue, conn.transport, conn.writer
        try:
            while True:
                frame = await queue.get()
                conn.sending = True
                if writer is not None:
                    await writer.write(frame.wire)
                else:
                    await transport.send_text(frame.text)
                conn.sending = False
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket went away under us; the reader sees the disconnect
            log.debug("ws %s: send failed", conn.id, exc_info=True)
            self.disconnect(conn)

    def _forget(self, conn: Connection) -> None:
        conn.gone.set()
        self._connections.pop(conn.id, None)
        for index, key in ((self._by_user, conn.user_id), (self._by_session, conn.session_hash)):
            members = index.get(key)
            if members is not None:
                members.discard(conn)
                if not members:
                    del index[key]
        if conn.user_id not in self._by_user and self.departures is not None:
            self.departures.gone(conn.user_id)
        for room_id in conn.rooms:
            self._discard_subscriber(room_id, conn)
        conn.rooms.clear()
        for room_id in [r for r, pending in self._pending.items() if conn in pending]:
            self._cancel_pending(room_id, conn)

    def close(self, conn: Connection, code: int, reason: str) -> None:
        """Let go of a connection now (no further frames or ops), and close its socket in the background."""
        if conn.closed:
            return
        conn.closed = True
        conn.close_code = code
        self._forget(conn)
        if code == WS_CLOSE_TOO_SLOW:
            self.dropped_too_slow += 1
            log.info("ws %s (user %s): dropped, send queue full", conn.id, conn.user_id)
        task = asyncio.get_running_loop().create_task(self._close_socket(conn, code, reason))
        conn.closer = task
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    async def _close_socket(self, conn: Connection, code: int, reason: str) -> None:
        sender = conn.sender
        if sender is not None and not sender.done():
            sender.cancel()
            await asyncio.wait([sender])
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await conn.transport.close(code, reason)
        except TimeoutError:
            log.info("ws %s: the client took nothing for %ss; left to the server to close", conn.id, CLOSE_TIMEOUT_S)
        except Exception:  # already gone
            log.debug("ws %s: close failed", conn.id, exc_info=True)

    async def close_all(self, code: int = WS_CLOSE_GOING_AWAY, reason: str = "server shutting down") -> None:
        if self.departures is not None:
            await self.departures.close()  # before the closes below: a shutdown is nobody going away
        for conn in list(self._connections.values()):
            self.close(conn, code, reason)
        if self._closers:
            await asyncio.wait(list(self._closers), timeout=5)

    # --- subscriptions -------------------------------------------------------------------------------------------

    def begin_subscribe(self, conn: Connection, room_id: str) -> None:
        """Start buffering a room's events for this connection while its starting state is loaded."""
        if conn.closed:
            return
        if room_id in conn.rooms:
            conn.rooms.discard(room_id)
            self._discard_subscriber(room_id, conn)
        self._pending.setdefault(room_id, {})[conn] = []

    def finish_subscribe(
        self, conn: Connection, room_id: str, start: Iterable[dict[str, Any]], seq: int, *, ended: bool = False
    ) -> bool:
        """Send the starting frames (state up to ``seq``), replay the buffered events after ``seq`` and go live —
        unless the room has ended. False when the subscription was cancelled meanwhile (the member was removed, the
        connection closed, or it is too slow): then nothing more is sent."""
        pending = self._pending.get(room_id)
        if conn.closed or pending is None or conn not in pending:
            return False
        buffered = pending.pop(conn)
        if not pending:
            del self._pending[room_id]
        if self.on_following is not None:
            self.on_following(room_id, seq)
        for start_frame in start:
            if not self.send(conn, start_frame):
                return False
        for event_seq, name, event_frame in buffered:
            if event_seq > seq:
                if not self._put(conn, event_frame):
                    return False
                ended = ended or name == ROOM_ENDED
        if not ended:
            conn.rooms.add(room_id)
            self._rooms.setdefault(room_id, set()).add(conn)
            state = self._state_signals.get(room_id)
            if state is not None and not self._put(conn, state):
                return False
        return True

    def cancel_subscribe(self, conn: Connection, room_id: str) -> None:
        self._cancel_pending(room_id, conn)

    def unsubscribe(self, conn: Connection, room_id: str) -> None:
        conn.rooms.discard(room_id)
        self._discard_subscriber(room_id, conn)
        self._cancel_pending(room_id, conn)

    def _discard_subscriber(self, room_id: str, conn: Connection) -> None:
        members = self._rooms.get(room_id)
        if members is not None:
            members.discard(conn)
            if not members:
                del self._rooms[room_id]

    def _cancel_pending(self, room_id: str, conn: Connection) -> bool:
        pending = self._pending.get(room_id)
        if pending is None or conn not in pending:
            return False
        del pending[conn]
        if not pending:
            del self._pending[room_id]
        return True

    # --- EventBus ------------------------------------------------------------------------------------------------

    async def publish_room(self, messages: list[RoomMessage]) -> None:
        for message in messages:
            self._publish(message)

    def _publish(self, message: RoomMessage) -> None:
        room_id = message.room_id
        frame = Outgoing(dumps(protocol.event(message)))
        live = self._rooms.get(room_id)
        self.events_published += 1
        if live:
            self.frames_fanned_out += len(live)
            too_slow: list[Connection] = []
            wire: bytes | None = None
            for conn in live:  # the hot loop of a big room: _put, inlined
                writer = conn.writer
                queue = conn.queue
                if writer is not None and not conn.sending and queue.empty():
                    if wire is None:
                        wire = frame.wire
                    if writer.write_now(wire):
                        continue
                try:
                    queue.put_nowait(frame)
                except asyncio.QueueFull:
                    too_slow.append(conn)
            for conn in too_slow:
                self.close(conn, WS_CLOSE_TOO_SLOW, "too slow")
        pending = self._pending.get(room_id)
        if pending:
            entry = (message.seq, message.name, frame)
            for buffer in pending.values():
                buffer.append(entry)
        if message.name in HALLWAY_EVENTS:
            self._hallway_dirty.add(room_id)
        if message.name == ROOM_ENDED:
            self._state_signals.pop(room_id, None)
            for conn in self._rooms.pop(room_id, ()):
                conn.rooms.discard(room_id)

    async def room_opened(self, room_id: str) -> None:
        self._hallway_dirty.add(room_id)
        self._hallway_opened.add(room_id)

    def take_hallway_changes(self) -> tuple[set[str], set[str]]:
        """The rooms whose hallway card changed since the last call, and those of them that opened meanwhile
        (web/hallway_live.py's ticker)."""
        changed, opened = self._hallway_dirty, self._hallway_opened
        self._hallway_dirty, self._hallway_opened = set(), set()
        return changed, opened

    async def publish_signal(self, room_id: str, name: str, data: dict[str, Any]) -> None:
        frame = Outgoing(dumps(protocol.signal(room_id, name, data)))
        if name in STATE_SIGNALS:
            if any(data.values()):
                self._state_signals[room_id] = frame
            else:  # nobody speaking: nothing to tell newcomers
                self._state_signals.pop(room_id, None)
        for conn in list(self._rooms.get(room_id, ())):
            self._put(conn, frame)

    async def publish_user(self, user_id: str, name: str, data: dict[str, Any]) -> None:
        conns = self._by_user.get(user_id)
        if conns:
            frame = Outgoing(dumps(protocol.user_event(name, data)))
            for conn in list(conns):
                self._put(conn, frame)

    def _remember_ended(self, key: str) -> None:
        now = self.now()
        if len(self._ended) > 1000:
            self._ended = {k: t for k, t in self._ended.items() if now - t < ENDED_MEMORY_S}
        self._ended[key] = now

    async def close_sessions(self, token_hashes: list[str], reason: str) -> None:
        for token_hash in token_hashes:
            self._remember_ended(token_hash)
            for conn in list(self._by_session.get(token_hash, ())):
                self.close(conn, WS_CLOSE_SESSION_ENDED, reason)

    async def close_user(self, user_id: str, reason: str) -> None:
        self._remember_ended(user_id)
        for conn in list(self._by_user.get(user_id, ())):
            self.close(conn, WS_CLOSE_SESSION_ENDED, reason)

    async def leave_room(self, room_id: str, user_id: str, reason: str) -> None:
        for conn in list(self._by_user.get(user_id, ())):
            live = room_id in conn.rooms
            if live:
                conn.rooms.discard(room_id)
                self._discard_subscriber(room_id, conn)
            if self._cancel_pending(room_id, conn) or live:
                self.send(conn, protocol.removed(room_id, reason))
