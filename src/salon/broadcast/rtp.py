"""Broadcast layer: reading one RTP packet (RFC 3550) — the header fields the node needs and the payload.

Whatever a datagram holds, the answer is a packet or ``None``: CSRC lists, a header extension and padding are
stepped over, and any length that does not add up makes the packet invalid rather than an exception.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
_FIXED = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence number, timestamp, SSRC
_EXTENSION = struct.Struct("!HH")  # profile-defined id, length in 32-bit words


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """The packet in ``data``, or ``None`` when it is not a well-formed RTP version 2 packet."""
    if len(data) < _FIXED.size:
        return None
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        return None
    start = _FIXED.size + 4 * (first & 0x0F)  # past the CSRC list
    if first & 0x10:  # a header extension follows the CSRCs
        if len(data) < start + _EXTENSION.size:
            return None
        start += _EXTENSION.size + 4 * _EXTENSION.unpack_from(data, start)[1]
    end = len(data)
    if first & 0x20:  # padding: its last byte counts the padding bytes, itself included
        end -= data[-1]
        if data[-1] == 0:
            return None
    if end < start:
        return None
    return RtpPacket(second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, data[start:end])
