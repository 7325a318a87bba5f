"""Broadcast layer: the stream's records and the HTTP/1.1 chunks that carry them.

A listener's body is a byte stream of records, each a 10-byte big-endian header ``kind, 0, length, seq, timestamp``
and ``length`` bytes of payload: audio (one Opus packet, with its RTP sequence number and timestamp), a notice (JSON
``{code, message}``, sent just before the node ends a stream on purpose) or the hello that opens every stream. HTTP
chunk boundaries mean nothing to the reader; the node puts several records in one chunk so that a listener costs
one write per chunk.
"""

from __future__ import annotations

import json
import struct
from typing import Final, Literal

KIND_AUDIO: Final = 0
KIND_NOTICE: Final = 1
KIND_HELLO: Final = 2
SAMPLE_RATE: Final = 48000
RECORD_HEADER: Final = struct.Struct("!BBHHI")
MAX_PAYLOAD: Final = 0xFFFF  # the header's length field
LAST_CHUNK: Final = b"0\r\n\r\n"  # ends a chunked body: the reader sees a clean end, not a broken connection

NoticeCode = Literal["removed", "room_ended", "on_stage", "replaced", "too_slow", "shutting_down"]
NOTICE_MESSAGES: Final[dict[NoticeCode, str]] = {
    "removed": "You can no longer listen to this room.",
    "room_ended": "The room has ended.",
    "on_stage": "You are on stage: you hear the room through your call now.",
    "replaced": "This room is playing in another window or tab.",
    "too_slow": "The connection could not keep up with the audio.",
    "shutting_down": "The audio server is restarting; reconnect.",
}


def audio_record(sequence: int, timestamp: int, payload: bytes) -> bytes:
    """One Opus packet as a record; ``ValueError`` for a payload longer than the length field holds."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"an audio payload holds at most {MAX_PAYLOAD} bytes")
    return RECORD_HEADER.pack(KIND_AUDIO, 0, len(payload), sequence, timestamp) + payload


def _json_record(kind: int, value: object) -> bytes:
    payload = json.dumps(value, separators=(",", ":")).encode()
    return RECORD_HEADER.pack(kind, 0, len(payload), 0, 0) + payload


def notice_record(code: NoticeCode) -> bytes:
    return _json_record(KIND_NOTICE, {"code": code, "message": NOTICE_MESSAGES[code]})


def hello_record(room_id: str, chunk_ms: int) -> bytes:
    return _json_record(KIND_HELLO, {"room_id": room_id, "chunk_ms": chunk_ms, "sample_rate": SAMPLE_RATE})


def http_chunk(body: bytes) -> bytes:
    """``body`` framed as one HTTP/1.1 chunk (size in hex, CRLF, data, CRLF): built once, written to everyone.
    An empty body would read as the end of the stream, so it is refused."""
    if not body:
        raise ValueError("an HTTP chunk needs at least one byte")
    return b"%x\r\n%b\r\n" % (len(body), body)
