"""Broadcast stage bench (bench layer): when each of Janus's forwarded RTP packets passed the loopback interface.

Started by ``bench/broadcast_stage.py`` as its own process, inside the bench's network namespace. An ``AF_PACKET``
socket on ``lo`` with a classic BPF filter (IPv4, UDP, unfragmented, destination port ``--port``: the broadcast
worker's RTP port) takes in only those packets, each with the kernel's timestamp (``SO_TIMESTAMPNS``:
``CLOCK_REALTIME``, the clock the load client's ``--seq-log`` reads). On ``lo`` the kernel (6.18 here) shows each
packet once, as arriving (``PACKET_HOST``), stamped when ``loopback_xmit`` queues it — still inside Janus's
``sendto``; were a leaving copy (``PACKET_OUTGOING``) shown too, the earlier of the two is kept. That stamp is the
forward time. Only the RTP header is parsed (sequence number, SSRC, payload type): it stays in clear with SRTP.

stdout: ``{"ready": true}``. Orders on stdin, one JSON object per line: ``{"report": [FROM_NS, TO_NS]}`` ->
``{"report": {"packets": [[seq, ns], ...], "ssrcs": [...], "pkttypes": {...}}}`` (packets forwarded in [FROM,
TO), the earliest copy of each); ``{"exit": true}`` or end of stdin stops it. Dies with its parent
(``PR_SET_PDEATHSIG``) and after 30 minutes whatever happens.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import select
import signal
import socket
import struct
import sys

import orjson

ETH_P_IP = 0x0800
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
PR_SET_PDEATHSIG = 1
ETH_IP_UDP = 14 + 20 + 8  # the shortest frame that holds an RTP header's first bytes after these (options aside)
RTP_PT_OPUS = 111


def udp_dst_port_filter(port: int) -> list[tuple[int, int, int, int]]:
    """``tcpdump -dd 'ip and udp dst port PORT'`` on an Ethernet-framed interface (``lo`` is one), IPv4 only."""
    return [
        (0x28, 0, 0, 12),  # ldh [12]: the EtherType
        (0x15, 0, 8, ETH_P_IP),  # jeq IPv4, else drop
        (0x30, 0, 0, 23),  # ldb [23]: the IP protocol
        (0x15, 0, 6, socket.IPPROTO_UDP),  # jeq UDP, else drop
        (0x28, 0, 0, 20),  # ldh [20]: flags + fragment offset
        (0x45, 4, 0, 0x1FFF),  # jset a fragment's offset: drop
        (0xB1, 0, 0, 14),  # ldxb 4*([14]&0xf): the IP header's length
        (0x48, 0, 0, 16),  # ldh [x + 16]: the UDP destination port
        (0x15, 0, 1, port),  # jeq PORT, else drop
        (0x06, 0, 0, 0x40000),  # ret: the whole packet
        (0x06, 0, 0, 0),  # ret 0: drop
    ]


def open_capture(port: int) -> tuple[socket.socket, ctypes.Array[ctypes.c_char]]:
    """The filtered socket (protocol 0 until bound, so that nothing unfiltered is queued before the filter)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    program = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *op) for op in udp_dst_port_filter(port)))
    fprog = struct.pack("HL", len(program.raw) // 8, ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind(("lo", ETH_P_IP))
    return sock, program  # the program's buffer must outlive the call that attached it


def rtp_header(frame: bytes, port: int) -> tuple[int, int] | None:
    """(seq, ssrc) of an Opus RTP packet to ``port`` (checked again: the filter is the kernel's, this the bench's)."""
    if len(frame) < ETH_IP_UDP + 12:
        return None
    ihl = (frame[14] & 0x0F) * 4
    udp = 14 + ihl
    if struct.unpack_from("!H", frame, udp + 2)[0] != port:
        return None
    rtp = udp + 8
    if len(frame) < rtp + 12 or frame[rtp] >> 6 != 2 or frame[rtp + 1] & 0x7F != RTP_PT_OPUS:
        return None
    seq, _ts, ssrc = struct.unpack_from("!HII", frame, rtp + 2)
    return int(seq), int(ssrc)


def say(message: dict[str, object]) -> None:
    sys.stdout.write(orjson.dumps(message).decode() + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="the broadcast worker's RTP port on 127.0.0.1")
    args = parser.parse_args()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.alarm(1800)
    sock, _program = open_capture(args.port)
    packets: list[tuple[int, int]] = []  # (seq, ns) of every copy
    ssrcs: set[int] = set()
    pkttypes: dict[str, int] = {}  # how many frames of each kind (0 arriving, 4 leaving) the filter let through
    pending = b""
    say({"ready": True})
    cmsg_space = socket.CMSG_SPACE(16)
    while True:
        readable, _, _ = select.select([sock, sys.stdin], [], [], 1.0)
        if sock in readable:
            frame, ancillary, _flags, address = sock.recvmsg(2048, cmsg_space)
            pkttype = int(address[2])
            pkttypes[str(pkttype)] = pkttypes.get(str(pkttype), 0) + 1
            header = rtp_header(frame, args.port)
            stamp = next((data for level, kind, data in ancillary if kind == SO_TIMESTAMPNS), None)
            if header is not None and stamp is not None:
                seconds, nanos = struct.unpack("qq", stamp[:16])
                packets.append((header[0], seconds * 1_000_000_000 + nanos))
                ssrcs.add(header[1])
        if sys.stdin in readable:
            chunk = os.read(sys.stdin.fileno(), 4096)
            if not chunk:
                return 0
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                order = orjson.loads(line)
                if "exit" in order:
                    return 0
                if "report" in order:
                    start, end = (int(v) for v in order["report"])
                    earliest: dict[int, int] = {}
                    for seq, ns in packets:
                        if start <= ns < end and ns < earliest.get(seq, end):
                            earliest[seq] = ns
                    chosen = sorted(([seq, ns] for seq, ns in earliest.items()), key=lambda p: p[1])
                    say({"report": {"packets": chosen, "ssrcs": sorted(ssrcs), "pkttypes": pkttypes}})


if __name__ == "__main__":
    sys.exit(main())
