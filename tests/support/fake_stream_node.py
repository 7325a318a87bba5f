"""Test support: a stand-in for a broadcast node's listener port, for the browser player's end-to-end tests.

An asyncio HTTP/1.1 server on 127.0.0.1 serves a page (under the app's real Content-Security-Policy, so the player's
worklet must load under it too), the app's static files as they are, and ``GET /v1/stream/{scenario}`` responses
written as the wire spec says: chunked, ``hello`` first, then a 440 Hz tone as Opus packets (PyAV's libopus, 20 ms
each) paced in real time, ``PACKETS_PER_WRITE`` packets per write, the first write at once (a real node starts with its
most recent chunk). Some writes are split inside a record, across two HTTP chunks sent apart, as TCP may split them.
The RTP numbers start just below their wraparound, so every stream crosses it. Each scenario ends its own way
(``SCENARIOS``); what each stream did is kept in ``FakeStreamNode.streams`` for the tests to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

import av
import numpy as np

from salon.web.pages import PAGE_HEADERS, STATIC

__all__ = [
    "CHUNK_MS",
    "PACKETS_PER_WRITE",
    "PACKET_MS",
    "SCENARIOS",
    "TONE_HZ",
    "FakeStreamNode",
    "StreamLog",
    "opus_tone",
    "record",
    "running_fake_node",
]

TONE_HZ: Final = 440.0
SAMPLE_RATE: Final = 48000
PACKET_MS: Final = 20
PACKET_SAMPLES: Final = SAMPLE_RATE * PACKET_MS // 1000
PACKETS_PER_WRITE: Final = 3
CHUNK_MS: Final = PACKET_MS * PACKETS_PER_WRITE
TONE_SECONDS: Final = 60  # the longest stream; a whole number of 440 Hz periods
FIRST_SEQ: Final = 0xFFFF - 5  # both RTP counters wrap within the first chunks of every stream
FIRST_TIMESTAMP: Final = 2**32 - 10 * PACKET_SAMPLES
CONTENT_TYPE: Final = "application/vnd.salon.opus-stream"
RECORD: Final = struct.Struct("!BBHHI")
AUDIO, NOTICE, HELLO = 0, 1, 2
LOST_PACKETS: Final = range(100, 105)  # what the "lossy" scenario leaves out: 100 ms, two seconds in

# name → what the stream does: "tone" plays until the client leaves (or TONE_SECONDS); "quiet" plays 1 s, then sends
# nothing while holding the connection open; "notice" plays 1 s, then a room_ended notice, and ends; "cut" plays
# 0.5 s and ends without a notice; "lossy" is "tone" without LOST_PACKETS; "refused" is a 409 ticket_used. A path may
# add "-anything" to a name (``tone-2``): the same scenario, logged under the whole name.
SCENARIOS: Final = ("tone", "quiet", "notice", "cut", "lossy", "refused")
PAGE: Final = b'<!doctype html>\n<title>stream player</title>\n<audio id="player" autoplay hidden></audio>\n'
TYPES: Final = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}


def record(kind: int, payload: bytes, seq: int = 0, timestamp: int = 0) -> bytes:
    """One record of the wire spec: the 10-byte header, then the payload."""
    return RECORD.pack(kind, 0, len(payload), seq, timestamp) + payload


def opus_tone(hz: float, seconds: int, amplitude: float = 0.3) -> list[bytes]:
    """A mono sine as 20 ms Opus packets at 48 kHz, as the media server's mix would send them."""
    codec = av.CodecContext.create("libopus", "w")
    assert isinstance(codec, av.AudioCodecContext)
    codec.sample_rate = SAMPLE_RATE
    codec.layout = "mono"
    codec.format = "s16"
    codec.bit_rate = 64000
    codec.options = {"frame_duration": str(PACKET_MS), "application": "audio"}
    t = np.arange(SAMPLE_RATE * seconds)
    pcm = (amplitude * 32767 * np.sin(2 * np.pi * hz * t / SAMPLE_RATE)).astype(np.int16)
    packets: list[bytes] = []
    for start in range(0, len(pcm), PACKET_SAMPLES):
        frame = av.AudioFrame.from_ndarray(
            pcm[start : start + PACKET_SAMPLES].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = start
        packets += [bytes(packet) for packet in codec.encode(frame)]
    return packets


@dataclass
class StreamLog:
    """One stream as the node served it (times are ``time.monotonic()``)."""

    name: str  # as requested: the scenario, maybe with a suffix

    @property
    def scenario(self) -> str:
        return self.name.split("-", 1)[0]

    first_write: float | None = None  # the first audio write
    last_write: float | None = None
    packets: int = 0
    left: asyncio.Event = field(default_factory=asyncio.Event)  # the client closed the connection
    left_at: float | None = None


@dataclass
class FakeStreamNode:
    packets: list[bytes]
    base_url: str = ""
    streams: list[StreamLog] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            path = unquote(urlsplit(target).path)
            if method != "GET":
                await self.respond(writer, 405, "text/plain", b"method not allowed")
            elif path == "/":
                await self.respond(writer, 200, "text/html; charset=utf-8", PAGE, dict(PAGE_HEADERS))
            elif path.startswith("/static/"):
                await self.static(writer, path.removeprefix("/static/"))
            elif path.startswith("/v1/stream/"):
                await self.stream(reader, writer, path.removeprefix("/v1/stream/"))
            else:
                await self.respond(writer, 404, "text/plain", b"not found")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def respond(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        content_type: str,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()] + ["Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode() + body)
        await writer.drain()

    async def static(self, writer: asyncio.StreamWriter, relative: str) -> None:
        file = (STATIC / relative).resolve()
        if not file.is_relative_to(STATIC.resolve()) or not file.is_file():
            await self.respond(writer, 404, "text/plain", b"not found")
            return
        await self.respond(writer, 200, TYPES.get(file.suffix, "application/octet-stream"), file.read_bytes())

    async def stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
        scenario = name.split("-", 1)[0]
        if scenario == "refused":
            body = json.dumps({"code": "ticket_used", "message": "This ticket was used already.", "data": {}})
            await self.respond(writer, 409, "application/json", body.encode())
            return
        if scenario not in SCENARIOS:
            await self.respond(writer, 404, "application/json", b'{"code":"not_found","message":"no room","data":{}}')
            return
        log = StreamLog(name)
        self.streams.append(log)
        watcher = asyncio.create_task(self.watch(reader, log))
        try:
            await self.serve(writer, log)
        except ConnectionError:  # a write found the connection gone: the watcher sees its end too
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(watcher), 1.0)
        finally:
            watcher.cancel()

    async def watch(self, reader: asyncio.StreamReader, log: StreamLog) -> None:
        """The client sends nothing after its request: end of input means it closed the connection."""
        with contextlib.suppress(ConnectionError):
            await reader.read()
        log.left_at = time.monotonic()
        log.left.set()

    async def serve(self, writer: asyncio.StreamWriter, log: StreamLog) -> None:
        head = [
            "HTTP/1.1 200 OK",
            f"Content-Type: {CONTENT_TYPE}",
            "Transfer-Encoding: chunked",
            "Cache-Control: no-store",
            "X-Content-Type-Options: nosniff",
            "Connection: keep-alive",
            "",
            "",
        ]
        writer.write("\r\n".join(head).encode())
        hello = json.dumps({"room_id": "r1", "chunk_ms": CHUNK_MS, "sample_rate": SAMPLE_RATE}).encode()
        await self.write(writer, record(HELLO, hello))
        seconds = {"quiet": 1.0, "notice": 1.0, "cut": 0.5}.get(log.scenario, float(TONE_SECONDS))
        writes = round(seconds * 1000 / CHUNK_MS)
        started = time.monotonic()
        for index in range(writes):
            await asyncio.sleep(max(0.0, started + index * CHUNK_MS / 1000 - time.monotonic()))
            if log.left.is_set():
                return
            chunk = b"".join(self.audio(log, index * PACKETS_PER_WRITE + n) for n in range(PACKETS_PER_WRITE))
            if not chunk:
                continue  # every packet of this chunk was lost: a node has nothing to write
            await self.write(writer, chunk, split=(7 + 13 * index) % len(chunk) if index % 2 else 0)
            log.last_write = time.monotonic()
            log.first_write = log.first_write or log.last_write
        if log.scenario == "quiet":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(log.left.wait(), 10)
            return
        if log.scenario == "notice":
            notice = {"code": "room_ended", "message": "The room has ended."}
            await self.write(writer, record(NOTICE, json.dumps(notice).encode()))
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    def audio(self, log: StreamLog, index: int) -> bytes:
        if log.scenario == "lossy" and index in LOST_PACKETS:
            return b""
        log.packets += 1
        seq = (FIRST_SEQ + index) & 0xFFFF
        timestamp = (FIRST_TIMESTAMP + index * PACKET_SAMPLES) & 0xFFFFFFFF
        return record(AUDIO, self.packets[index % len(self.packets)], seq, timestamp)

    async def write(self, writer: asyncio.StreamWriter, data: bytes, split: int = 0) -> None:
        """``data`` as one HTTP chunk, or as two sent a moment apart when ``split`` cuts it."""
        for part in (data[:split], data[split:]) if split else (data,):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            if split:
                await asyncio.sleep(0.002)


@contextlib.asynccontextmanager
async def running_fake_node(packets: list[bytes]) -> AsyncIterator[FakeStreamNode]:
    """The node on a free port of 127.0.0.1 for the block; its connections are closed after."""
    node = FakeStreamNode(packets)
    connections: set[asyncio.Task[None]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await node.handle(reader, writer)
        finally:
            connections.discard(task)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    node.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield node
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()
