"""Real sound through a real Janus: aiortc speakers publish tones into an AudioBridge room, its mix is forwarded to a
Streaming mountpoint, an aiortc listener watches it, and everyone's ears (FFT) are checked.

Everything runs inside a private network namespace (``salon0`` = 198.18.0.1; tests/support/netns.py): WebRTC needs a
non-loopback address, and tests may use only loopback or namespaces they create. Janus's HTTP API, the mountpoint's
RTP input and the forward stay on the namespace's 127.0.0.1. The Janus client adapter is used directly, not the app.

Timings are printed (run with ``-s``), not asserted: the time from a listener's ``start`` to its first frame, and the
latency of a tone's onset from the speaker's sender to each ear. Every latency includes aiortc's own receive path —
a jitter buffer that holds 4 packets (80 ms) before it hands the first one out — which
``test_aiortc_alone_baseline`` measures without Janus, for subtraction.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription

from salon.adapters.janus.api import Jsep, Subscription
from salon.adapters.janus.config import ManagedJanusConfig
from salon.adapters.janus.plugins import AUDIOBRIDGE, STREAMING, AudioBridge, Streaming, janus_id
from salon.adapters.janus.transport import JanusSession, JanusTransport
from salon.client.audio import FRAME_SECONDS, ToneMeter, ToneTrack, packets_received
from tests.support.janus import managed_janus
from tests.support.netns import ADDRESS, INTERFACE, NetNamespace

LOW, HIGH = 440.0, 880.0
HEARD_DBFS = -30.0  # a tone sent at amplitude 0.3 arrives near -10.5 dBFS
MARGIN_DB = 30.0  # how much quieter a speaker's own tone must be in what they hear than the other's
DROPOUT_DB = 6.0  # a frame this far below the median level of a steady tone lost (some of) its audio
PREBUFFER = 1  # 1–2 (docs/ARCHITECTURE.md, "Media plane"); see the dropouts printed
HEARING_S = 1.0  # how much steady tone each ear is judged on
HEARING_FRAMES = round(HEARING_S / FRAME_SECONDS)
STEP_TIMEOUT = 8.0  # any single wait
WHOLE_TIMEOUT = 40.0


def no_stun() -> RTCConfiguration:
    # aiortc asks a public STUN server by default: never here.
    return RTCConfiguration(iceServers=[])


def description(jsep: Jsep | None) -> RTCSessionDescription:
    assert jsep is not None, "Janus sent no SDP"
    return RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"])


def local_jsep(pc: RTCPeerConnection) -> Jsep:
    # aiortc gathers every candidate before setLocalDescription returns: the SDP holds them, no trickle needed.
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


async def heard_for(meter: ToneMeter, since: float, seconds: float) -> None:
    """Wait until ``meter`` has received ``seconds`` of audio after the monotonic time ``since``."""
    async with asyncio.timeout(STEP_TIMEOUT):
        await meter.wait_until(lambda m: m.last_frame_at is not None and m.last_frame_at - since >= seconds)


async def onset(meter: ToneMeter, frequency: float, after: float) -> float:
    """When ``meter`` first heard ``frequency`` after ``after`` (monotonic)."""
    async with asyncio.timeout(STEP_TIMEOUT):
        await meter.wait_until(lambda m: m.onset(frequency, after=after, min_dbfs=HEARD_DBFS) is not None)
    found = meter.onset(frequency, after=after, min_dbfs=HEARD_DBFS)
    assert found is not None
    return found


def hearing(ears: ToneMeter, frequency: float) -> tuple[float, int]:
    """The median level of ``frequency`` per frame over the last ``HEARING_S``, and the count of dropouts: a median
    is not dragged down by the odd lost 20 ms, which ``DROPOUT_DB`` counts instead."""
    levels = ears.frame_tone_levels(frequency, HEARING_S)
    median = statistics.median(levels)
    return median, sum(level < median - DROPOUT_DB for level in levels)


async def first_plugin_event(events: Subscription, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(STEP_TIMEOUT):
        async for event in events:
            if event.data.get("audiobridge") == kind:
                return event.data
    raise AssertionError(f"the subscription ended before a {kind!r} event")


@dataclass
class Speaker:
    name: str
    tone: ToneTrack
    ears: ToneMeter  # what the speaker hears: the room's mix minus themselves
    events: Subscription  # their AudioBridge handle's events (talking, joined…)
    participant_id: int


@dataclass
class Listener:
    ears: ToneMeter
    receiver: RTCRtpReceiver
    started_at: float  # just before `start` was sent


async def join_speaker(
    stack: contextlib.AsyncExitStack, session: JanusSession, room: int, name: str, tone: ToneTrack
) -> Speaker:
    handle = await session.attach(AUDIOBRIDGE)
    events = handle.subscribe()
    stack.callback(events.close)
    pc = RTCPeerConnection(no_stun())
    stack.push_async_callback(pc.close)
    pc.addTrack(tone)  # sendrecv: the speaker also receives the mix
    await pc.setLocalDescription(await pc.createOffer())
    joined = await AudioBridge(handle).join(room, local_jsep(pc), display=name, muted=False, prebuffer=PREBUFFER)
    await pc.setRemoteDescription(description(joined.jsep))
    [receiver] = pc.getReceivers()
    ears = await stack.enter_async_context(ToneMeter(receiver.track))
    return Speaker(name, tone, ears, events, joined.participant_id)


async def watch(stack: contextlib.AsyncExitStack, session: JanusSession, mountpoint: int) -> Listener:
    streaming = Streaming(await session.attach(STREAMING))
    offer = await streaming.watch(mountpoint)
    pc = RTCPeerConnection(no_stun())
    stack.push_async_callback(pc.close)
    await pc.setRemoteDescription(description(offer))
    await pc.setLocalDescription(await pc.createAnswer())
    [receiver] = pc.getReceivers()
    ears = await stack.enter_async_context(ToneMeter(receiver.track))
    started_at = time.monotonic()
    await streaming.start(local_jsep(pc))
    return Listener(ears, receiver, started_at)


@contextlib.asynccontextmanager
async def janus_in_namespace(folder: Path) -> AsyncIterator[tuple[JanusSession, str]]:
    config = ManagedJanusConfig(interface=ADDRESS, ice_enforce_list=INTERFACE)
    async with (
        managed_janus(folder, config) as janus,
        JanusTransport(janus.url, api_secret=janus.api_secret) as transport,
    ):
        info = await transport.info()
        assert info.get("local-ip") == ADDRESS, info.get("local-ip")
        async with await transport.create_session(event_timeout=STEP_TIMEOUT) as session:
            yield session, janus.admin_key


async def sound_through_janus(folder: Path) -> dict[str, float]:
    numbers: dict[str, float] = {}
    async with janus_in_namespace(folder) as (session, admin_key), contextlib.AsyncExitStack() as stack:
        room, mountpoint = janus_id("sound-room"), janus_id("sound-mountpoint")
        admin = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key=admin_key)
        await admin.create(room, audiolevel_event=True, audio_active_packets=10, audio_level_average=40)
        port = await Streaming(await session.attach(STREAMING), admin_key=admin_key).create(mountpoint, port=0)
        await admin.rtp_forward(room, host="127.0.0.1", port=port)

        # The listener first: the forward is always on, so it hears the empty room's silence at once.
        listener = await watch(stack, session, mountpoint)
        async with asyncio.timeout(STEP_TIMEOUT):
            await listener.ears.wait_until(lambda m: m.frames > 0)
        first_frame_at = listener.ears.first_frame_at
        assert first_frame_at is not None
        numbers["listener start → first frame ms"] = (first_frame_at - listener.started_at) * 1000

        # Speaker 1 joins silent; once its media flows both ways, it starts the 440 Hz tone at a known time.
        one = await join_speaker(stack, session, room, "one", ToneTrack(None))
        async with asyncio.timeout(STEP_TIMEOUT):
            await one.ears.wait_until(lambda m: m.frames >= 10)
        quiet = listener.ears.level_dbfs(0.2)
        one.tone.set_frequency(LOW)
        async with asyncio.timeout(STEP_TIMEOUT):
            await listener.ears.wait_until(lambda _: one.tone.changed_at is not None)
        assert one.tone.changed_at is not None
        heard = await onset(listener.ears, LOW, one.tone.changed_at)
        numbers["speaker → listener onset ms"] = (heard - one.tone.changed_at) * 1000

        talking = await first_plugin_event(one.events, "talking")
        assert talking.get("id") == one.participant_id
        await heard_for(listener.ears, heard, 0.6)
        dominant = listener.ears.dominant_frequency(0.5)
        assert dominant is not None
        assert abs(dominant - LOW) <= 10, dominant
        assert listener.ears.level_dbfs(0.5) > quiet + 40, (listener.ears.level_dbfs(0.5), quiet)
        assert listener.ears.level_dbfs(0.5) > HEARD_DBFS
        numbers["listener level with one speaker dBFS"] = listener.ears.level_dbfs(0.5)
        numbers["silence before dBFS"] = quiet

        # Speaker 2 joins silent, then plays 880 Hz: the listener hears both, each speaker only the other.
        two = await join_speaker(stack, session, room, "two", ToneTrack(None))
        async with asyncio.timeout(STEP_TIMEOUT):
            await two.ears.wait_until(lambda m: m.frames >= 10)
        two.tone.set_frequency(HIGH)
        async with asyncio.timeout(STEP_TIMEOUT):
            await two.ears.wait_until(lambda _: two.tone.changed_at is not None)
        assert two.tone.changed_at is not None
        to_listener = await onset(listener.ears, HIGH, two.tone.changed_at)
        to_speaker = await onset(one.ears, HIGH, two.tone.changed_at)
        numbers["speaker → listener onset ms (2nd)"] = (to_listener - two.tone.changed_at) * 1000
        numbers["speaker → speaker onset ms"] = (to_speaker - two.tone.changed_at) * 1000

        settled = max(to_listener, to_speaker)
        for ears in (listener.ears, one.ears, two.ears):
            await heard_for(ears, settled, HEARING_S + 0.1)
        for frequency in (LOW, HIGH):
            level, dropped = hearing(listener.ears, frequency)
            numbers[f"listener hears {frequency:g} Hz dBFS"] = level
            numbers[f"listener dropouts in {frequency:g} Hz (of {HEARING_FRAMES} frames)"] = dropped
            assert level > HEARD_DBFS, (frequency, level, listener.ears.stats())
        for me, other in ((one, HIGH), (two, LOW)):
            mine = me.tone.frequency
            assert mine is not None
            # Both judged per frame (the median): a few glitched frames under load spread broadband energy, and
            # 880 Hz is 440 Hz's second harmonic, so a whole-window level once found the other's clicks at -27 dBFS
            # in "two"'s own tone. Hearing oneself would be in every frame, which the median still catches.
            (hears_other, dropped), (hears_self, _) = hearing(me.ears, other), hearing(me.ears, mine)
            numbers[f"speaker {me.name} hears the other dBFS"] = hears_other
            numbers[f"speaker {me.name} hears self dBFS"] = hears_self
            numbers[f"speaker {me.name} dropouts (of {HEARING_FRAMES} frames)"] = dropped
            numbers[f"speaker {me.name} sender max lateness ms"] = me.tone.max_lateness * 1000
            assert hears_other > HEARD_DBFS, (me.name, hears_other)
            assert hears_self < hears_other - MARGIN_DB, (me.name, hears_self, hears_other)
            assert abs((me.ears.dominant_frequency(HEARING_S) or 0) - other) <= 10

        # Every 20 ms packet the listener took in became a frame, and it has been flowing in real time since its first
        # frame (the set-up before it is measured above, "listener start → first frame"; under a full test run's load
        # ICE and DTLS alone took up to a second, which is no gap in the flow).
        packets, frames = await packets_received(listener.receiver), listener.ears.frames
        assert listener.ears.last_frame_at is not None
        listened = listener.ears.last_frame_at - listener.started_at
        flowing = listener.ears.last_frame_at - first_frame_at
        numbers["listener packets"], numbers["listener frames"] = packets, frames
        numbers["listener seconds"] = listened
        assert frames <= packets
        assert frames >= 0.8 * flowing / FRAME_SECONDS, (frames, flowing, listened)
    return numbers


async def aiortc_alone() -> dict[str, float]:
    """The same tone onset from one aiortc peer straight to another: the clients' own share of the latencies."""
    async with contextlib.AsyncExitStack() as stack:
        sender, receiver = RTCPeerConnection(no_stun()), RTCPeerConnection(no_stun())
        stack.push_async_callback(sender.close)
        stack.push_async_callback(receiver.close)
        tone = ToneTrack(None)
        sender.addTrack(tone)
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        [incoming] = receiver.getReceivers()
        ears = await stack.enter_async_context(ToneMeter(incoming.track))
        async with asyncio.timeout(STEP_TIMEOUT):
            await ears.wait_until(lambda m: m.frames >= 10)
        tone.set_frequency(LOW)
        async with asyncio.timeout(STEP_TIMEOUT):
            await ears.wait_until(lambda _: tone.changed_at is not None)
        assert tone.changed_at is not None
        heard = await onset(ears, LOW, tone.changed_at)
        await heard_for(ears, heard, 0.6)
        assert abs((ears.dominant_frequency(0.5) or 0) - LOW) <= 10
        return {"aiortc → aiortc onset ms": (heard - tone.changed_at) * 1000, "tone dBFS": ears.tone_level_dbfs(LOW)}


def report(name: str, numbers: dict[str, float], started: float) -> None:
    lines = [f"  {key}: {value:.1f}" for key, value in numbers.items()]
    print(f"\n{name} ({time.monotonic() - started:.1f} s):", *lines, sep="\n")


def test_tones_through_an_audiobridge_room_and_its_mountpoint(netns: NetNamespace, tmp_path: Path) -> None:
    started = time.monotonic()
    numbers = netns.run(lambda: sound_through_janus(tmp_path / "janus"), timeout=WHOLE_TIMEOUT)
    report("sound through Janus", numbers, started)


def test_aiortc_alone_baseline(netns: NetNamespace) -> None:
    started = time.monotonic()
    numbers = netns.run(aiortc_alone, timeout=WHOLE_TIMEOUT)
    report("aiortc alone", numbers, started)
