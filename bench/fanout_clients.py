"""Fan-out bench, the client side: many WebSocket connections in one process, each timestamping the room events.

Started by ``bench/fanout.py`` (never on its own in practice). It opens ``--count`` connections to ``--uri`` with
the ``websockets`` library, a bounded number of handshakes at a time, sends each one ``subscribe`` and waits for its
``snapshot``. Then it reports ``{"ready": ...}`` on stdout and follows orders on stdin, one JSON object per line:

- ``{"await": seq, "timeout": s}``: answer ``{"delivered": true|false, ...}`` once every open connection received
  the event ``seq`` (or the timeout passed);
- ``{"dump": path}``: write every receipt ``(connection, seq, monotonic ns)`` to ``path``; answer ``{"dumped": n}``;
- ``{"exit": true}`` or end of stdin: leave at once (the kernel closes the sockets).

Per message the work is minimal: take ``time.monotonic_ns()`` first, keep only ``event`` frames (a prefix test),
cut the ``seq`` out of the text with ``str.find`` (no JSON parsing) and append to three arrays. ``CLOCK_MONOTONIC``
is one clock for every process on Linux, so these times compare with the orchestrator's send times.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
import traceback
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

EVENT_PREFIX = '{"type":"event"'
SNAPSHOT_PREFIX = '{"type":"snapshot"'
SEQ_KEY = '"seq":'
SEQ_KEY_LEN = len(SEQ_KEY)
HARD_DEADLINE_S = 1800.0  # the process leaves by itself after this long, whatever happens


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
    sockets: list[ClientConnection] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def settled(self) -> None:
        if self.ready + self.failed >= self.expected:
            self.all_ready.set()

    def check_target(self) -> None:
        if self.target >= 0 and self.counts.get(self.target, 0) >= self.live:
            self.all_in.set()


async def follow(index: int, uri: str, token: str, room_id: str, state: State, gate: asyncio.Semaphore) -> None:
    """One client: connect, subscribe, wait for the snapshot, then timestamp every event until the socket closes."""
    headers = {"Authorization": f"Bearer {token}"}
    subscribe = orjson.dumps({"op": "subscribe", "ref": "1", "data": {"room_id": room_id}}).decode()
    async with gate:
        try:
            ws = await connect(
                uri,
                additional_headers=headers,
                compression=None,
                max_queue=None,
                ping_interval=None,  # the server pings; answering is automatic
                open_timeout=120,
                close_timeout=1,
            )
            await ws.send(subscribe)
            async with asyncio.timeout(120):
                while True:
                    first = await ws.recv()
                    if isinstance(first, str) and first.startswith(SNAPSHOT_PREFIX):
                        break
        except Exception as exc:
            key = type(exc).__name__ + (f" {exc}"[:120] if str(exc) else "")
            state.failures[key] = state.failures.get(key, 0) + 1
            state.failed += 1
            state.settled()
            return
    state.sockets.append(ws)
    state.ready += 1
    state.live += 1
    state.settled()
    conns, seqs, times, counts = state.conns, state.seqs, state.times, state.counts
    monotonic_ns = time.monotonic_ns
    try:
        while True:
            message = await ws.recv()
            now = monotonic_ns()
            if not isinstance(message, str) or not message.startswith(EVENT_PREFIX):
                continue
            start = message.find(SEQ_KEY) + SEQ_KEY_LEN
            seq = int(message[start : message.find(",", start)])
            conns.append(index)
            seqs.append(seq)
            times.append(now)
            got = counts.get(seq, 0) + 1
            counts[seq] = got
            if seq == state.target and got >= state.live:
                state.all_in.set()
    except ConnectionClosed as exc:
        code = str(exc.rcvd.code) if exc.rcvd is not None else "no close frame"
        state.closed[code] = state.closed.get(code, 0) + 1
    finally:
        state.live -= 1
        state.check_target()


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
    state.tasks = [  # kept referenced: the loop holds tasks only weakly
        asyncio.create_task(follow(args.start + i, args.uri, token, args.room, state, gate))
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
