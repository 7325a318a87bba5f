"""The per-speaker mix with real sound through a real Janus, driven through the media port (``JanusMedia``).

One Janus for the module, in a private network namespace (tests/support/netns.py). aiortc speakers play tones into
the stage; an opted-in listener ("mixer") receives the per-speaker mix, one ear per track (``t0``..``t3``,
``others``); a plain listener hears the room's one mix. The scenario runs once (:func:`scenario`) and records what
each ear heard at each step; each test below judges one promise on those records.

Steps: (1) speakers at 440 Hz and 660 Hz: each on a track of their own, both in the one mix; a second opt-in is
refused at the cap (1 here); (2) the 440 Hz speaker leaves the stage and an 880 Hz one comes up: heard on the freed
``t0``; (3) two silent speakers fill ``t2`` and ``t3``, and a fifth, at 1100 Hz, is heard on ``others``; (4) the
880 Hz speaker is muted: ``t0`` falls silent, the others play on; (5) an interpretation channel is made: the
per-speaker mix is taken down first (Janus 1.1.2 would spoil the channel's floor feed or the Original beside its group
forwards: adapters/janus/forward_rules.py), the opted-in listener's connection ends, the Original and the channel's
listeners hear the floor cleanly, and opting in is then refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection

from salon.adapters.janus.config import ManagedJanusConfig
from salon.adapters.janus.media import JanusMedia
from salon.app.ports import MediaFull, SpeakerMixUnavailable
from salon.client.audio import ToneMeter, ToneTrack
from salon.domain.speaker_tracks import MIDS
from tests.support.janus import managed_janus
from tests.support.netns import ADDRESS, INTERFACE, network_namespace
from tests.support.webrtc_ears import (
    HEARD_DBFS,
    JUDGED_S,
    STEP_TIMEOUT,
    LoopLag,
    description,
    local_jsep,
    no_stun,
    onset,
    settle,
)

ROOM = "mix-room"
A_HZ, B_HZ, C_HZ, SHARED_HZ = 440.0, 660.0, 880.0, 1100.0
TONES = (A_HZ, B_HZ, C_HZ, SHARED_HZ)
ABSENT_DBFS = -50.0  # below this a tone is not there
APART_DB = 20.0  # on a speaker's own track, anyone else is at least this far under them
SOUNDING_DBFS = -40.0  # a frame in which no tone reaches this carries no sound (a dropout, or a silent track)
NOTHING_DBFS = -120.0
WHOLE_TIMEOUT = 120.0
SILENCED_WITHIN_S = 2.0
CLEAN = 0.9  # the share of a window's frames that must carry the floor: a spoiled forward's cut packets carry none


def sounding(ears: ToneMeter, seconds: float = JUDGED_S) -> float:
    """The share of the last ``seconds``' frames in which some tone reaches SOUNDING_DBFS."""
    per_tone = [ears.frame_tone_levels(tone, seconds) for tone in TONES]
    frames = list(zip(*per_tone, strict=True))
    return sum(max(tones) >= SOUNDING_DBFS for tones in frames) / len(frames) if frames else 0.0


def level(ears: ToneMeter, frequency: float, seconds: float = JUDGED_S) -> float:
    """The median level of ``frequency`` over the frames of the last ``seconds`` that carry any of the tones: a lost
    packet loses every tone of a track at once, so dropouts are left out; a silent track reads as silence."""
    per_tone = [ears.frame_tone_levels(tone, seconds) for tone in TONES]
    mine = ears.frame_tone_levels(frequency, seconds)
    sounding = [lvl for lvl, *tones in zip(mine, *per_tone, strict=True) if max(tones) >= SOUNDING_DBFS]
    return statistics.median(sounding) if sounding else NOTHING_DBFS


@dataclass
class Heard:
    levels: dict[str, float] = field(default_factory=dict)  # "<step> <ear> <Hz>" -> dBFS (sounding frames' median)
    traces: dict[str, float] = field(default_factory=dict)  # the same keys -> dBFS over the whole window
    numbers: dict[str, float] = field(default_factory=dict)
    tracks: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> speaker_tracks
    refusals: dict[str, str] = field(default_factory=dict)

    def record(self, step: str, ears: dict[str, ToneMeter]) -> None:
        for name, meter in ears.items():
            for frequency in TONES:
                self.levels[f"{step} {name} {frequency:g}"] = level(meter, frequency)
                self.traces[f"{step} {name} {frequency:g}"] = meter.tone_level_dbfs(frequency, JUDGED_S)

    def at(self, step: str, ear: str, frequency: float) -> float:
        return self.levels[f"{step} {ear} {frequency:g}"]

    def trace(self, step: str, ear: str, frequency: float) -> float:
        return self.traces[f"{step} {ear} {frequency:g}"]


async def scenario(folder: Path) -> Heard:
    heard = Heard()
    config = ManagedJanusConfig(interface=ADDRESS, ice_enforce_list=INTERFACE)
    async with (
        managed_janus(folder / "janus", config) as janus,
        JanusMedia(janus.url, janus.api_secret, janus.admin_key, speaker_mix_listeners=1) as media,
    ):
        await hear(media, heard)
        return heard


async def hear(media: JanusMedia, heard: Heard) -> None:
    async with contextlib.AsyncExitStack() as stack:

        async def peer() -> RTCPeerConnection:
            pc = RTCPeerConnection(no_stun())
            stack.push_async_callback(pc.close)
            return pc

        async def speak(user: str, tone: ToneTrack) -> None:
            await media.admit(ROOM, user, "speaker", False)
            pc = await peer()
            # Send-only: the test's ears are this process, and six speakers decoding their mix-minus would starve
            # them on a busy machine (what a speaker hears is test_sound_through_janus.py's business).
            pc.addTransceiver(tone, direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            await pc.setRemoteDescription(description(await media.open_speak(ROOM, user, local_jsep(pc))))

        async def listen(user: str) -> ToneMeter:
            pc = await peer()
            await pc.setRemoteDescription(description(await media.open_listen(ROOM, user)))
            await pc.setLocalDescription(await pc.createAnswer())
            [receiver] = pc.getReceivers()
            ears = await stack.enter_async_context(ToneMeter(receiver.track))
            await media.answer_listen(ROOM, user, local_jsep(pc))
            return ears

        async def listen_channel(user: str, language: str) -> ToneMeter:
            pc = await peer()
            await pc.setRemoteDescription(description(await media.open_channel_listen(ROOM, language, user)))
            await pc.setLocalDescription(await pc.createAnswer())
            [receiver] = pc.getReceivers()
            ears = await stack.enter_async_context(ToneMeter(receiver.track))
            await media.answer_listen(ROOM, user, local_jsep(pc))
            return ears

        async def listen_per_speaker(user: str) -> dict[str, ToneMeter]:
            pc = await peer()
            await pc.setRemoteDescription(description(await media.open_speaker_mix(ROOM, user)))
            await pc.setLocalDescription(await pc.createAnswer())
            ears = {
                str(t.mid): await stack.enter_async_context(ToneMeter(t.receiver.track)) for t in pc.getTransceivers()
            }
            await media.answer_listen(ROOM, user, local_jsep(pc))
            return ears

        await media.create_room(ROOM)
        for user in ("plain", "mixer", "late", "french"):
            await media.admit(ROOM, user, "listener", False)
        tone_a, tone_b, tone_c = ToneTrack(None), ToneTrack(None), ToneTrack(None)
        await speak("a", tone_a)
        await speak("b", tone_b)
        tracks = await listen_per_speaker("mixer")
        assert list(tracks) == list(MIDS)
        ears = {**tracks, "plain": await listen("plain")}
        async with asyncio.timeout(STEP_TIMEOUT):
            for meter in ears.values():
                await meter.wait_until(lambda m: m.frames >= 10)

        # (1) Two speakers, each on their own track; both in the one mix. The cap refuses a second opt-in.
        tone_a.set_frequency(A_HZ)
        tone_b.set_frequency(B_HZ)
        started = time.monotonic()
        await onset(ears["t0"], A_HZ, started)
        await onset(ears["t1"], B_HZ, started)
        await settle(ears, time.monotonic())
        heard.record("two", ears)
        heard.tracks["two"] = media.speaker_tracks(ROOM)
        try:
            await media.open_speaker_mix(ROOM, "late")
        except MediaFull as exc:
            heard.refusals["cap"] = str(exc)

        # (2) a leaves the stage; c (880 Hz) comes up and takes the freed t0.
        await media.admit(ROOM, "a", "listener", False)
        await speak("c", tone_c)
        tone_c.set_frequency(C_HZ)
        came = time.monotonic()
        heard.numbers["new speaker heard on t0 s"] = await onset(ears["t0"], C_HZ, came) - came
        await settle(ears, time.monotonic())
        heard.record("replaced", ears)
        heard.tracks["replaced"] = media.speaker_tracks(ROOM)

        # (3) Two silent speakers fill t2 and t3; the fifth (1100 Hz) shares "others".
        await speak("d", ToneTrack(None))
        await speak("e", ToneTrack(None))
        await speak("f", ToneTrack(SHARED_HZ))
        await onset(ears["others"], SHARED_HZ, time.monotonic())
        await settle(ears, time.monotonic())
        heard.record("full", ears)
        heard.tracks["full"] = media.speaker_tracks(ROOM)

        # (4) c is muted (by a moderator, in Janus): t0 falls silent, the others play on. Judged gone on the plain
        # mix too, where the other voices go on: a sender of this process stalled for a moment by a busy machine
        # also leaves t0 silent, but not for 0.5 s of the one mix.
        async with LoopLag() as lag, asyncio.timeout(STEP_TIMEOUT):
            muted_at = time.monotonic()
            await media.set_muted(ROOM, "c", True)
            await ears["t0"].wait_until(lambda m: m.tone_level_dbfs(C_HZ, 0.5) < ABSENT_DBFS)
            await ears["plain"].wait_until(lambda m: level(m, C_HZ, 0.5) < ABSENT_DBFS)
            heard.numbers["muted → t0 silent s"] = time.monotonic() - muted_at
        heard.numbers["mute: the test's loop lag s"] = lag.worst
        await settle(ears, time.monotonic())
        heard.record("muted", ears)

        # (5) Interpretation comes: a channel is made while the per-speaker mix is on. The mix is taken down first
        # (its group forwards and mountpoint, the mixer's connection); the Original and the channel hear the floor.
        webrtc = (await media.audience_split(ROOM))["webrtc"]
        await media.create_channel(ROOM, "fr", -15)
        heard.numbers["webrtc listeners ended by the channel"] = webrtc - (await media.audience_split(ROOM))["webrtc"]
        floor = {"plain": ears["plain"], "channel": await listen_channel("french", "fr")}
        async with asyncio.timeout(STEP_TIMEOUT):
            await floor["channel"].wait_until(lambda m: m.frames >= 10)
        await onset(floor["channel"], B_HZ, time.monotonic() - 0.2)
        await settle(floor, time.monotonic())
        heard.record("channel", floor)
        for name, meter in floor.items():
            heard.numbers[f"channel: {name} sounding share"] = sounding(meter)
        try:
            await media.open_speaker_mix(ROOM, "late")
        except SpeakerMixUnavailable as exc:
            heard.refusals["channel"] = str(exc)


@pytest.fixture(scope="module")
def heard(tmp_path_factory: pytest.TempPathFactory) -> Heard:
    started = time.monotonic()
    with network_namespace() as ns:
        result = ns.run(lambda: scenario(tmp_path_factory.mktemp("janus")), timeout=WHOLE_TIMEOUT)
    traces = {f"{key} (whole window)": value for key, value in result.traces.items()}
    lines = [f"  {key}: {value:.1f}" for key, value in {**result.numbers, **result.levels, **traces}.items()]
    print(f"\nper-speaker mix ({time.monotonic() - started:.1f} s):", *lines, sep="\n")
    return result


def test_each_speaker_is_on_a_track_of_their_own_with_the_other_far_under(heard: Heard) -> None:
    assert heard.tracks["two"] == {"a": "t0", "b": "t1"}
    assert heard.at("two", "t0", A_HZ) > HEARD_DBFS
    assert heard.trace("two", "t0", B_HZ) <= heard.at("two", "t0", A_HZ) - APART_DB
    assert heard.at("two", "t1", B_HZ) > HEARD_DBFS
    assert heard.trace("two", "t1", A_HZ) <= heard.at("two", "t1", B_HZ) - APART_DB
    for mid in ("t2", "t3", "others"):  # nobody there yet: silence
        assert max(heard.trace("two", mid, hz) for hz in TONES) < ABSENT_DBFS, mid


def test_a_plain_listener_still_hears_every_speaker_in_one_mix(heard: Heard) -> None:
    assert heard.at("two", "plain", A_HZ) > HEARD_DBFS
    assert heard.at("two", "plain", B_HZ) > HEARD_DBFS
    for hz in (C_HZ, B_HZ, SHARED_HZ):
        assert heard.at("full", "plain", hz) > HEARD_DBFS, hz


def test_opting_in_is_refused_at_the_rooms_cap(heard: Heard) -> None:
    assert "per-speaker listeners" in heard.refusals["cap"]


def test_a_new_speaker_is_heard_on_the_track_the_last_one_freed(heard: Heard) -> None:
    assert heard.tracks["replaced"] == {"c": "t0", "b": "t1"}
    assert heard.at("replaced", "t0", C_HZ) > HEARD_DBFS
    assert heard.trace("replaced", "t0", A_HZ) < ABSENT_DBFS  # a is gone from it
    assert heard.trace("replaced", "t0", B_HZ) <= heard.at("replaced", "t0", C_HZ) - APART_DB
    assert heard.at("replaced", "t1", B_HZ) > HEARD_DBFS


def test_a_speaker_beyond_the_own_tracks_is_heard_on_others_only(heard: Heard) -> None:
    assert heard.tracks["full"] == {"c": "t0", "b": "t1", "d": "t2", "e": "t3", "f": "others"}
    assert heard.at("full", "others", SHARED_HZ) > HEARD_DBFS
    for mid in ("t0", "t1", "t2", "t3"):
        assert heard.trace("full", mid, SHARED_HZ) < ABSENT_DBFS, mid


def test_muting_a_speaker_silences_their_track_and_only_theirs(heard: Heard) -> None:
    silenced = heard.numbers["muted → t0 silent s"] - heard.numbers["mute: the test's loop lag s"]
    assert silenced <= SILENCED_WITHIN_S, silenced
    assert heard.trace("muted", "t0", C_HZ) < ABSENT_DBFS
    assert heard.at("muted", "t1", B_HZ) > HEARD_DBFS
    assert heard.at("muted", "others", SHARED_HZ) > HEARD_DBFS
    assert heard.trace("muted", "plain", C_HZ) < ABSENT_DBFS


def test_a_channel_made_after_an_opt_in_takes_the_mix_down_and_the_floor_is_heard_cleanly(heard: Heard) -> None:
    for ear in ("plain", "channel"):  # the Original and the channel's floor feed, both forwards of the whole mix
        assert heard.numbers[f"channel: {ear} sounding share"] >= CLEAN, ear
        assert heard.at("channel", ear, B_HZ) > HEARD_DBFS, ear
        assert heard.at("channel", ear, SHARED_HZ) > HEARD_DBFS, ear
        assert heard.trace("channel", ear, B_HZ) > HEARD_DBFS, ear  # over the whole window, dropouts included
    assert heard.numbers["webrtc listeners ended by the channel"] == 1, "the mixer's connection, and only it"


def test_opting_in_is_refused_in_a_room_with_a_channel(heard: Heard) -> None:
    assert "interpretation channels or a broadcast audience" in heard.refusals["channel"]
