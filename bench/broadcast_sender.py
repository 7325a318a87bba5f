"""Broadcast bench, the RTP sender: what Janus's ``rtp_forward`` sends a broadcast node, with send times inside.

Started by ``bench/broadcast.py`` in its own process. One packet every 20 ms on an absolute schedule: RTP v2,
payload type 111, the given SSRC, sequence number +1 and timestamp +960 (48 kHz) each. The payload is a fake Opus
packet of 80–160 bytes (sizes drawn from a fixed seed, so every run sends the same sizes) whose first 8 bytes are
the send time: 0xF8 (a valid Opus TOC byte: CELT fullband 20 ms, mono, one frame) then the low 56 bits of
``time.monotonic_ns()`` big-endian, read just before ``sendto`` (``bench/stream_load.c`` reads it back).

Orders on stdin, one JSON object per line:
``{"count": [FROM_NS, TO_NS]}`` -> ``{"sent_in": n, "sent": total, "late_ms": {"p50", "p99", "max"}}`` (packets
whose send time is in [FROM, TO), and how late each left against its schedule); ``{"exit": true}`` or end of stdin
stops it. It prints ``{"sending": true, "pid": ...}`` once the first packet is out.
"""

from __future__ import annotations

import argparse
import os
import random
import select
import socket
import struct
import sys
import time
from array import array
from bisect import bisect_left
from typing import Any

import orjson

PACKET_NS = 20_000_000
RTP_HEADER = struct.Struct("!BBHII")
STAMP = struct.Struct("!Q")
TOC = 0xF8
STAMP_MASK = (1 << 56) - 1
HARD_DEADLINE_S = 1800.0


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()


def payload_sizes(seed: int, count: int = 4096) -> list[int]:
    rng = random.Random(seed)  # noqa: S311 - payload sizes, not secrets
    return [rng.randint(80, 160) for _ in range(count)]


class Sender:
    def __init__(self, target: tuple[str, int], ssrc: int, seed: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(target)
        self.ssrc = ssrc
        self.sizes = payload_sizes(seed)
        self.filler = bytes(range(256))
        self.seq = 0
        self.timestamp = 0
        self.sent_ns = array("q")
        self.late_ns = array("q")

    def send(self, due_ns: int) -> None:
        size = self.sizes[self.seq % len(self.sizes)]
        header = RTP_HEADER.pack(
            0x80, 111 | (0x80 if self.seq == 0 else 0), self.seq & 0xFFFF, self.timestamp, self.ssrc
        )
        tail = self.filler[: size - STAMP.size]
        now = time.monotonic_ns()
        self.sock.send(header + STAMP.pack(TOC << 56 | (now & STAMP_MASK)) + tail)
        self.sent_ns.append(now)
        self.late_ns.append(now - due_ns)
        self.seq += 1
        self.timestamp = (self.timestamp + 960) & 0xFFFFFFFF

    def count(self, from_ns: int, to_ns: int) -> dict[str, Any]:
        inside = bisect_left(self.sent_ns, to_ns) - bisect_left(self.sent_ns, from_ns)
        late = sorted(
            late for sent, late in zip(self.sent_ns, self.late_ns, strict=True) if from_ns <= sent < to_ns
        ) or [0]
        return {
            "sent_in": inside,
            "sent": len(self.sent_ns),
            "late_ms": {
                "p50": round(late[len(late) // 2] / 1e6, 2),
                "p99": round(late[min(len(late) - 1, int(len(late) * 0.99))] / 1e6, 2),
                "max": round(late[-1] / 1e6, 2),
            },
        }


def obey(sender: Sender, line: bytes) -> bool:
    """One order; False to stop."""
    order = orjson.loads(line)
    if "count" in order:
        from_ns, to_ns = (int(v) for v in order["count"])
        say(sender.count(from_ns, to_ns))
        return True
    return not order.get("exit")


def run(sender: Sender) -> None:
    stdin = sys.stdin.fileno()
    pending = b""
    started = time.monotonic_ns()
    due = started
    deadline = started + int(HARD_DEADLINE_S * 1e9)
    while due < deadline:
        now = time.monotonic_ns()
        if now >= due:
            sender.send(due)
            if sender.seq == 1:
                say({"sending": True, "pid": os.getpid()})
            due += PACKET_NS
            continue
        readable, _, _ = select.select([stdin], [], [], (due - now) / 1e9)
        if not readable:
            continue
        data = os.read(stdin, 65536)
        if not data:
            return
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip() and not obey(sender, line):
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--to", required=True, help="HOST:PORT of the RTP input")
    parser.add_argument("--ssrc", type=int, required=True)
    parser.add_argument("--seed", type=int, default=111, help="payload sizes are drawn from this seed")
    args = parser.parse_args()
    host, _, port = args.to.rpartition(":")
    run(Sender((host, int(port)), args.ssrc, args.seed))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
