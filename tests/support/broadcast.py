"""Test support for the broadcast node: an independent reader of its wire format (HTTP chunks, records), RTP
packets to feed it, and a fake transport and loop for its state without sockets.

The readers here follow the wire spec, not the node's code: a test that decodes with them checks the bytes a
browser would get.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

HEADER = struct.Struct("!BBHHI")


@dataclass(frozen=True)
class Record:
    kind: int
    seq: int
    timestamp: int
    payload: bytes

    def json(self) -> Any:
        return json.loads(self.payload)


def split_head(data: bytes) -> tuple[bytes, bytes]:
    """(the response head without its blank line, the rest); ValueError when the head is not complete."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("incomplete response head")
    return head, rest


def dechunk(data: bytes) -> tuple[list[bytes], bool, bytes]:
    """The complete HTTP chunks at the start of ``data``, whether the last-chunk marker was among them, and the
    bytes left over (an incomplete chunk)."""
    chunks: list[bytes] = []
    at = 0
    while True:
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            return chunks, False, data[at:]
        size = int(data[at:line_end], 16)
        if size == 0:
            if data[line_end + 2 : line_end + 4] != b"\r\n":
                return chunks, False, data[at:]
            return chunks, True, data[line_end + 4 :]
        end = line_end + 2 + size
        if len(data) < end + 2:
            return chunks, False, data[at:]
        assert data[end : end + 2] == b"\r\n", "a chunk must end with CRLF"
        chunks.append(data[line_end + 2 : end])
        at = end + 2


def parse_records(body: bytes) -> list[Record]:
    """Every record of a de-chunked body; AssertionError when the body does not end on a record boundary."""
    records = []
    at = 0
    while at < len(body):
        kind, zero, length, seq, timestamp = HEADER.unpack_from(body, at)
        assert zero == 0
        payload = body[at + HEADER.size : at + HEADER.size + length]
        assert len(payload) == length, "a record was cut short"
        records.append(Record(kind, seq, timestamp, payload))
        at += HEADER.size + length
    return records


def rtp_packet(
    seq: int, timestamp: int, ssrc: int, payload: bytes, *, pt: int = 111, csrcs: int = 0, extension: bytes = b""
) -> bytes:
    """An RTP v2 packet; ``extension`` (a multiple of 4 bytes) goes in a header extension."""
    first = 0x80 | (0x10 if extension else 0) | csrcs
    header = struct.pack("!BBHII", first, pt, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc)
    header += b"\x00\x00\x00\x01" * csrcs
    if extension:
        header += struct.pack("!HH", 0xBEDE, len(extension) // 4) + extension
    return header + payload


def opus_payload(seq: int) -> bytes:
    """A distinct, recognisable payload per sequence number (the node never decodes it)."""
    return b"opus-%05d-" % seq + bytes(range(seq % 7, seq % 7 + 40))


class FakeTransport:
    """What the node asks of a transport; records what it was given."""

    def __init__(self, buffered: int = 0, sock: socket.socket | None = None) -> None:
        self.data = bytearray()
        self.buffered = buffered  # what get_write_buffer_size() answers
        self.closed = False
        self.aborted = False
        self.fail_writes = False
        self.sock = sock  # a real socket: the node writes to it directly while nothing is buffered
        self.sslcontext: object = None  # set: the transport is TLS, as an SSL transport says

    def get_extra_info(self, name: str) -> object:
        return {"socket": self.sock, "sslcontext": self.sslcontext}.get(name)

    def write(self, data: bytes) -> None:
        if self.fail_writes:
            raise RuntimeError("unable to perform operation: the handler is closed")
        self.data += data

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def records(self) -> list[Record]:
        """The records written so far, after the response head (which must be complete)."""
        _, body = split_head(bytes(self.data))
        chunks, _, rest = dechunk(body)
        assert rest == b""
        return parse_records(b"".join(chunks))

    def ended(self) -> bool:
        """Whether the chunked body was ended (the last-chunk marker written)."""
        return dechunk(split_head(bytes(self.data))[1])[1]


@dataclass
class FakeHandle:
    when: float
    callback: Any
    args: tuple[Any, ...]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeLoop:
    """A loop whose time moves only when told; ``advance`` runs the timers that fall due."""

    now: float = 1000.0
    timers: list[FakeHandle] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any, *args: Any) -> FakeHandle:
        handle = FakeHandle(self.now + delay, callback, args)
        self.timers.append(handle)
        return handle

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t.when <= self.now and not t.cancelled]
        self.timers = [t for t in self.timers if t not in due]
        for timer in sorted(due, key=lambda t: t.when):
            if not timer.cancelled:
                timer.callback(*timer.args)

    def pending(self) -> list[FakeHandle]:
        return [t for t in self.timers if not t.cancelled]
