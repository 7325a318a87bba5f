"""Client layer: hearing a room on the broadcast tier — one HTTP stream of Opus records, decoded to audio frames.

The stream's format is Salon's public one (docs/ARCHITECTURE.md, "The broadcast tier"): after the response headers,
records of a 10-byte header (kind, flags, length, RTP sequence number, RTP timestamp; big-endian) and a payload: an
Opus packet (kind 0), a notice (1: JSON ``{code, message}``, sent just before the server ends the stream on purpose)
or the hello (2: JSON ``{room_id, chunk_ms, sample_rate}``). ``BroadcastTrack`` is an aiortc-style audio track, so
what measures a WebRTC track (``ToneMeter``) measures this one too; it ends (``MediaStreamError``) when the stream
does, with ``notice`` set when the server said why.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import struct
from typing import Any, Final

import av
import httpx
import orjson
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

__all__ = ["BroadcastRefused", "BroadcastTrack", "parse_records"]

HEADER: Final = struct.Struct("!BBHHI")
AUDIO, NOTICE, HELLO = 0, 1, 2
SAMPLE_RATE: Final = 48000
QUEUE_FRAMES: Final = 500  # 10 s of 20 ms frames: a consumer that far behind is not listening any more
OPEN_TIMEOUT_S: Final = 10.0


class BroadcastRefused(Exception):
    """The broadcast server refused the stream: its stable ``code`` (``ticket_expired``, ``room_full``, ...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def parse_records(buffer: bytearray) -> list[tuple[int, int, int, bytes]]:
    """Take every whole record off the front of ``buffer``: (kind, seq, timestamp, payload) each."""
    records = []
    offset = 0
    while len(buffer) - offset >= HEADER.size:
        kind, _flags, length, seq, timestamp = HEADER.unpack_from(buffer, offset)
        end = offset + HEADER.size + length
        if end > len(buffer):
            break
        records.append((kind, seq, timestamp, bytes(buffer[offset + HEADER.size : end])))
        offset = end
    del buffer[:offset]
    return records


class BroadcastTrack(MediaStreamTrack):
    """``track = await BroadcastTrack.open(url)``: the room's sound from one broadcast stream."""

    kind = "audio"

    def __init__(self, response: httpx.Response, http: httpx.AsyncClient) -> None:
        super().__init__()
        self.hello: dict[str, Any] | None = None
        self.notice: dict[str, Any] | None = None
        self.bytes_received = 0
        self.packets = 0
        self._response = response
        self._http = http
        self._decoder = av.CodecContext.create("opus", "r")
        self._frames: asyncio.Queue[AudioFrame | None] = asyncio.Queue(QUEUE_FRAMES)
        self._reader = asyncio.create_task(self._read(), name="broadcast-track")

    @classmethod
    async def open(cls, url: str) -> BroadcastTrack:
        """Start the stream (``BroadcastRefused`` when the server says no)."""
        http = httpx.AsyncClient(timeout=httpx.Timeout(OPEN_TIMEOUT_S, read=None), trust_env=False)
        try:
            response = await http.send(http.build_request("GET", url), stream=True)
            if response.status_code != 200:
                body = await response.aread()
                await response.aclose()
                try:
                    error = orjson.loads(body)
                except orjson.JSONDecodeError:
                    error = {"code": "unknown", "message": body.decode(errors="replace")}
                raise BroadcastRefused(response.status_code, str(error.get("code")), str(error.get("message")))
        except BaseException:
            await http.aclose()
            raise
        return cls(response, http)

    async def _read(self) -> None:
        buffer = bytearray()
        try:
            async for data in self._response.aiter_raw():
                self.bytes_received += len(data)
                buffer += data
                for kind, _seq, timestamp, payload in parse_records(buffer):
                    self._take(kind, timestamp, payload)
        except httpx.HTTPError:
            pass  # the stream broke: the track ends, as when the server closes it
        finally:
            with contextlib.suppress(asyncio.QueueFull):
                self._frames.put_nowait(None)

    def _take(self, kind: int, timestamp: int, payload: bytes) -> None:
        if kind == HELLO:
            self.hello = orjson.loads(payload)
        elif kind == NOTICE:
            self.notice = orjson.loads(payload)
        elif kind == AUDIO:
            self.packets += 1
            for frame in self._decoder.decode(av.Packet(payload)):
                frame.pts = timestamp
                frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
                if self._frames.full():
                    self._frames.get_nowait()  # keep the newest: a slow consumer hears a gap, not old sound
                self._frames.put_nowait(frame)

    async def recv(self) -> AudioFrame:
        frame = await self._frames.get()
        if frame is None:
            self._frames.put_nowait(None)  # every later recv ends too
            raise MediaStreamError
        return frame

    async def ended(self) -> None:
        """Wait until the server ends the stream (or it breaks)."""
        await asyncio.shield(self._reader)

    async def close(self) -> None:
        """Stop listening: end the request and release the connection."""
        self.stop()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        with contextlib.suppress(httpx.HTTPError):
            await self._response.aclose()
        await self._http.aclose()
