"""Bench layer: what a broadcast worker pays to decrypt one packet of a room's SRTP forward (pylibsrtp,
AES_CM_128_HMAC_SHA1_80, the suite Salon forwards with). docs/BENCHMARKS.md, "SRTP on the forward".

    .venv/bin/python bench/srtp_unprotect.py [--packets 200000]
"""

from __future__ import annotations

import argparse
import os
import struct
import time

from pylibsrtp import Policy, Session

RTP_HEADER = struct.Struct("!BBHII")
PAYLOAD = bytes(160)  # a 20 ms Opus packet at ~64 kbit/s: 172 bytes of RTP


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=200_000)
    n = parser.parse_args().packets
    key = os.urandom(30)
    sender = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    receiver = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    packets = [sender.protect(RTP_HEADER.pack(0x80, 111, i & 0xFFFF, i * 960, 1234) + PAYLOAD) for i in range(n)]
    start = time.perf_counter()
    for packet in packets:
        receiver.unprotect(packet)
    print(f"unprotect: {(time.perf_counter() - start) / n * 1e6:.2f} us per packet ({n} packets)")


if __name__ == "__main__":
    main()
