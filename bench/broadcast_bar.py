"""Broadcast bench, the bar: the least a Python process does to serve the broadcast tier's stream, for comparison.

Started by ``bench/broadcast.py`` in its own process, on uvloop like the node. It answers any ``GET`` with the
stream's 200 head and a hello record (no ticket, no room, no CORS preflight), takes in the sender's RTP on a UDP
socket (no checks past the header's length) and, once ``--chunk-ms`` of audio (20 ms per packet) is buffered,
builds one HTTP chunk of records in the spec's format and writes it to every connection in a bare loop: the
same bytes, paced the same way, as the node. That loop is the bar; everything else is kept out of it.

How the loop writes is the variant: ``--writer os.write`` (``os.write`` on each descriptor, as ``salon serve``'s
``FrameWriter`` does) or ``socket.send`` (a ``socket`` object per connection); ``--nodelay 1|0`` (``TCP_NODELAY``;
uvloop sets it on every connection, 0 turns it off again); ``--sndbuf BYTES`` (``SO_SNDBUF``, 0 = the kernel's
autotuning). A connection whose write would block or is short is closed and counted (``dropped``): the node would
buffer or cut it.

stdout: ``{"ready": true, "listen": port, "rtp": port, "pid": ...}``. Orders on stdin, one JSON object per line:
``{"stats": true}`` -> ``{"stats": {"listeners", "chunks_out", "packets_in", "dropped", "chunk_ms"}}``;
``{"exit": true}`` or end of stdin stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import struct
import sys
import traceback
from typing import Any, cast

import orjson
import uvloop

RECORD = struct.Struct("!BBHHI")
HARD_DEADLINE_S = 1800.0
HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/vnd.salon.opus-stream\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Cache-Control: no-store\r\n"
    b"X-Content-Type-Options: nosniff\r\n"
    b"Access-Control-Allow-Origin: *\r\n"
    b"Connection: keep-alive\r\n\r\n"
)


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()


def http_chunk(body: bytes) -> bytes:
    return b"%x\r\n" % len(body) + body + b"\r\n"


class Room:
    def __init__(self, chunk_ms: int, writer: str, nodelay: bool, sndbuf: int) -> None:
        self.chunk_packets = max(1, chunk_ms // 20)
        self.chunk_ms = chunk_ms
        self.writer = writer
        self.nodelay = nodelay
        self.sndbuf = sndbuf
        self.fds: dict[int, asyncio.Transport] = {}
        self.socks: dict[int, socket.socket] = {}
        self.targets: list[int] = []
        self.sock_targets: list[socket.socket] = []
        self.dirty = False
        self.buffered: list[bytes] = []
        self.chunks_out = 0
        self.packets_in = 0
        self.dropped = 0
        hello = orjson.dumps({"room_id": "bar", "chunk_ms": chunk_ms, "sample_rate": 48000})
        self.first_bytes = HEAD + http_chunk(RECORD.pack(2, 0, len(hello), 0, 0) + hello)

    def join(self, transport: asyncio.Transport) -> None:
        fd = transport.get_extra_info("socket").fileno()
        level = socket.IPPROTO_TCP
        plain = socket.socket(fileno=fd)  # the same descriptor: detached again before it could close it
        plain.setsockopt(level, socket.TCP_NODELAY, int(self.nodelay))
        if self.sndbuf:
            plain.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
        if os.write(fd, self.first_bytes) != len(self.first_bytes):
            plain.detach()
            transport.abort()
            self.dropped += 1
            return
        self.fds[fd] = transport
        self.socks[fd] = plain
        self.dirty = True

    def leave(self, fd: int) -> None:
        if self.fds.pop(fd, None) is not None:
            self.socks.pop(fd).detach()
            self.dirty = True

    def packet(self, data: bytes) -> None:
        if len(data) < 12:
            return
        self.packets_in += 1
        seq, timestamp = struct.unpack_from("!HI", data, 2)
        payload = data[12:]
        self.buffered.append(RECORD.pack(0, 0, len(payload), seq, timestamp) + payload)
        if len(self.buffered) >= self.chunk_packets:
            chunk = http_chunk(b"".join(self.buffered))
            self.buffered.clear()
            self.flush(chunk)

    def flush(self, chunk: bytes) -> None:
        if self.dirty:
            self.targets = list(self.fds)
            self.sock_targets = [self.socks[fd] for fd in self.targets]
            self.dirty = False
        size = len(chunk)
        short: list[int] = []
        if self.writer == "socket.send":
            for sock in self.sock_targets:
                try:
                    if sock.send(chunk) != size:
                        short.append(sock.fileno())
                except OSError:
                    short.append(sock.fileno())
        else:
            write = os.write
            for fd in self.targets:
                try:
                    if write(fd, chunk) != size:
                        short.append(fd)
                except OSError:
                    short.append(fd)
        self.chunks_out += 1
        self.drop(short)

    def drop(self, fds: list[int]) -> None:
        """End the connections that could not take a whole chunk (or fell behind), and count them."""
        for fd in fds:
            transport = self.fds.get(fd)
            self.leave(fd)
            self.dropped += 1
            if transport is not None:
                transport.abort()

    def stats(self) -> dict[str, Any]:
        return {
            "listeners": len(self.fds),
            "chunks_out": self.chunks_out,
            "packets_in": self.packets_in,
            "dropped": self.dropped,
            "chunk_ms": self.chunk_ms,
        }


class Listener(asyncio.Protocol):
    def __init__(self, room: Room) -> None:
        self.room = room
        self.transport: asyncio.Transport | None = None
        self.request = b""
        self.fd = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.fd >= 0 or self.transport is None:
            return  # a listener sends nothing after its request
        self.request += data
        if b"\r\n\r\n" in self.request:
            self.fd = self.transport.get_extra_info("socket").fileno()
            self.room.join(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.fd >= 0:
            self.room.leave(self.fd)


class RtpInput(asyncio.DatagramProtocol):
    def __init__(self, room: Room) -> None:
        self.room = room

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.room.packet(data)


async def main(args: argparse.Namespace) -> None:
    room = Room(args.chunk_ms, args.writer, bool(args.nodelay), args.sndbuf)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Listener(room), "127.0.0.1", 0, backlog=4096)
    rtp, _ = await loop.create_datagram_endpoint(lambda: RtpInput(room), local_addr=("127.0.0.1", 0))
    say(
        {
            "ready": True,
            "listen": server.sockets[0].getsockname()[1],
            "rtp": rtp.get_extra_info("sockname")[1],
            "pid": os.getpid(),
        }
    )
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        order = orjson.loads(line)
        if order.get("stats"):
            say({"stats": room.stats()})
        elif order.get("exit"):
            break
    sys.stdout.flush()
    os._exit(0)  # do not close thousands of sockets one by one


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunk-ms", type=int, required=True, help="flush once this much audio is buffered")
    parser.add_argument("--writer", choices=("os.write", "socket.send"), default="os.write")
    parser.add_argument("--nodelay", type=int, choices=(0, 1), default=1)
    parser.add_argument("--sndbuf", type=int, default=0, help="SO_SNDBUF in bytes; 0 leaves the kernel's autotuning")
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        uvloop.run(asyncio.wait_for(main(args), HARD_DEADLINE_S))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    run()
