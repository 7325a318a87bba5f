"""Client layer: aiortc audio sources (a sine tone, a WAV file) and a sink that measures what a remote track carries.

Sources are live tracks: ``recv`` hands out one 20 ms frame per 20 ms of monotonic time (48 kHz by default, ``pts``
counted in samples, ``time_base`` 1/sample rate), which is how aiortc's sender expects a microphone to behave.
``ToneTrack`` can switch between silence and tones while it plays and notes when the change went out, so a listener
can time the onset. ``ToneMeter`` consumes a remote audio track (what ``RTCRtpReceiver.track`` gives), keeps the
last seconds as mono float PCM with each frame's arrival time, and reports the dominant frequency (FFT peak), the
RMS level, the level of a given frequency and when a tone was first heard.

Levels are in dBFS: 0 dBFS is a full-scale square wave's RMS, so a full-scale sine's RMS reads -3 dBFS; for
``tone_level_dbfs`` 0 dBFS is a full-scale sine's amplitude. Silence reads ``SILENCE_DBFS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
import wave
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

__all__ = [
    "FRAME_SECONDS",
    "SAMPLE_RATE",
    "SILENCE_DBFS",
    "PacedAudioTrack",
    "ToneMeter",
    "ToneTrack",
    "WavTrack",
    "dbfs",
    "packets_received",
    "sine",
    "tone_amplitude",
    "write_wav",
]

SAMPLE_RATE: Final = 48000
FRAME_SECONDS: Final = 0.020
SILENCE_DBFS: Final = -120.0
# A source more than this far behind its schedule (a stalled consumer) starts again from now, not in a burst.
MAX_LAG_S: Final = 0.2
_INT16_SCALE: Final = 32768.0

Pcm = npt.NDArray[np.float32]


def dbfs(value: float) -> float:
    """A linear level (1.0 = full scale) in dB, floored at ``SILENCE_DBFS``."""
    return max(SILENCE_DBFS, 20.0 * math.log10(value)) if value > 0 else SILENCE_DBFS


def sine(frequency: float, samples: int, *, amplitude: float = 0.3, sample_rate: int = SAMPLE_RATE) -> Pcm:
    """``samples`` of a sine tone starting at phase 0, as float PCM in [-1, 1]."""
    t = np.arange(samples, dtype=np.float64) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def tone_amplitude(pcm: Pcm, frequency: float, *, sample_rate: int = SAMPLE_RATE) -> float:
    """The amplitude of ``frequency`` in ``pcm`` (a sine of amplitude A reads ≈ A): a Hann-windowed DFT at exactly
    that frequency, so it needs no FFT bin to fall on it and a tone a few hundred Hz away barely leaks in."""
    n = len(pcm)
    if n == 0:
        return 0.0
    window = np.hanning(n)
    phasor = np.exp(-2j * np.pi * frequency * np.arange(n) / sample_rate)
    return float(2.0 * abs(np.dot(pcm * window, phasor)) / window.sum())


def _to_int16(pcm: Pcm) -> npt.NDArray[np.int16]:
    return cast(npt.NDArray[np.int16], np.clip(np.round(pcm * _INT16_SCALE), -32768, 32767).astype(np.int16))


def write_wav(path: Path, pcm: Pcm, *, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono float PCM as a 16-bit WAV file (e.g. a tone for a browser's fake microphone)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(_to_int16(pcm).astype("<i2").tobytes())


async def packets_received(receiver: RTCRtpReceiver) -> int:
    """RTP packets the receiver has taken in so far (its ``inbound-rtp`` stats)."""
    report = await receiver.getStats()
    inbound = [s for s in report.values() if getattr(s, "type", "") == "inbound-rtp"]
    return sum(int(getattr(s, "packetsReceived", 0)) for s in inbound)


class PacedAudioTrack(MediaStreamTrack):
    """A live audio source: subclasses say what the next frame holds (``_next_samples``), this paces them.

    Frames are 20 ms of 16-bit PCM at ``sample_rate``, ``pts`` the count of samples before them. ``frames_sent``
    counts the frames handed out, ``max_lateness`` is the most one was handed out after its time (s): a busy event
    loop delays them, and a receiver with a small jitter buffer then loses audio.
    """

    kind = "audio"

    def __init__(self, *, sample_rate: int = SAMPLE_RATE, channels: int = 1) -> None:
        super().__init__()
        if channels not in (1, 2):
            raise ValueError("channels must be 1 or 2")
        self.sample_rate = sample_rate
        self.channels = channels
        self.frame_samples = round(sample_rate * FRAME_SECONDS)
        self.frames_sent = 0
        self.max_lateness = 0.0
        self._time_base = fractions.Fraction(1, sample_rate)
        self._pts = 0
        self._epoch: float | None = None  # the monotonic time of pts 0

    def _next_samples(self) -> Pcm:
        """The next frame: ``frame_samples`` × ``channels`` float PCM in [-1, 1]; raise ``MediaStreamError`` to end."""
        raise NotImplementedError

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._epoch is None:
            self._epoch = now
        else:
            due = self._epoch + self._pts / self.sample_rate
            if due > now:
                await asyncio.sleep(due - now)
                now = time.monotonic()
            self.max_lateness = max(self.max_lateness, now - due)
            if now - due > MAX_LAG_S:
                self._epoch = now - self._pts / self.sample_rate
        try:
            pcm = self._next_samples()
        except MediaStreamError:
            self.stop()
            raise
        interleaved = _to_int16(pcm).reshape(1, -1)
        frame = AudioFrame.from_ndarray(interleaved, format="s16", layout="mono" if self.channels == 1 else "stereo")
        frame.sample_rate = self.sample_rate
        frame.pts = self._pts
        frame.time_base = self._time_base
        self._pts += self.frame_samples
        self.frames_sent += 1
        return frame


class ToneTrack(PacedAudioTrack):
    """A sine tone at ``frequency`` Hz (None: silence), mono. ``set_frequency`` switches it from the next frame on,
    keeping the phase continuous; ``changed_at`` is then the monotonic time that frame was handed to the sender."""

    def __init__(
        self, frequency: float | None = 440.0, *, amplitude: float = 0.3, sample_rate: int = SAMPLE_RATE
    ) -> None:
        super().__init__(sample_rate=sample_rate)
        if not 0.0 <= amplitude <= 1.0:
            raise ValueError("amplitude must be within [0, 1]")
        self.amplitude = amplitude
        self.changed_at: float | None = None
        self._frequency = frequency
        self._pending: tuple[float | None] | None = None
        self._phase = 0.0

    @property
    def frequency(self) -> float | None:
        return self._frequency

    def set_frequency(self, frequency: float | None) -> None:
        self._pending = (frequency,)
        self.changed_at = None

    def _next_samples(self) -> Pcm:
        if self._pending is not None:
            (self._frequency,), self._pending = self._pending, None
            self.changed_at = time.monotonic()
        if self._frequency is None:
            return np.zeros(self.frame_samples, dtype=np.float32)
        step = 2.0 * math.pi * self._frequency / self.sample_rate
        phases = self._phase + step * np.arange(self.frame_samples, dtype=np.float64)
        self._phase = (self._phase + step * self.frame_samples) % (2.0 * math.pi)
        return (self.amplitude * np.sin(phases)).astype(np.float32)


class WavTrack(PacedAudioTrack):
    """A 16-bit PCM WAV file (mono or stereo, any rate: aiortc's encoder resamples), read into memory at once.
    With ``loop`` it starts over at the end; otherwise the track ends after the last (zero-padded) frame."""

    def __init__(self, path: Path, *, loop: bool = True) -> None:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
            channels, rate = w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
        super().__init__(sample_rate=rate, channels=channels)
        pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / _INT16_SCALE
        self._pcm = pcm.reshape(-1, channels)
        if len(self._pcm) == 0:
            raise ValueError(f"{path}: no audio")
        self.loop = loop
        self._position = 0

    def _next_samples(self) -> Pcm:
        total, n = len(self._pcm), self.frame_samples
        if self._position >= total:
            if not self.loop:
                raise MediaStreamError
            self._position = 0
        indexes = np.arange(self._position, self._position + n)
        if self.loop:
            chunk = self._pcm[indexes % total]
        else:
            chunk = np.zeros((n, self.channels), dtype=np.float32)
            available = min(n, total - self._position)
            chunk[:available] = self._pcm[self._position : self._position + available]
        self._position += n
        return cast(Pcm, chunk.reshape(-1))


def mono(frame: AudioFrame) -> Pcm:
    """A decoded frame as mono float PCM in [-1, 1] (channels averaged)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    planes = data.reshape(channels, -1) if frame.format.is_planar else data.reshape(-1, channels).T
    if np.issubdtype(planes.dtype, np.integer):
        scale = float(2 ** (8 * planes.dtype.itemsize - 1))  # s16: 32768
        return cast(Pcm, (planes.astype(np.float32) / scale).mean(axis=0))
    return cast(Pcm, planes.astype(np.float32).mean(axis=0))


class ToneMeter:
    """Consume a remote audio track and measure it: ``async with ToneMeter(track) as meter: ...``.

    Keeps the last ``keep_seconds`` of audio. ``frames`` and ``samples`` count everything received, ``first_frame_at``
    / ``last_frame_at`` are monotonic times. Analyses look at the last ``seconds`` received.
    """

    def __init__(self, track: MediaStreamTrack, *, keep_seconds: float = 5.0) -> None:
        self.track = track
        self.keep_seconds = keep_seconds
        self.frames = 0
        self.samples = 0
        self.sample_rate = SAMPLE_RATE
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        self.ended = False
        self._chunks: deque[tuple[float, Pcm]] = deque()
        self._kept = 0
        # Each kept frame's tone levels, by the frame's id and frequency: a DFT costs ~0.25 ms here, and a test that
        # judges the last second at every frame would otherwise redo ~50 of them per tone per frame. That starved
        # the senders sharing this event loop (docs/ARCHITECTURE.md, "Interpretation channels": a broadcast
        # channel's silence that was the test's own).
        self._tone_levels: dict[int, dict[float, float]] = {}
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ToneMeter:
        self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._consume(), name="tone-meter")

    async def stop(self) -> None:
        """Stop consuming (the track itself is left alone)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _consume(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self._add(cast(AudioFrame, frame), time.monotonic())
                async with self._arrived:
                    self._arrived.notify_all()
        except MediaStreamError:
            self.ended = True
            async with self._arrived:
                self._arrived.notify_all()

    def _add(self, frame: AudioFrame, now: float) -> None:
        pcm = mono(frame)
        self.sample_rate = frame.sample_rate or self.sample_rate
        if self.first_frame_at is None:
            self.first_frame_at = now
        self.last_frame_at = now
        self.frames += 1
        self.samples += len(pcm)
        self._chunks.append((now, pcm))
        self._kept += len(pcm)
        limit = int(self.keep_seconds * self.sample_rate)
        while self._kept - len(self._chunks[0][1]) >= limit:
            _, dropped = self._chunks.popleft()
            self._kept -= len(dropped)
            self._tone_levels.pop(id(dropped), None)  # before the id can be reused by another frame

    async def wait_until(self, predicate: Callable[[ToneMeter], bool]) -> None:
        """Wait until ``predicate(self)`` holds, checked at each frame; bound it with ``asyncio.timeout``.
        Raises ``MediaStreamError`` if the track ends first."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: predicate(self) or self.ended)
        if not predicate(self):
            raise MediaStreamError("the track ended")

    # --- analyses ------------------------------------------------------------------------------------------------

    def recent(self, seconds: float) -> Pcm:
        """The last ``seconds`` of audio received (less when less was received), mono float PCM."""
        wanted = int(seconds * self.sample_rate)
        parts: list[Pcm] = []
        have = 0
        for _, pcm in reversed(self._chunks):
            if have >= wanted:
                break
            parts.append(pcm)
            have += len(pcm)
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(parts[::-1])[-wanted:]

    def rms(self, seconds: float = 0.5) -> float:
        pcm = self.recent(seconds)
        return float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64)))) if len(pcm) else 0.0

    def level_dbfs(self, seconds: float = 0.5) -> float:
        """The RMS level of the last ``seconds``."""
        return dbfs(self.rms(seconds))

    def dominant_frequency(self, seconds: float = 0.5) -> float | None:
        """The strongest frequency (the FFT peak of a Hann-windowed stretch, ~1/``seconds`` Hz resolution), or None
        when there is nothing to hear."""
        pcm = self.recent(seconds)
        if len(pcm) < 2 or not np.any(pcm):
            return None
        spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
        spectrum[0] = 0.0  # DC
        peak = int(np.argmax(spectrum))
        return float(peak * self.sample_rate / len(pcm))

    def tone_level_dbfs(self, frequency: float, seconds: float = 0.5) -> float:
        """How loud ``frequency`` is in the last ``seconds`` (0 dBFS: a full-scale sine at that frequency)."""
        return dbfs(tone_amplitude(self.recent(seconds), frequency, sample_rate=self.sample_rate))

    def frame_tone_levels(self, frequency: float, seconds: float = 0.5) -> list[float]:
        """The level of ``frequency`` (dBFS) in each frame received during the last ``seconds``, oldest first: a
        dropout (a lost or late packet somewhere upstream) shows as a frame far below its neighbours."""
        wanted = int(seconds * self.sample_rate)
        levels: list[float] = []
        have = 0
        for _, pcm in reversed(self._chunks):
            if have >= wanted:
                break
            levels.append(self._frame_level(pcm, frequency))
            have += len(pcm)
        return levels[::-1]

    def _frame_level(self, pcm: Pcm, frequency: float) -> float:
        """One kept frame's level of ``frequency`` (dBFS), computed once."""
        levels = self._tone_levels.setdefault(id(pcm), {})
        found = levels.get(frequency)
        if found is None:
            found = levels[frequency] = dbfs(tone_amplitude(pcm, frequency, sample_rate=self.sample_rate))
        return found

    def onset(self, frequency: float, *, after: float, min_dbfs: float = -30.0) -> float | None:
        """The arrival time of the first frame received after the monotonic time ``after`` in which ``frequency``
        reaches ``min_dbfs``; None if none has (yet, within the audio kept)."""
        for arrived, pcm in self._chunks:
            if arrived < after:
                continue
            if self._frame_level(pcm, frequency) >= min_dbfs:
                return arrived
        return None

    def stats(self) -> dict[str, Any]:
        """A summary for logs and test reports."""
        return {
            "frames": self.frames,
            "seconds": round(self.samples / self.sample_rate, 3),
            "level_dbfs": round(self.level_dbfs(), 1),
            "dominant_hz": self.dominant_frequency(),
        }
