"""Fan-out bench, the client side: many WebSocket connections in one process, each timestamping the room events.

Started by ``bench/fanout.py`` (never on its own in practice). It opens ``--count`` connections to ``--uri``, a
bounded number of handshakes at a time, sends each one ``subscribe`` and waits for its ``snapshot``. Then it
reports ``{"ready": ...}`` on stdout and follows orders on stdin, one JSON object per line:

- ``{"await": seq, "timeout": s}``: answer ``{"delivered": true|false, ...}`` once every open connection received
  the event ``seq`` (or the timeout passed);
- ``{"dump": path}``: write every receipt ``(connection, seq, monotonic ns)`` to ``path``; answer ``{"dumped": n}``;
- ``{"exit": true}`` or end of stdin: leave at once (the kernel closes the sockets).

This process is the measuring instrument, and on two CPUs it competes with the server, so it is as light as a
correct WebSocket client can be. Each connection is a bare ``asyncio.Protocol`` on uvloop:

- the opening handshake is written by hand and checked (status 101 and ``Sec-WebSocket-Accept``, computed with
  ``websockets.utils``); the frames it sends (``subscribe``, and ``pong`` to the server's keepalive pings) are
  masked and encoded by ``websockets.frames``, as RFC 6455 requires of a client;
- what the server sends is parsed in ``data_received`` with a minimal RFC 6455 frame reader (the server neither
  masks nor, without permessage-deflate, compresses; a fragmented frame counts as a protocol failure);
- ``time.monotonic_ns()`` is read first thing in ``data_received``, so a receipt is stamped when its bytes reach
  the process; for each text frame, only ``event`` frames are kept (a prefix test), and ``seq`` is cut out of the
  bytes (no JSON parsing).

With ``--hallway`` (bench/hallway_ws.py) each connection sends ``hallway_watch`` instead, is live once its
``reply`` arrives, and timestamps every ``hallway`` frame; such a frame has no ``seq``, so it is numbered by its
rank on its connection (1, 2, ...): the orchestrator makes one change per ticker period, which each watcher gets
as one frame.

``CLOCK_MONOTONIC`` is one clock for every process on Linux, so these times compare with the orchestrator's send
times. The first version of this client used the ``websockets`` library's asyncio connections and spent 30–40 µs
per received frame; this one spends a few µs (``client CPU`` in the results).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import sys
import time
import traceback
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import orjson
import uvloop
from websockets.frames import Frame, Opcode
from websockets.utils import accept_key

EVENT_PREFIX = b'{"type":"event"'
SNAPSHOT_PREFIX = b'{"type":"snapshot"'
HALLWAY_PREFIX = b'{"type":"hallway"'
REPLY_PREFIX = b'{"type":"reply"'
SEQ_KEY = b'"seq":'
SEQ_KEY_LEN = len(SEQ_KEY)
HARD_DEADLINE_S = 1800.0  # the process leaves by itself after this long, whatever happens
MAX_HEADER_BYTES = 16384


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()


@dataclass
class State:
    expected: int
    ready: int = 0
    failed: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)  # close code -> connections closed after the snapshot
    live: int = 0  # connections past their snapshot and still open
    conns: array[int] = field(default_factory=lambda: array("i"))
    seqs: array[int] = field(default_factory=lambda: array("q"))
    times: array[int] = field(default_factory=lambda: array("q"))
    counts: dict[int, int] = field(default_factory=dict)  # seq -> connections that received it
    target: int = -1
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)
    clients: list[Client] = field(default_factory=list)

    def settled(self) -> None:
        if self.ready + self.failed >= self.expected:
            self.all_ready.set()

    def check_target(self) -> None:
        if self.target >= 0 and self.counts.get(self.target, 0) >= self.live:
            self.all_in.set()

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1
        self.failed += 1
        self.settled()


class Client(asyncio.Protocol):
    """One connection: the handshake, ``subscribe``, the snapshot, then a timestamp for every event frame."""

    def __init__(
        self, index: int, host: str, path: str, token: str, room_id: str, state: State, hallway: bool = False
    ) -> None:
        self.index = index
        self.hallway = hallway
        self.hallway_frames = 0
        self.state = state
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
        subscribe: dict[str, Any] = {"op": "subscribe", "ref": "1", "data": {"room_id": room_id}}
        if hallway:
            subscribe = {"op": "hallway_watch", "ref": "1", "data": {}}
        self.subscribe = Frame(Opcode.TEXT, orjson.dumps(subscribe)).serialize(mask=True)
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.subscribed = False  # the snapshot arrived: from now on this connection is live
        self.done = False
        self.settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # --- the life of the connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.finish("connection lost" + (f" ({type(exc).__name__})" if exc else " (no close frame)"))

    def finish(self, reason: str) -> None:
        """The connection ended: before its snapshot it is a failure; after it, a closed connection."""
        if self.done:
            return
        self.done = True
        state = self.state
        if self.subscribed:
            state.closed[reason] = state.closed.get(reason, 0) + 1
            state.live -= 1
            state.check_target()
        else:
            state.fail(reason)
        if not self.settled.done():
            self.settled.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()  # first: the moment these bytes reached this process
        buffer = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                if len(buffer) > MAX_HEADER_BYTES:
                    self.finish("handshake: response too long")
                return
            if not self.handshake_accepted(buffer[:end]):
                self.finish("handshake refused: " + buffer[: buffer.find(b"\r\n")].decode(errors="replace"))
                return
            self.upgraded = True
            self.transport.write(self.subscribe)  # type: ignore[union-attr]
            buffer = buffer[end + 4 :]
        self.buffer = self.read_frames(buffer, now)

    def handshake_accepted(self, head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            return False
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        return headers.get("sec-websocket-accept") == accept_key(self.key)

    # --- frames from the server ----------------------------------------------------------------------------------

    def read_frames(self, buffer: bytes, now: int) -> bytes:
        """Handle every whole frame in ``buffer``; return the incomplete rest."""
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            first, length = buffer[pos], buffer[pos + 1]
            if length & 0x80:
                self.finish("protocol: masked frame from the server")
                return b""
            header = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, header = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, header = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
            end = pos + header + length
            if end > size:
                break
            if first & 0xF0 != 0x80:  # FIN set, no RSV bits: unfragmented and uncompressed
                self.finish("protocol: fragmented or compressed frame")
                return b""
            opcode = first & 0x0F
            if opcode == 0x1:
                self.on_text(buffer[pos + header : end], now)
            elif opcode == 0x9:
                pong = Frame(Opcode.PONG, buffer[pos + header : end]).serialize(mask=True)
                self.transport.write(pong)  # type: ignore[union-attr]
            elif opcode == 0x8:
                code = int.from_bytes(buffer[pos + header : pos + header + 2], "big") if length >= 2 else 1005
                self.finish(str(code))
                return b""
            pos = end
        return buffer[pos:]

    def on_text(self, payload: bytes, now: int) -> None:
        if self.hallway:
            self.on_hallway_text(payload, now)
        elif payload.startswith(EVENT_PREFIX):
            if not self.subscribed:
                return  # an event queued before the snapshot: the snapshot's seq covers it
            state = self.state
            start = payload.find(SEQ_KEY) + SEQ_KEY_LEN
            seq = int(payload[start : payload.find(b",", start)])
            state.conns.append(self.index)
            state.seqs.append(seq)
            state.times.append(now)
            got = state.counts.get(seq, 0) + 1
            state.counts[seq] = got
            if seq == state.target and got >= state.live:
                state.all_in.set()
        elif not self.subscribed and payload.startswith(SNAPSHOT_PREFIX):
            self.subscribed = True
            self.state.ready += 1
            self.state.live += 1
            self.state.settled()
            self.settled.set_result(None)

    def on_hallway_text(self, payload: bytes, now: int) -> None:
        if payload.startswith(HALLWAY_PREFIX):
            if not self.subscribed:
                return
            self.hallway_frames += 1
            self.record(self.hallway_frames, now)
        elif not self.subscribed and payload.startswith(REPLY_PREFIX):
            self.subscribed = True
            self.state.ready += 1
            self.state.live += 1
            self.state.settled()
            self.settled.set_result(None)

    def record(self, seq: int, now: int) -> None:
        state = self.state
        state.conns.append(self.index)
        state.seqs.append(seq)
        state.times.append(now)
        got = state.counts.get(seq, 0) + 1
        state.counts[seq] = got
        if seq == state.target and got >= state.live:
            state.all_in.set()


async def follow(
    index: int, uri: str, token: str, room_id: str, state: State, gate: asyncio.Semaphore, hallway: bool = False
) -> None:
    """Open one client and wait until it is live (or failed), holding one of the ``gate``'s places meanwhile."""
    parts = urlsplit(uri)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    async with gate:
        client = Client(index, f"{host}:{port}", parts.path or "/", token, room_id, state, hallway)
        state.clients.append(client)
        try:
            async with asyncio.timeout(120):
                await loop.create_connection(lambda: client, host, port)
                await client.settled
        except Exception as exc:
            client.finish(type(exc).__name__ + (f" {exc}"[:120] if str(exc) else ""))


async def commands(state: State) -> None:
    """Follow the orchestrator's orders on stdin until ``exit`` or end of input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        order = orjson.loads(line)
        if "await" in order:
            state.target = int(order["await"])
            state.all_in.clear()
            state.check_target()
            try:
                async with asyncio.timeout(float(order.get("timeout", 30))):
                    await state.all_in.wait()
                done = True
            except TimeoutError:
                done = False
            say(
                {
                    "delivered": done,
                    "at_ns": time.monotonic_ns(),
                    "live": state.live,
                    "got": state.counts.get(state.target, 0),
                    "closed": state.closed,
                }
            )
        elif "dump" in order:
            payload = {
                "conns": state.conns.tolist(),
                "seqs": state.seqs.tolist(),
                "times": state.times.tolist(),
                "ready": state.ready,
                "failed": state.failed,
                "closed": state.closed,
            }
            await asyncio.to_thread(Path(order["dump"]).write_bytes, orjson.dumps(payload))
            say({"dumped": len(state.seqs)})
        elif order.get("exit"):
            return


async def main(args: argparse.Namespace, tokens: list[str]) -> None:
    state = State(expected=len(tokens))
    gate = asyncio.Semaphore(args.concurrency)
    started = time.monotonic()
    tasks = [  # kept referenced: the loop holds tasks only weakly
        asyncio.create_task(follow(args.start + i, args.uri, token, args.room, state, gate, args.hallway))
        for i, token in enumerate(tokens)
    ]
    try:
        async with asyncio.timeout(args.connect_timeout):
            await state.all_ready.wait()
    except TimeoutError:
        pass
    say(
        {
            "ready": state.ready,
            "failed": state.failed + (state.expected - state.ready - state.failed),
            "failures": state.failures,
            "connect_s": round(time.monotonic() - started, 2),
            "pid": os.getpid(),
        }
    )
    await commands(state)
    del tasks
    sys.stdout.flush()
    os._exit(0)  # leave now, tasks and all: the kernel closes every socket faster than 5,000 close handshakes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", required=True, help="ws://127.0.0.1:PORT/api/v1/ws")
    parser.add_argument("--tokens", required=True, help="file with one bearer token per line")
    parser.add_argument("--room", required=True)
    parser.add_argument("--start", type=int, default=0, help="first token (line) this process uses")
    parser.add_argument("--count", type=int, required=True, help="how many connections this process opens")
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes + subscribes in flight at once")
    parser.add_argument("--connect-timeout", type=float, default=600.0)
    parser.add_argument("--hallway", action="store_true", help="watch the hallway instead of following --room")
    return parser.parse_args()


def run() -> None:
    args = parse_args()
    raise_fd_limit()
    tokens = Path(args.tokens).read_text().split()[args.start : args.start + args.count]
    try:
        uvloop.run(asyncio.wait_for(main(args, tokens), HARD_DEADLINE_S))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    run()
