"""Audio bench, the load side: many light WebRTC listeners of one Janus Streaming mountpoint, in one process.

Started by ``bench/media.py`` inside its network namespace (it inherits it), never on its own in practice. It
follows orders on stdin and answers on stdout, one JSON object per line:

- ``{"janus": url, "api_secret": s, "mountpoint": id, "fast": true}`` first (the secret never goes on a command
  line; ``fast`` false keeps every packet on aiortc's usual path);
- ``{"add": n, "concurrency": c, "timeout": s}``: join ``n`` more listeners, ``c`` at a time, each the way the
  app's ``JanusMedia.open_listen`` / ``answer_listen`` does it (a Streaming handle, ``watch``, Janus's offer
  answered by aiortc, ``start`` with the answer), on one Janus session of this process; answer
  ``{"added": k, "failed": f, "errors": [...], "join_ms": [...]}`` once each has received its first packet (join
  = attaching its handle → its first RTP packet in) or failed;
- ``{"count": true}``: answer ``{"packets": total RTP packets received, "listeners": n, "silent": k, "min": a,
  "max": b}``, where ``k`` listeners received nothing since the previous count, and ``a`` and ``b`` are the fewest
  and most packets a listener received since then;
- ``{"exit": true}`` or the end of stdin: close everything and leave.

The listeners are as light as a real WebRTC receiver can be in Python: aiortc does ICE (it answers Janus's checks and
checks consent every 5 s), the DTLS handshake and SRTP decryption for real, so to Janus they are ordinary WebRTC
peers. But RTP packets are only counted once decrypted, never parsed, jitter-buffered or decoded (decoding costs
~250 µs per packet: docs/ARCHITECTURE.md, "Testing real audio"). So they send no RTCP receiver reports either: aiortc
reports only on streams it has parsed packets of.

How packets are counted:

- until a listener's first packet, ``RTCDtlsTransport._handle_rtp_data`` (replaced by a counter) counts them at
  the end of aiortc's usual path (aioice's queue, the DTLS transport's receiving task, SRTP);
- from then on a fast path in aioice's ``StunProtocol.datagram_received`` takes each SRTP packet as it comes off
  the socket, decrypts it with the listener's own SRTP session and counts it: no attempt to parse it as STUN, no
  queue, no task wake-up. STUN, DTLS and RTCP still take the usual path. ``--slow-clients`` (bench/media.py)
  keeps every packet on the usual path, for comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys
import time
from typing import Any

import orjson
import pylibsrtp
import uvloop
from aioice import Connection
from aioice.ice import StunProtocol
from aiortc import RTCConfiguration, RTCDtlsTransport, RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import is_rtcp

from salon.adapters.janus.plugins import STREAMING, Streaming
from salon.adapters.janus.transport import JanusSession, JanusTransport

PR_SET_PDEATHSIG = 1
LIFETIME_S = 1800.0  # whatever happens, this process leaves by itself after this long

_counts: dict[RTCDtlsTransport, int] = {}
_first: dict[RTCDtlsTransport, asyncio.Future[int]] = {}
_fast: dict[Connection, RTCDtlsTransport] = {}
_total = 0


def _count(transport: RTCDtlsTransport) -> None:
    global _total
    _total += 1
    n = _counts.get(transport, 0)
    _counts[transport] = n + 1
    if n == 0 and (first := _first.get(transport)) is not None and not first.done():
        first.set_result(time.monotonic_ns())


async def _count_rtp(self: RTCDtlsTransport, data: bytes, arrival_time_ms: int) -> None:
    _count(self)


_stun_datagram = StunProtocol.datagram_received


def _fast_datagram(self: StunProtocol, data: bytes | str, addr: tuple[Any, ...]) -> None:
    if isinstance(data, bytes) and 127 < data[0] < 192:  # RTP or RTCP, never STUN (RFC 7983)
        transport = _fast.get(self.receiver)
        if transport is None or is_rtcp(data):
            self.receiver.data_received(data, self.local_candidate.component)  # what aioice does with it
            return
        try:
            transport._rx_srtp.unprotect(data)
        except pylibsrtp.Error:
            return  # as aiortc does: a packet that fails authentication is dropped
        _count(transport)
        return
    _stun_datagram(self, data, addr)


RTCDtlsTransport._handle_rtp_data = _count_rtp  # type: ignore[method-assign]
StunProtocol.datagram_received = _fast_datagram  # type: ignore[method-assign]


def say(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(orjson.dumps(message) + b"\n")
    sys.stdout.buffer.flush()


class Listeners:
    def __init__(self, session: JanusSession, mountpoint: int, *, fast: bool) -> None:
        self.session = session
        self.mountpoint = mountpoint
        self.fast = fast
        self.peers: list[RTCPeerConnection] = []
        self.transports: list[RTCDtlsTransport] = []
        self._last: dict[RTCDtlsTransport, int] = {}

    async def join(self, timeout: float) -> int:  # noqa: ASYNC109 - one bound for the whole join
        """One listener, joined like ``JanusMedia`` joins one; ns from ``watch`` sent to the first packet."""
        started = time.monotonic_ns()
        async with asyncio.timeout(timeout):
            streaming = Streaming(await self.session.attach(STREAMING))
            offer = await streaming.watch(self.mountpoint)
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # never a public STUN server
            self.peers.append(pc)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
            await pc.setLocalDescription(await pc.createAnswer())
            # One stream, or several (the per-speaker mix's multistream mountpoint): bundled on one transport.
            transport = pc.getReceivers()[0].transport
            first: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            _first[transport] = first
            await streaming.start({"type": "answer", "sdp": pc.localDescription.sdp})
            arrived = await first
            del _first[transport]
            self.transports.append(transport)
            if self.fast:
                _fast[transport.transport._connection] = transport  # DTLS is up: its SRTP session exists
            return arrived - started

    async def add(self, n: int, concurrency: int, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        gate = asyncio.Semaphore(concurrency)
        errors: list[str] = []
        joins: list[float] = []

        async def one() -> None:
            async with gate:
                try:
                    joins.append((await self.join(timeout)) / 1e6)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])

        await asyncio.gather(*(one() for _ in range(n)))
        return {"added": len(joins), "failed": len(errors), "errors": errors[:5], "join_ms": joins}

    def count(self) -> dict[str, Any]:
        deltas = []
        for transport in self.transports:
            now = _counts.get(transport, 0)
            deltas.append(now - self._last.get(transport, 0))
            self._last[transport] = now
        return {
            "packets": _total,
            "listeners": len(self.transports),
            "silent": sum(d == 0 for d in deltas),
            "min": min(deltas, default=0),
            "max": max(deltas, default=0),
        }

    async def close(self) -> None:
        await asyncio.gather(*(pc.close() for pc in self.peers), return_exceptions=True)


async def orders() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    first = orjson.loads(await reader.readline())
    async with JanusTransport(first["janus"], api_secret=first["api_secret"]) as janus:
        session = await janus.create_session(event_timeout=30.0)
        listeners = Listeners(session, int(first["mountpoint"]), fast=bool(first.get("fast", True)))
        say({"ready": True})
        try:
            while line := await reader.readline():
                order = orjson.loads(line)
                if "add" in order:
                    say(await listeners.add(int(order["add"]), int(order["concurrency"]), float(order["timeout"])))
                elif "count" in order:
                    say(listeners.count())
                elif "exit" in order:
                    break
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10.0):
                    await listeners.close()
                    await session.destroy()


def main() -> None:
    # Die with the orchestrator even if it is SIGKILLed (the bench also stops this process by PID).
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGALRM, lambda *_: sys.exit(3))
    signal.alarm(int(LIFETIME_S))
    uvloop.run(orders())


if __name__ == "__main__":
    main()
