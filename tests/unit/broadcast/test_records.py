"""``salon.broadcast.records``: the 10-byte big-endian record header, the JSON records, the HTTP chunk framing."""

from __future__ import annotations

import pytest

from salon.broadcast.records import (
    LAST_CHUNK,
    NOTICE_MESSAGES,
    audio_record,
    hello_record,
    http_chunk,
    notice_record,
)
from tests.support.broadcast import dechunk, parse_records


def test_an_audio_record_is_the_spec_header_then_the_opus_packet() -> None:
    assert audio_record(0x1234, 0xA1B2C3D4, b"opus") == b"\x00\x00\x00\x04\x12\x34\xa1\xb2\xc3\xd4opus"


def test_the_largest_payload_fits_and_a_larger_one_is_refused() -> None:
    assert len(audio_record(1, 2, b"x" * 0xFFFF)) == 10 + 0xFFFF
    with pytest.raises(ValueError, match="at most 65535"):
        audio_record(1, 2, b"x" * 0x10000)


def test_a_notice_is_kind_1_with_its_code_and_message_and_zero_seq_and_timestamp() -> None:
    [record] = parse_records(notice_record("too_slow"))
    assert (record.kind, record.seq, record.timestamp) == (1, 0, 0)
    assert record.json() == {"code": "too_slow", "message": NOTICE_MESSAGES["too_slow"]}


def test_every_notice_code_has_a_message() -> None:
    assert set(NOTICE_MESSAGES) == {"removed", "room_ended", "on_stage", "replaced", "too_slow", "shutting_down"}


def test_the_hello_is_kind_2_with_room_chunk_and_rate() -> None:
    [record] = parse_records(hello_record("r1", 40))
    assert (record.kind, record.seq, record.timestamp) == (2, 0, 0)
    assert record.json() == {"room_id": "r1", "chunk_ms": 40, "sample_rate": 48000}


def test_a_chunk_is_hex_size_crlf_data_crlf_and_the_end_is_a_zero_chunk() -> None:
    body = b"y" * 300
    assert http_chunk(body) == b"12c\r\n" + body + b"\r\n"
    assert dechunk(http_chunk(b"ab") + http_chunk(b"c") + LAST_CHUNK) == ([b"ab", b"c"], True, b"")


def test_an_empty_chunk_is_refused_since_it_would_end_the_stream() -> None:
    with pytest.raises(ValueError, match="at least one byte"):
        http_chunk(b"")
