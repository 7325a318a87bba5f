"""``salon.broadcast.rtp``: the fields and payload of well-formed RTP; ``None`` for anything else, never a crash."""

from __future__ import annotations

import struct

import pytest

from salon.broadcast.rtp import RtpPacket, parse_rtp
from tests.support.broadcast import rtp_packet


def test_a_plain_packet_reads_back() -> None:
    data = rtp_packet(65535, 2**32 - 1, 0xDEADBEEF, b"opus")
    assert parse_rtp(data) == RtpPacket(111, False, 65535, 2**32 - 1, 0xDEADBEEF, b"opus")


def test_the_marker_and_payload_type_are_apart() -> None:
    data = bytearray(rtp_packet(1, 2, 3, b"x", pt=96))
    data[1] |= 0x80
    packet = parse_rtp(bytes(data))
    assert packet is not None
    assert (packet.marker, packet.payload_type) == (True, 96)


def test_csrcs_and_a_header_extension_are_stepped_over() -> None:
    data = rtp_packet(7, 8, 9, b"payload", csrcs=3, extension=b"\x10\xff\x00\x00" * 2)
    packet = parse_rtp(data)
    assert packet is not None
    assert packet.payload == b"payload"


def test_padding_is_removed() -> None:
    data = bytearray(rtp_packet(1, 2, 3, b"abc" + b"\x00\x00\x03"))
    data[0] |= 0x20
    packet = parse_rtp(bytes(data))
    assert packet is not None
    assert packet.payload == b"abc"


def test_an_empty_payload_is_a_packet() -> None:
    packet = parse_rtp(rtp_packet(1, 2, 3, b""))
    assert packet is not None
    assert packet.payload == b""


def padded(payload: bytes, count: int) -> bytes:
    data = bytearray(rtp_packet(1, 2, 3, payload + bytes([count])))
    data[0] |= 0x20
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x6f\x00",  # shorter than the fixed header
        struct.pack("!BBHII", 0x40, 111, 1, 2, 3) + b"v1",  # version 1
        struct.pack("!BBHII", 0xC0, 111, 1, 2, 3) + b"v3",  # version 3
        struct.pack("!BBHII", 0x82, 111, 1, 2, 3) + b"\x00" * 4,  # two CSRCs announced, one present
        struct.pack("!BBHII", 0x90, 111, 1, 2, 3) + b"\xbe",  # extension header cut short
        struct.pack("!BBHII", 0x90, 111, 1, 2, 3) + struct.pack("!HH", 0xBEDE, 5) + b"\x00" * 4,  # extension too long
        padded(b"ab", 0),  # a padding count of zero
        padded(b"ab", 200),  # more padding than the packet holds
    ],
)
def test_malformed_packets_are_none(data: bytes) -> None:
    assert parse_rtp(data) is None
