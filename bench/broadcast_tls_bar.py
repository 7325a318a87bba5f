"""Broadcast bench, the TLS bar: the bar of ``bench/broadcast_bar.py`` writing through asyncio transports, with TLS.

Started by ``bench/broadcast_tls.py`` in its own process, on uvloop like the node. Same stream, same pacing, same
RTP input as ``broadcast_bar.py`` (its ``Room`` and ``Listener`` are reused); what differs is how a chunk reaches a
listener: ``transport.write(chunk)`` on each connection's asyncio transport. With ``--cert`` and ``--key`` the
listening socket has an ``ssl.SSLContext`` (TLS 1.3 only, Python's default suites), so each write goes through
Python's ``ssl`` (uvloop's SSL protocol: an ``SSLObject`` per connection, encrypting into a memory BIO, then the
socket write); without them it is the plain transport, the control that separates TLS from ``transport.write``.
A connection whose transport buffers more than ``--max-buffer`` bytes is aborted and counted (``dropped``).

stdout: ``{"ready": true, "listen": port, "rtp": port, "pid": ...}``; orders on stdin as ``broadcast_bar.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import ssl
import sys
import traceback

import orjson
import uvloop
from broadcast_bar import HARD_DEADLINE_S, Listener, Room, RtpInput, say


class TransportRoom(Room):
    """Every chunk through ``transport.write``: Python's ``ssl`` per connection when the server has a context."""

    def __init__(self, chunk_ms: int, max_buffer: int) -> None:
        super().__init__(chunk_ms, "transport.write", True, 0)
        self.max_buffer = max_buffer
        self.transport_targets: list[tuple[int, asyncio.Transport]] = []

    def join(self, transport: asyncio.Transport) -> None:
        fd = transport.get_extra_info("socket").fileno()
        transport.write(self.first_bytes)
        self.fds[fd] = transport
        self.dirty = True

    def leave(self, fd: int) -> None:
        if self.fds.pop(fd, None) is not None:
            self.dirty = True

    def flush(self, chunk: bytes) -> None:
        if self.dirty:
            self.transport_targets = list(self.fds.items())
            self.dirty = False
        limit = self.max_buffer
        slow: list[int] = []
        for fd, transport in self.transport_targets:
            transport.write(chunk)
            if transport.get_write_buffer_size() > limit:
                slow.append(fd)
        self.chunks_out += 1
        self.drop(slow)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(cert, key)
    return context


async def main(args: argparse.Namespace) -> None:
    room = TransportRoom(args.chunk_ms, args.max_buffer)
    context = server_context(args.cert, args.key) if args.cert else None
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Listener(room), "127.0.0.1", 0, backlog=4096, ssl=context)
    rtp, _ = await loop.create_datagram_endpoint(lambda: RtpInput(room), local_addr=("127.0.0.1", 0))
    say(
        {
            "ready": True,
            "listen": server.sockets[0].getsockname()[1],
            "rtp": rtp.get_extra_info("sockname")[1],
            "pid": os.getpid(),
            "tls": context is not None,
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
    parser.add_argument("--cert", help="PEM certificate: serve TLS 1.3 (with --key)")
    parser.add_argument("--key", help="PEM private key of --cert")
    parser.add_argument("--max-buffer", type=int, default=256 * 1024, help="bytes buffered before a listener is cut")
    args = parser.parse_args()
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")
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
