"""The cost of one loopback write per client, on this machine: the floor under the fan-out bench's CPU figure.

Opens ``--sockets`` TCP connections on 127.0.0.1 and, nobody reading, writes one 204-byte WebSocket text frame to
each, ``--rounds`` times, three ways: a plain blocking-free ``socket.send`` loop, uvloop's ``transport.write``
(sent at the end of the loop iteration), and ``os.write`` on the socket's descriptor (what ``salon serve``'s
``FrameWriter`` does). Prints the process CPU per write for each (docs/BENCHMARKS.md, "Event fan-out").
``--frame-bytes`` writes frames of another size instead (the broadcast tier's chunks are 0.1–1 KB; its paced bar,
with live readers, is ``bench/broadcast_bar.py``).

    .venv/bin/python bench/loopback_send.py
    .venv/bin/python bench/loopback_send.py --sockets 4000 --frame-bytes 700   # connects before accepting: <= somaxconn
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import time

import uvloop

FRAME = b"\x81\x7e\x00\xc8" + b"x" * 200


class Sink(asyncio.Protocol):
    def __init__(self, transports: list[asyncio.BaseTransport]) -> None:
        self.transports = transports

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transports.append(transport)


def drain(readers: list[socket.socket]) -> None:
    for r in readers:
        try:
            while r.recv(1 << 20):
                pass
        except BlockingIOError:
            pass


async def measure(sockets: int, rounds: int, frame: bytes) -> dict[str, float]:
    transports: list[asyncio.BaseTransport] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Sink(transports), "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    readers = []
    for _ in range(sockets):
        r = socket.create_connection(("127.0.0.1", port))
        r.setblocking(False)
        readers.append(r)
    while len(transports) < sockets:  # noqa: ASYNC110 - the server accepts in the background
        await asyncio.sleep(0.01)
    fds = [t.get_extra_info("socket").fileno() for t in transports]
    plain = [socket.socket(fileno=os.dup(fd)) for fd in fds]  # the same sockets, as Python socket objects
    for sock in plain:
        sock.setblocking(False)
    results: dict[str, float] = {}
    for name in ("socket.send", "transport.write", "os.write"):
        spent = 0.0
        for _ in range(rounds):
            started = time.process_time()
            if name == "socket.send":
                for sock in plain:
                    sock.send(frame)
            elif name == "transport.write":
                for t in transports:
                    t.write(frame)  # type: ignore[attr-defined]
            else:
                for fd in fds:
                    os.write(fd, frame)
            await asyncio.sleep(0)  # uvloop sends what transport.write buffered
            spent += time.process_time() - started
            drain(readers)
        results[name] = spent / (rounds * sockets) * 1e6
    server.close()
    for sock in [*plain, *readers]:
        sock.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frame-bytes", type=int, default=len(FRAME), help="bytes per write (default: 204)")
    args = parser.parse_args()
    frame = FRAME if args.frame_bytes == len(FRAME) else b"x" * args.frame_bytes
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for name, micros in uvloop.run(measure(args.sockets, args.rounds, frame)).items():
        print(f"{name}: {micros:.2f} µs CPU per write")


if __name__ == "__main__":
    main()
