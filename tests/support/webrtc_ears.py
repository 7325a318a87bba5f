"""Test support: small pieces every real-sound test through Janus needs — an aiortc peer with no STUN, SDP both ways,
waiting for ears to hear a tone or enough audio, and a ticker measuring how late the test's own event loop ran (its
ears are this process).

Shared by the tests in tests/integration/media that drive the media port (test_interpretation_channels.py,
test_speaker_mix.py) and by bench/speaker_mix.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from salon.app.ports import Jsep
from salon.client.audio import ToneMeter

HEARD_DBFS = -30.0  # a tone sent at amplitude 0.3 arrives near -10.5 dBFS
JUDGED_S = 1.0  # each step is judged on this much steady sound
STEP_TIMEOUT = 10.0


def no_stun() -> RTCConfiguration:
    # aiortc asks a public STUN server by default: never here.
    return RTCConfiguration(iceServers=[])


def description(jsep: Jsep | None) -> RTCSessionDescription:
    assert jsep is not None, "Janus sent no SDP"
    return RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"])


def local_jsep(pc: RTCPeerConnection) -> Jsep:
    # aiortc gathers every candidate before setLocalDescription returns: the SDP holds them, no trickle needed.
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


async def settle(ears: dict[str, ToneMeter], since: float, seconds: float = JUDGED_S + 0.3) -> None:
    """Wait until every ear has received ``seconds`` of audio after the monotonic time ``since``."""
    async with asyncio.timeout(STEP_TIMEOUT):
        for meter in ears.values():
            await meter.wait_until(lambda m: m.last_frame_at is not None and m.last_frame_at - since >= seconds)


async def onset(ears: ToneMeter, frequency: float, after: float) -> float:
    """When ``frequency`` was first heard (above HEARD_DBFS) after the monotonic time ``after``; waits for it."""
    async with asyncio.timeout(STEP_TIMEOUT):
        await ears.wait_until(lambda m: m.onset(frequency, after=after, min_dbfs=HEARD_DBFS) is not None)
    found = ears.onset(frequency, after=after, min_dbfs=HEARD_DBFS)
    assert found is not None
    return found


class LoopLag:
    """How late this test's own event loop ran during a block (the worst lateness of a 10 ms ticker): the ears are
    this process, so on a machine whose two cores other work keeps busy, a sound can be there seconds before they
    notice. A timing bound is checked on the time measured minus this, which each run prints."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _tick(self) -> None:
        while True:
            due = time.monotonic() + 0.01
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.monotonic() - due)
