"""Client layer: a command-line member for bots and recordings — ``python -m salon.client``.

Joins a room with a bearer token, then listens (and records what it hears to a WAV file) or, once on stage,
speaks a tone or a WAV file. Exits after ``--seconds`` or at Ctrl-C. Everything goes through Salon's public API,
so it can do exactly what the member whose token it holds may do.

    python -m salon.client --url http://127.0.0.1:8000 --token T --room R --record heard.wav --seconds 30
    python -m salon.client --url ... --token T --room R --speak-tone 440
    python -m salon.client --url ... --token T --room R --broadcast --record heard.wav   # on the broadcast tier
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from salon.client.audio import SAMPLE_RATE, Pcm, ToneTrack, WavTrack, mono, write_wav
from salon.client.broadcast import BroadcastTrack
from salon.client.session import SalonClient


@dataclass(frozen=True)
class Options:
    url: str
    token: str
    room: str
    seconds: float
    record: Path | None = None
    speak_tone: float | None = None
    speak_wav: Path | None = None
    broadcast: bool = False  # listen on the broadcast tier instead of WebRTC


async def record(track: MediaStreamTrack, until: asyncio.Event) -> Pcm:
    """Every frame of ``track`` until ``until`` is set (or the track ends), as mono PCM at 48 kHz."""
    chunks: list[Pcm] = []
    while not until.is_set():
        try:
            frame = await asyncio.wait_for(track.recv(), 0.5)
        except TimeoutError:
            continue
        except MediaStreamError:
            break
        if isinstance(frame, AudioFrame):
            chunks.append(mono(frame))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


async def run(options: Options) -> int:
    """Do what ``options`` ask; the number of samples recorded (0 when not recording)."""
    async with SalonClient(options.url, options.token) as me:
        await me.call("join", room_id=options.room)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(options.seconds, stop.set)
        if options.speak_tone is not None or options.speak_wav is not None:
            source = ToneTrack(options.speak_tone) if options.speak_wav is None else WavTrack(options.speak_wav)
            heard = await me.speak(options.room, source)
            await me.call("self_mute", room_id=options.room, muted=False)
        elif options.broadcast:
            heard = await me.listen_broadcast(options.room)
        else:
            heard = await me.listen(options.room)
        try:
            if options.record is None:
                await stop.wait()
                return 0
            pcm = await record(heard, stop)
        finally:
            if isinstance(heard, BroadcastTrack):
                await heard.close()
        write_wav(options.record, pcm, sample_rate=SAMPLE_RATE)
        return len(pcm)


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m salon.client", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the Salon server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True, help="a bearer token (POST /api/v1/sessions)")
    parser.add_argument("--room", required=True, help="the room's id")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to stay (default 30)")
    parser.add_argument("--record", type=Path, help="write what is heard to this WAV file")
    speak = parser.add_mutually_exclusive_group()
    speak.add_argument("--speak-tone", type=float, metavar="HZ", help="speak a sine tone (needs to be on stage)")
    speak.add_argument("--speak-wav", type=Path, metavar="FILE", help="speak a 16-bit WAV file, looped")
    speak.add_argument("--broadcast", action="store_true", help="listen on the broadcast tier instead of WebRTC")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    return Options(
        args.url, args.token, args.room, args.seconds, args.record, args.speak_tone, args.speak_wav, args.broadcast
    )


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(options))
