"""The client's audio sources and meter, without a network: frames straight from a track into the meter."""

from __future__ import annotations

import asyncio
import fractions
import time
from pathlib import Path

import numpy as np
import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from salon.client.audio import (
    SAMPLE_RATE,
    SILENCE_DBFS,
    ToneMeter,
    ToneTrack,
    WavTrack,
    dbfs,
    sine,
    tone_amplitude,
    write_wav,
)


class FrameList(MediaStreamTrack):
    """A remote track stand-in: hands out the given frames at once, then ends."""

    kind = "audio"

    def __init__(self, frames: list[AudioFrame]) -> None:
        super().__init__()
        self._frames = list(frames)

    async def recv(self) -> AudioFrame:
        if not self._frames:
            self.stop()
            raise MediaStreamError
        return self._frames.pop(0)


def stereo_frames(pcm: np.ndarray, *, samples: int = 960) -> list[AudioFrame]:
    """Mono float PCM as packed s16 stereo frames, as aiortc's Opus decoder hands them out."""
    frames = []
    for start in range(0, len(pcm) - samples + 1, samples):
        chunk = np.round(pcm[start : start + samples] * 32767).astype(np.int16)
        frame = AudioFrame.from_ndarray(np.repeat(chunk, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frames.append(frame)
    return frames


async def metered(frames: list[AudioFrame], **kw: float) -> ToneMeter:
    meter = ToneMeter(FrameList(frames), **kw)
    async with meter:
        async with asyncio.timeout(5):
            await meter.wait_until(lambda m: m.ended)
    return meter


def test_levels() -> None:
    assert dbfs(1.0) == 0.0
    assert dbfs(0.0) == SILENCE_DBFS
    assert round(dbfs(0.5), 1) == -6.0
    tone = sine(440, 4800, amplitude=0.3)
    assert tone_amplitude(tone, 440) == pytest.approx(0.3, abs=0.005)
    assert tone_amplitude(tone, 880) < 0.001
    assert tone_amplitude(np.zeros(0, dtype=np.float32), 440) == 0.0


async def test_a_tone_track_paces_20_ms_frames_with_sample_pts() -> None:
    track = ToneTrack(440.0, amplitude=0.5)
    started = time.monotonic()
    frames = [await track.recv() for _ in range(6)]
    elapsed = time.monotonic() - started
    assert 0.09 <= elapsed < 0.3  # 5 waits of 20 ms after the first frame
    assert [f.pts for f in frames] == [i * 960 for i in range(6)]
    assert all(f.samples == 960 and f.sample_rate == SAMPLE_RATE for f in frames)
    assert all(f.time_base == fractions.Fraction(1, SAMPLE_RATE) for f in frames)
    assert track.frames_sent == 6
    assert track.max_lateness < 0.1
    pcm = (np.concatenate([f.to_ndarray().reshape(-1) for f in frames]) / 32768).astype(np.float32)
    # Phase-continuous across frames: one clean 440 Hz sine over the whole 120 ms.
    assert tone_amplitude(pcm, 440) == pytest.approx(0.5, abs=0.01)
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_a_tone_track_switches_at_the_next_frame_and_says_when() -> None:
    track = ToneTrack(None)
    silent = await track.recv()
    assert not np.any(silent.to_ndarray())
    assert track.changed_at is None
    track.set_frequency(880.0)
    before = time.monotonic()
    loud = await track.recv()
    assert track.changed_at is not None
    assert track.changed_at >= before
    assert track.frequency == 880.0
    pcm = loud.to_ndarray().reshape(-1).astype(np.float32) / 32768
    assert tone_amplitude(pcm, 880) == pytest.approx(0.3, abs=0.01)


async def test_a_wav_track_plays_the_file_then_ends_or_loops(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    write_wav(path, sine(440, 2400, amplitude=0.25, sample_rate=16000), sample_rate=16000)  # 150 ms
    once = WavTrack(path, loop=False)
    frames = [await once.recv() for _ in range(8)]
    with pytest.raises(MediaStreamError):
        await once.recv()
    assert len(frames) == 8  # 7.5 frames of 320 samples, the last zero-padded
    assert all(f.sample_rate == 16000 and f.samples == 320 for f in frames)
    assert once.readyState == "ended"
    looped = WavTrack(path)
    assert len([await looped.recv() for _ in range(10)]) == 10
    write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    with pytest.raises(ValueError, match="no audio"):
        WavTrack(tmp_path / "empty.wav")


async def test_the_meter_hears_frequency_level_and_onset() -> None:
    silence, tone = np.zeros(9600, dtype=np.float32), sine(440, 48000, amplitude=0.3)
    meter = await metered(stereo_frames(np.concatenate([silence, tone])))
    assert meter.frames == 60
    assert meter.samples == 57600
    assert meter.first_frame_at is not None
    assert meter.last_frame_at is not None
    assert meter.first_frame_at <= meter.last_frame_at
    assert meter.dominant_frequency(0.5) == pytest.approx(440, abs=2)
    assert meter.level_dbfs(0.5) == pytest.approx(dbfs(0.3 / np.sqrt(2)), abs=0.2)
    assert meter.tone_level_dbfs(440) == pytest.approx(dbfs(0.3), abs=0.2)
    assert meter.tone_level_dbfs(880) < -60
    levels = meter.frame_tone_levels(440, 0.2)
    assert len(levels) == 10
    assert all(level == pytest.approx(dbfs(0.3), abs=0.3) for level in levels)
    # All frames arrived within the same instant here: the onset is the first loud frame's arrival.
    assert meter.onset(440, after=0.0) is not None
    assert meter.onset(880, after=0.0) is None
    assert meter.stats()["frames"] == 60


async def test_the_meter_keeps_only_recent_audio_and_reports_silence() -> None:
    meter = await metered(stereo_frames(np.zeros(48000, dtype=np.float32)), keep_seconds=0.2)
    assert meter.frames == 50
    assert len(meter.recent(5.0)) == 9600
    assert meter.dominant_frequency() is None
    assert meter.level_dbfs() == SILENCE_DBFS
    empty = ToneMeter(FrameList([]))
    assert len(empty.recent(1.0)) == 0
    assert empty.rms() == 0.0


async def test_waiting_on_a_track_that_ends_raises() -> None:
    async with ToneMeter(FrameList(stereo_frames(np.zeros(1920, dtype=np.float32)))) as meter:
        with pytest.raises(MediaStreamError):
            async with asyncio.timeout(5):
                await meter.wait_until(lambda m: m.frames > 10)


async def test_the_meter_computes_each_frames_tone_level_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test judging the last second at every frame must not redo every frame's DFT each time: that starved the
    # senders on the same event loop (a channel's broadcast stream went silent for seconds).
    meter = await metered(stereo_frames(sine(440, 48000, amplitude=0.3)), keep_seconds=0.5)
    import salon.client.audio as audio

    computed: list[float] = []
    real = audio.tone_amplitude

    def counting(pcm: np.ndarray, frequency: float, **kw: int) -> float:
        computed.append(frequency)
        return real(pcm, frequency, **kw)

    monkeypatch.setattr(audio, "tone_amplitude", counting)
    first = meter.frame_tone_levels(440, 0.5)
    assert len(computed) == len(first) == 25
    assert meter.frame_tone_levels(440, 0.5) == first
    assert meter.onset(440, after=0.0) is not None
    assert len(computed) == 25  # nothing computed again
    meter.frame_tone_levels(880, 0.5)
    assert len(computed) == 50  # another tone is computed once too
    # Frames no longer kept take their levels with them.
    for frame in stereo_frames(sine(440, 9600, amplitude=0.3)):
        meter._add(frame, time.monotonic())
    kept = {id(pcm) for _, pcm in meter._chunks}
    assert set(meter._tone_levels) <= kept
    assert len(meter._tone_levels) == 15  # the 25 frames judged, less the 10 the new ones pushed out
