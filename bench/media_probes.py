"""Audio bench, the measuring instruments: packet-level probes on aiortc, for ``bench/media.py``.

aiortc hands decoded audio to the application only after its jitter buffer has held 4 packets (80 ms: its audio
``JitterBuffer`` prefetches 4), so a tone's onset timed on decoded frames says more about aiortc than about the
server. These probes time packets instead, on the wire side of aiortc:

- ``install()`` wraps, once per process and for every instance, two aiortc methods:
  - ``RTCDtlsTransport._send_rtp``: every RTP packet a sender hands to the network, in clear (SRTP is applied
    inside). The time is read once the original returned, i.e. once the encrypted datagram went to the socket.
  - ``RTCRtpReceiver._handle_rtp_packet``: every RTP packet a receiver takes in, after SRTP and RTP parsing and
    before the jitter buffer. The time is read first thing.
  A transport or receiver with a probe registered (``watch_sent``, ``watch_received``) hands each packet to it; every
  receiver's first packet time is kept (``first_packet_ns``), which times a join.
  ``RTCDtlsTransport._set_state`` is wrapped too: when each transport started DTLS (its ICE had connected) and
  finished it (``transport_times``).
- ``PacketLevels`` is such a probe: it decodes each packet's Opus payload with a decoder of its own (libopus
  through PyAV, as aiortc does) and keeps (time, RMS level) per packet. ``onset`` finds the first packet at or
  after a time whose audio reaches a level — the same test at the speaker's sending side and at the listener's
  receiving side, so the codec's own delays (Opus looks 6.5 ms ahead) count once per encode, as on a real path.

``time.monotonic_ns()`` throughout: one clock for every thread and process of the machine.
"""

from __future__ import annotations

import bisect
import math
import time
import weakref
from collections.abc import Callable
from typing import Any, Final, cast

import numpy as np
from aiortc import RTCDtlsTransport, RTCRtpReceiver
from aiortc.codecs.opus import OpusDecoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket, is_rtcp
from av import AudioFrame

__all__ = [
    "SILENCE_DBFS",
    "PacketLevels",
    "first_packet_ns",
    "install",
    "transport_times",
    "watch_received",
    "watch_sent",
]

SILENCE_DBFS: Final = -120.0

SentProbe = Callable[[RtpPacket, int], None]
ReceivedProbe = Callable[[RtpPacket, int], None]

_sent_probes: weakref.WeakKeyDictionary[RTCDtlsTransport, SentProbe] = weakref.WeakKeyDictionary()
_received_probes: weakref.WeakKeyDictionary[RTCRtpReceiver, ReceivedProbe] = weakref.WeakKeyDictionary()
_first_packet: weakref.WeakKeyDictionary[RTCRtpReceiver, int] = weakref.WeakKeyDictionary()
_transport_states: weakref.WeakKeyDictionary[RTCDtlsTransport, dict[str, int]] = weakref.WeakKeyDictionary()
_installed = False


def install() -> None:
    """Wrap aiortc's send, receive and DTLS-state methods (idempotent; every instance of this process)."""
    global _installed
    if _installed:
        return
    _installed = True
    send_rtp = RTCDtlsTransport._send_rtp
    handle_rtp = RTCRtpReceiver._handle_rtp_packet
    set_state = RTCDtlsTransport._set_state

    async def timed_send_rtp(self: RTCDtlsTransport, data: bytes) -> None:
        await send_rtp(self, data)
        probe = _sent_probes.get(self)
        if probe is not None and not is_rtcp(data):
            probe(RtpPacket.parse(data), time.monotonic_ns())

    async def timed_handle_rtp(self: RTCRtpReceiver, packet: RtpPacket, arrival_time_ms: int) -> None:
        now = time.monotonic_ns()
        if self not in _first_packet:
            _first_packet[self] = now
        await handle_rtp(self, packet, arrival_time_ms=arrival_time_ms)
        probe = _received_probes.get(self)
        if probe is not None:
            probe(packet, now)

    def timed_set_state(self: RTCDtlsTransport, state: Any) -> None:
        _transport_states.setdefault(self, {}).setdefault(str(state.name).lower(), time.monotonic_ns())
        set_state(self, state)

    RTCDtlsTransport._send_rtp = timed_send_rtp  # type: ignore[method-assign]
    RTCRtpReceiver._handle_rtp_packet = timed_handle_rtp  # type: ignore[method-assign]
    RTCDtlsTransport._set_state = timed_set_state  # type: ignore[method-assign]


def watch_sent(transport: RTCDtlsTransport, probe: SentProbe) -> None:
    """``probe(packet, sent_ns)`` for every RTP packet sent on ``transport`` from now on."""
    _sent_probes[transport] = probe


def watch_received(receiver: RTCRtpReceiver, probe: ReceivedProbe) -> None:
    """``probe(packet, arrived_ns)`` for every RTP packet ``receiver`` takes in from now on."""
    _received_probes[receiver] = probe


def first_packet_ns(receiver: RTCRtpReceiver) -> int | None:
    """When ``receiver`` took in its first RTP packet (monotonic ns), or None."""
    return _first_packet.get(receiver)


def transport_times(transport: RTCDtlsTransport) -> dict[str, int]:
    """When ``transport`` entered each DTLS state (``connecting``: ICE had connected; ``connected``), in ns."""
    return dict(_transport_states.get(transport, {}))


def _dbfs(value: float) -> float:
    return max(SILENCE_DBFS, 20.0 * math.log10(value)) if value > 0 else SILENCE_DBFS


class PacketLevels:
    """Time and decoded RMS level (dBFS; a full-scale square wave is 0) of every packet of one RTP stream."""

    def __init__(self) -> None:
        self._decoder = OpusDecoder()
        self.times: list[int] = []
        self.levels: list[float] = []
        self.sequence_numbers: list[int] = []

    def __call__(self, packet: RtpPacket, at_ns: int) -> None:
        frames = self._decoder.decode(JitterFrame(packet.payload, packet.timestamp))
        if frames:
            pcm = np.concatenate([cast(AudioFrame, f).to_ndarray().reshape(-1) for f in frames]) / 32768.0
            level = _dbfs(float(np.sqrt(np.mean(np.square(pcm))))) if len(pcm) else SILENCE_DBFS
        else:
            level = SILENCE_DBFS
        self.times.append(at_ns)
        self.levels.append(level)
        self.sequence_numbers.append(packet.sequence_number)

    def __len__(self) -> int:
        return len(self.times)

    def onset(self, after_ns: int, min_dbfs: float) -> int | None:
        """The time of the first packet at or after ``after_ns`` whose level reaches ``min_dbfs``; None if none yet."""
        for i in range(bisect.bisect_left(self.times, after_ns), len(self.times)):
            if self.levels[i] >= min_dbfs:
                return self.times[i]
        return None

    def quiet_within(self, start_ns: int, end_ns: int, max_dbfs: float) -> tuple[int, int]:
        """Of the packets timed in [``start_ns``, ``end_ns``): how many were below ``max_dbfs``, and how many in all."""
        first, last = bisect.bisect_left(self.times, start_ns), bisect.bisect_left(self.times, end_ns)
        window = self.levels[first:last]
        return sum(level < max_dbfs for level in window), len(window)

    def quiet_before(self, at_ns: int, packets: int, max_dbfs: float) -> bool:
        """Whether the ``packets`` packets before ``at_ns`` were all below ``max_dbfs`` (an onset from silence)."""
        end = bisect.bisect_left(self.times, at_ns)
        window = self.levels[max(0, end - packets) : end]
        return len(window) == packets and max(window) < max_dbfs
