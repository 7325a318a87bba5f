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
3. **Listeners per channel** (``--listeners 1,50,200``) — a room with a talking floor speaker and a ``ru`` channel
   with a live interpreter; for each N, N light WebRTC listeners (``bench/media_clients.py``, the processes
   bench/media.py measures its ~1,000 listeners a box with: real ICE, DTLS and SRTP, packets counted after SRTP)
   on the room's Original, measured over ``--window`` s, then stopped, then N on the ``ru`` channel, measured the
   same way. Janus's CPU and µs per listener-packet for each, and the channel's as a ratio of the Original's with
   the same N in the same run (so the machine's other load weighs on both alike).

    .venv/bin/python bench/interpretation.py --phases listeners --listeners 1,50,200
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
    BENCH_DIR,
    HEARD_DBFS,
    QUIET_DBFS,
    STEP_TIMEOUT,
    BenchError,
    Child,
    OnsetLog,
    int_list,
    janus_config,
    janus_listener,
    janus_speaker,
    local,
    log,
    measure_window,
    ms,
    pcts,
    peer,
    remote,
    run_in_namespace,
    until,
)

from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.media_channels import channel_key
from salon.adapters.janus.plugins import janus_id
from salon.adapters.janus.process import ManagedJanus
from salon.client.audio import ToneTrack
from salon.domain.interpretation import DEFAULT_DUCKING_DB, Booth

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests` is not installed: the namespace helpers are found from the repository
    sys.path.insert(0, str(REPO))

from tests.support.netns import NetNamespace, create_namespace, delete_namespace  # noqa: E402

ROOM = "interpretation-bench"  # the cost phase's room
LATENCY_ROOM = "interpretation-latency"
AUDIENCE_ROOM = "interpretation-audience"  # the listeners phase's
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


async def audience(
    janus: ManagedJanus, media: JanusMedia, counts: list[int], window: float, tmp: Path, *, channel_first: bool
) -> dict[str, Any]:
    """N light WebRTC listeners on the Original, then N on a channel, for each N: Janus's cost of each."""
    pid = janus.pid
    if pid is None:
        raise BenchError("Janus has no pid")
    room = AUDIENCE_ROOM
    mountpoints = {"original": janus_id(room), "channel": janus_id(channel_key(room, "ru"))}
    order = ("channel", "original") if channel_first else ("original", "channel")  # the machine's load drifts
    rows: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        await media.create_room(room)
        await media.create_channel(room, "ru", DEFAULT_DUCKING_DB)
        await media.admit(room, "speaker", "speaker", muted=False)
        await media.admit(room, "probe", "listener", muted=True)
        heard, ears = await janus_listener(stack, media, room, "probe")
        path = await janus_speaker(stack, media, room, "speaker")
        path.heard, path.ears = heard, ears
        user = "interpreter-ru"
        await media.set_booth(room, Booth("ru", (user,), live=user))
        pc = peer()
        stack.push_async_callback(pc.close)
        pc.addTrack(ToneTrack(660.0))
        await pc.setLocalDescription(await pc.createOffer())
        await pc.setRemoteDescription(remote(await media.open_interpret(room, "ru", user, local(pc))))
        await until(lambda: len(path.sent) >= 25, "0.5 s of the speaker's packets")
        await asyncio.sleep(1.0)
        stop = asyncio.Event()  # the speaker switches the tone on and off, as in the windows with listeners
        talker = asyncio.create_task(path.onsets(OnsetLog(), stop=stop))
        before, began = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(window)
        idle = (cpu_seconds(pid) - before) / (time.monotonic() - began)
        stop.set()
        await talker
        rows.append({"listeners": 0, "janus_cpu_pct": round(100 * idle, 2)})
        log(f"listeners: none, Janus {rows[0]['janus_cpu_pct']} % of a core")
        for n in counts:
            row: dict[str, Any] = {"listeners": n}
            for where in order:
                mountpoint = mountpoints[where]
                child = await Child.start(
                    f"{where}-{n}", [sys.executable, str(BENCH_DIR / "media_clients.py")], tmp / f"{where}-{n}.log"
                )
                try:
                    await child.tell({"janus": janus.url, "api_secret": janus.api_secret, "mountpoint": mountpoint})
                    await child.expect("ready", STEP_TIMEOUT)
                    await child.tell({"add": n, "concurrency": 20, "timeout": 30.0})
                    added = await child.expect("added", 60.0 + n)
                    if added["failed"]:
                        raise BenchError(f"{where}: {added['failed']} listeners failed to join: {added['errors']}")
                    await asyncio.sleep(2.0)
                    w = await measure_window(pid, [child], n, window, path)
                finally:
                    await child.stop()
                packets = max(1, w.packets)
                row[where] = {
                    "janus_cpu_pct": round(100 * w.janus_cpu_s / w.seconds, 2),
                    "janus_cpu_over_none_pct": round(100 * (w.janus_cpu_s / w.seconds - idle), 2),
                    "janus_us_per_listener_packet": round(w.janus_cpu_s * 1e6 / packets, 1),
                    # What the listeners add: Janus's CPU over the idle window's (the mixes), per listener-packet.
                    "janus_us_per_listener_packet_over_none": round(
                        (w.janus_cpu_s - idle * w.seconds) * 1e6 / packets, 1
                    ),
                    "delivered": round(w.packets / w.expected, 4) if w.expected else None,
                    "clients_cpu_pct": round(100 * w.clients_cpu_s / w.seconds, 2),
                    "machine_busy": round(w.machine_busy_s / (w.seconds * (os.cpu_count() or 1)), 3),
                }
                log(f"listeners: {n} on the {where}: {row[where]}")
            original, channel = row["original"], row["channel"]
            row["channel_over_original"] = {
                "janus_cpu": round(channel["janus_cpu_pct"] / original["janus_cpu_pct"], 3),
                "added_by_the_listeners": round(
                    channel["janus_cpu_over_none_pct"] / original["janus_cpu_over_none_pct"], 3
                )
                if original["janus_cpu_over_none_pct"] > 0
                else None,
                "us_per_listener_packet": round(
                    channel["janus_us_per_listener_packet"] / original["janus_us_per_listener_packet"], 3
                ),
            }
            rows.append(row)
        await media.destroy_room(room)
    return {"window_s": window, "order": order, "rows": rows}


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    probes.install()
    results: dict[str, Any] = {}
    async with (
        ManagedJanus(tmp / "janus", janus_config()) as janus,
        JanusMedia(janus.url, janus.api_secret, janus.admin_key) as media,
    ):
        if "cost" in args.phases:
            await media.create_room(ROOM)
            log(f"cost: the room alone, then with {args.channels} channels …")
            results["cost"] = await cost(janus, media, args.channels, args.window)
            await media.destroy_room(ROOM)
        if "latency" in args.phases:
            log(f"latency: {args.onsets} onsets …")
            results["latency"] = await latency(media, args.onsets)
        if "listeners" in args.phases:
            log(f"listeners per channel: {args.listeners} on the Original, then on a channel …")
            results["listeners"] = await audience(
                janus, media, args.listeners, args.window, tmp, channel_first=args.channel_first
            )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--onsets", type=int, default=40)
    parser.add_argument("--channels", type=int, default=len(LANGUAGES), choices=range(1, len(LANGUAGES) + 1))
    parser.add_argument("--window", type=float, default=10.0, help="seconds of Janus CPU measured per step")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--phases", type=lambda s: s.split(","), default=["cost", "latency", "listeners"], help="cost,latency,listeners"
    )
    parser.add_argument("--channel-first", action="store_true", help="listeners phase: each N on the channel first")
    parser.add_argument("--listeners", type=int_list, default=[1, 50, 200], help="listener counts, e.g. 1,50,200")
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
