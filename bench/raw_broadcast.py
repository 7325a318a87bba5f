"""Fan-out bench, the bar: a bare ``websockets`` server that broadcasts one frame to every client.

Started by ``bench/fanout.py`` in its own process, on uvloop like ``salon serve``. It speaks just enough of Salon's
protocol for ``bench/fanout_clients.py``: ``hello`` on connect, a ``snapshot`` and a ``reply`` for the first message
(the subscribe), no authentication, no database. The orchestrator writes one JSON object per line on stdin:
``{"seq": n}`` sends the template event (a real Salon ``mute_changed`` frame, from ``--template``) with ``seq`` = n
to every client through one ``websockets.broadcast`` call and answers ``{"seq": n, "broadcast_ns": ...}`` (the wall
time of that call); ``{"exit": true}`` or end of stdin stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import orjson
import uvloop
import websockets
from websockets.asyncio.server import ServerConnection, serve

HARD_DEADLINE_S = 1800.0


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()


class Room:
    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.clients: set[ServerConnection] = set()

    async def handler(self, ws: ServerConnection) -> None:
        await ws.send(orjson.dumps({"type": "hello", "user_id": "raw", "protocol": 1}).decode())
        first = orjson.loads(await ws.recv())
        room_id = self.template["room_id"]
        snapshot = {"type": "snapshot", "room_id": room_id, "data": {"seq": 0}}
        await ws.send(orjson.dumps(snapshot).decode())
        reply = {"type": "reply", "ref": first.get("ref"), "data": {"room_id": room_id, "seq": 0}}
        await ws.send(orjson.dumps(reply).decode())
        self.clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            self.clients.discard(ws)

    def broadcast(self, seq: int) -> int:
        text = orjson.dumps({**self.template, "seq": seq}).decode()
        started = time.perf_counter_ns()
        websockets.broadcast(self.clients, text)
        return time.perf_counter_ns() - started


async def main(port: int, template: dict[str, Any]) -> None:
    room = Room(template)
    async with serve(room.handler, "127.0.0.1", port, compression=None, backlog=4096):
        say({"listening": port, "pid": os.getpid()})
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            order = orjson.loads(line)
            if "seq" in order:
                spent = room.broadcast(int(order["seq"]))
                say({"seq": order["seq"], "broadcast_ns": spent, "clients": len(room.clients)})
            elif order.get("exit"):
                break
    sys.stdout.flush()
    os._exit(0)  # do not close thousands of sockets one by one


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--template", required=True, help="JSON file: the event frame to broadcast")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    template = orjson.loads(Path(args.template).read_bytes())
    try:
        uvloop.run(asyncio.wait_for(main(args.port, template), HARD_DEADLINE_S))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    run()
