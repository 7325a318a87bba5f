"""Interpretation bench: the latency an interpretation channel adds to the floor, and what a channel costs Janus.

    .venv/bin/python bench/interpretation.py                # ~1 min; needs root for the network namespace
    .venv/bin/python bench/interpretation.py --onsets 20    # a quicker run

Inside a private network namespace (as bench/media.py), one managed Janus configured as ``salon serve`` configures
it, driven through the media port (``JanusMedia``): a room with one ``ru`` channel (``create_channel``, nobody live,
so the channel carries the floor at full level), an aiortc floor speaker switching a 440 Hz tone on and off, and
two aiortc listeners: one on the Original (the floor's mountpoint), one on the channel (``open_channel_listen``).

1. **Latency** — each onset is timed at the packets (``bench/media_probes.py``: before aiortc's jitter buffer) from
   the speaker's first packet holding the tone to each listener's first; the channel path's added latency is the
   difference per onset (both listeners hear the same onset, so the instrument's share cancels out).
2. **Cost** — Janus's CPU (``/proc/<pid>/stat``) over ``--window`` seconds with the speaker talking, for the room
   alone and then with ``--channels`` channels (each with one listener and a live interpreter speaking a tone):
   the difference per channel.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import media_probes as probes
from fanout import cpu_seconds
from media import (
    HEARD_DBFS,
    QUIET_DBFS,
    BenchError,
    janus_config,
    janus_listener,
    janus_speaker,
    local,
    log,
    ms,
    pcts,
    peer,
    remote,
    run_in_namespace,
    until,
)

from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.process import ManagedJanus
from salon.client.audio import ToneTrack
from salon.domain.interpretation import DEFAULT_DUCKING_DB, Booth

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests` is not installed: the namespace helpers are found from the repository
    sys.path.insert(0, str(REPO))

from tests.support.netns import NetNamespace, create_namespace, delete_namespace  # noqa: E402

ROOM = "interpretation-bench"  # the cost phase's room
LATENCY_ROOM = "interpretation-latency"
LANGUAGES = ("ru", "fr", "de", "es")
TONE_HZ = 440.0
TONE_ON_S = 0.2


async def latency(media: JanusMedia, onsets: int) -> dict[str, Any]:
    room = LATENCY_ROOM
    await media.create_room(room)
    await media.create_channel(room, "ru", DEFAULT_DUCKING_DB)  # nobody live: the floor at full level
    async with contextlib.AsyncExitStack() as stack:
        await media.admit(room, "original", "listener", muted=False)
        await media.admit(room, "channel", "listener", muted=False)
        await media.admit(room, "speaker", "speaker", muted=False)
        floor_heard, _ = await janus_listener(stack, media, room, "original")
        channel_heard = await channel_listener(stack, media, room, "ru", "channel")
        speaker = await janus_speaker(stack, media, room, "speaker")
        await until(lambda: len(speaker.sent) >= 25, "0.5 s of the speaker's packets")
        floor_ns: list[int] = []
        channel_ns: list[int] = []
        added_ns: list[int] = []
        missed = 0
        for _ in range(onsets):
            await asyncio.sleep(0.3)
            speaker.tone.set_frequency(TONE_HZ)
            await until(lambda: speaker.tone.changed_at is not None, "the tone to go out")
            switched = int((speaker.tone.changed_at or 0) * 1e9)
            try:
                await until(
                    lambda: all(
                        p.onset(switched, HEARD_DBFS) is not None  # noqa: B023
                        for p in (speaker.sent, floor_heard, channel_heard)
                    ),
                    "the tone at every end",
                    timeout=2.0,
                )
            except BenchError:
                missed += 1
                continue
            finally:
                await asyncio.sleep(TONE_ON_S)
                speaker.tone.set_frequency(None)
            sent = speaker.sent.onset(switched, HEARD_DBFS)
            at_floor, at_channel = floor_heard.onset(switched, HEARD_DBFS), channel_heard.onset(switched, HEARD_DBFS)
            assert sent is not None
            assert at_floor is not None
            assert at_channel is not None
            if not all(
                p.quiet_before(t, 5, QUIET_DBFS)
                for p, t in ((floor_heard, at_floor), (channel_heard, at_channel), (speaker.sent, sent))
            ):
                missed += 1
                continue
            floor_ns.append(at_floor - sent)
            channel_ns.append(at_channel - sent)
            added_ns.append(at_channel - at_floor)
        return {
            "onsets": len(added_ns),
            "missed_or_rejected": missed,
            "floor_path_ms": pcts(floor_ns),
            "channel_path_ms": pcts(channel_ns),
            "added_by_channel_ms": pcts(added_ns),
            "added_mean_ms": ms(statistics.fmean(added_ns)) if added_ns else None,
        }


async def channel_listener(
    stack: contextlib.AsyncExitStack, media: JanusMedia, room: str, language: str, user: str
) -> probes.PacketLevels:
    pc = peer()
    stack.push_async_callback(pc.close)
    offer = await media.open_channel_listen(room, language, user)
    await pc.setRemoteDescription(remote(offer))
    await pc.setLocalDescription(await pc.createAnswer())
    [receiver] = pc.getReceivers()
    heard = probes.PacketLevels()
    probes.watch_received(receiver, heard)
    await media.answer_listen(room, user, local(pc))
    await until(lambda: len(heard) >= 10, "the channel listener's first packets")
    return heard


async def interpreter(stack: contextlib.AsyncExitStack, media: JanusMedia, language: str) -> None:
    """A live interpreter speaking a tone into ``language``, and one listener of that channel."""
    user = f"interpreter-{language}"
    await media.set_booth(ROOM, Booth(language, (user,), live=user))
    pc = peer()
    stack.push_async_callback(pc.close)
    pc.addTrack(ToneTrack(660.0))
    await pc.setLocalDescription(await pc.createOffer())
    await pc.setRemoteDescription(remote(await media.open_interpret(ROOM, language, user, local(pc))))
    await media.admit(ROOM, f"listener-{language}", "listener", muted=True)
    await channel_listener(stack, media, ROOM, language, f"listener-{language}")


async def cost(janus: ManagedJanus, media: JanusMedia, channels: int, window: float) -> dict[str, Any]:
    pid = janus.pid
    if pid is None:
        raise BenchError("Janus has no pid")

    async def busy() -> float:
        before, began = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(window)
        return (cpu_seconds(pid) - before) / (time.monotonic() - began)

    async with contextlib.AsyncExitStack() as stack:
        await media.admit(ROOM, "talker", "speaker", muted=False)
        talker = await janus_speaker(stack, media, ROOM, "talker")
        talker.tone.set_frequency(TONE_HZ)
        await asyncio.sleep(1.0)
        base = await busy()
        for language in LANGUAGES[:channels]:
            await media.create_channel(ROOM, language, DEFAULT_DUCKING_DB)
            await interpreter(stack, media, language)
        await asyncio.sleep(1.0)
        loaded = await busy()
    return {
        "window_s": window,
        "room_alone_cpu_pct": round(100 * base, 2),
        f"with_{channels}_channels_cpu_pct": round(100 * loaded, 2),
        "per_channel_cpu_pct": round(100 * (loaded - base) / channels, 2),
    }


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    probes.install()
    results: dict[str, Any] = {}
    async with (
        ManagedJanus(tmp / "janus", janus_config()) as janus,
        JanusMedia(janus.url, janus.api_secret, janus.admin_key) as media,
    ):
        await media.create_room(ROOM)
        log(f"cost: the room alone, then with {args.channels} channels …")
        results["cost"] = await cost(janus, media, args.channels, args.window)
        await media.destroy_room(ROOM)
        log(f"latency: {args.onsets} onsets …")
        results["latency"] = await latency(media, args.onsets)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onsets", type=int, default=40)
    parser.add_argument("--channels", type=int, default=len(LANGUAGES), choices=range(1, len(LANGUAGES) + 1))
    parser.add_argument("--window", type=float, default=10.0, help="seconds of Janus CPU measured per step")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/interpretation.py needs root: it creates a private network namespace", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="salon-interpretation-"))
    ns: NetNamespace | None = None
    try:
        ns = create_namespace("salon-booth")
        results = run_in_namespace(ns, lambda: run(args, tmp), args.timeout)
    except (BenchError, TimeoutError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if ns is not None:
            delete_namespace(ns)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
