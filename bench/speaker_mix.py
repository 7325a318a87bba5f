"""Per-speaker mix bench: what a room's per-speaker mix costs Janus, fixed and per opted-in listener, beside the room's
one mix and a plain listener, all measured in the same run on the same Janus.

    .venv/bin/python bench/speaker_mix.py                  # ~1½ min; needs root for the network namespace
    .venv/bin/python bench/speaker_mix.py --window 5       # quicker
    .venv/bin/python bench/speaker_mix.py --opted-in 20,50,100 --plain 20

Inside a private network namespace (as bench/media.py), one managed Janus configured as ``salon serve`` configures
it, driven through the media port (``JanusMedia``): a room with ``--speakers`` aiortc speakers (4, send-only, so
that this process decodes nothing) each playing a tone, so that every own track carries sound. Janus's CPU
(``/proc/<pid>/stat``) is measured over ``--window`` seconds at each step:

1. **off** — the room and its speakers, nobody opted in (its AudioBridge room has its groups, as every room does;
   the group submixes are summed each tick, but nothing is encoded for them);
2. **on** — one listener opts in through the adapter (``open_speaker_mix``, aiortc) and hangs up: the multistream
   mountpoint and its 5 group forwards stay, so 5 more Opus encodes per 20 ms, with nobody watching;
3. **+ plain** — ``--plain`` listeners of the room's one mix, as light WebRTC receivers that count packets after
   SRTP (bench/media_clients.py, each watching as the adapter does): the cost of a plain listener, for comparison;
4. **+ N opted in** — opted-in listeners the same way, watching the per-speaker mountpoint: the cost per opted-in
   listener is the slope from step 3.

Each step also checks what the load listeners received (5 streams x 50 packets/s for an opted-in one, 50 for a plain
one), so a step where Janus sent less is seen, not averaged in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fanout import cpu_seconds, machine_busy_seconds
from media import (
    BENCH_DIR,
    PACKETS_PER_S,
    STEP_TIMEOUT,
    BenchError,
    Child,
    int_list,
    janus_config,
    local,
    log,
    peer,
    remote,
    run_in_namespace,
)

from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.plugins import janus_id
from salon.adapters.janus.process import ManagedJanus
from salon.adapters.janus.speaker_mix import mix_key
from salon.client.audio import ToneTrack
from salon.domain.speaker_tracks import MIDS

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests` is not installed: the namespace helpers are found from the repository
    sys.path.insert(0, str(REPO))

from tests.support.netns import NetNamespace, create_namespace, delete_namespace  # noqa: E402

ROOM = "speaker-mix-bench"
TONES_HZ = (440.0, 550.0, 660.0, 770.0, 880.0, 990.0)


async def speaker(stack: contextlib.AsyncExitStack, media: JanusMedia, user: str, frequency: float) -> None:
    """A speaker playing a tone, send-only: nothing to decode here, so this process leaves the cores to Janus."""
    await media.admit(ROOM, user, "speaker", muted=False)
    pc = peer()
    stack.push_async_callback(pc.close)
    pc.addTransceiver(ToneTrack(frequency), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    await pc.setRemoteDescription(remote(await media.open_speak(ROOM, user, local(pc))))


async def make_the_mix(media: JanusMedia) -> None:
    """The room's first opt-in, through the adapter as the app makes one (the mountpoint and its group forwards are
    made then), hung up once its offer is answered: the mix stays, with nobody watching it yet."""
    await media.admit(ROOM, "opener", "listener", muted=True)
    pc = peer()
    try:
        await pc.setRemoteDescription(remote(await media.open_speaker_mix(ROOM, "opener")))
        await pc.setLocalDescription(await pc.createAnswer())
        await media.answer_listen(ROOM, "opener", local(pc))
    finally:
        await media.close(ROOM, "opener", "listen")
        await pc.close()


class Totals:
    """The packets each load client's listeners received so far (its count also starts its listeners' deltas)."""

    def __init__(self, totals: dict[str, int]) -> None:
        self.totals = totals

    @classmethod
    async def of(cls, clients: list[Child]) -> Totals:
        totals = {}
        for child in clients:
            await child.tell({"count": True})
            totals[child.name] = int((await child.expect("packets", STEP_TIMEOUT))["packets"])
        return cls(totals)


class Step:
    def __init__(self, janus_pid: int, clients: list[Child]) -> None:
        self.janus_pid, self.clients = janus_pid, clients

    async def measure(self, name: str, window: float, expected: dict[str, int]) -> dict[str, Any]:
        """Janus's CPU over ``window`` s; ``expected``: each client's listeners' packets per second."""
        counted = [c for c in self.clients if c.name in expected]
        before = await Totals.of(counted) if counted else None
        janus0, busy0, began = cpu_seconds(self.janus_pid), machine_busy_seconds(), time.monotonic()
        await asyncio.sleep(window)
        janus1, busy1, elapsed = cpu_seconds(self.janus_pid), machine_busy_seconds(), time.monotonic() - began
        row: dict[str, Any] = {
            "step": name,
            "janus_cpu_pct": round(100 * (janus1 - janus0) / elapsed, 2),
            "machine_busy_pct": round(100 * (busy1 - busy0) / elapsed / (os.cpu_count() or 1), 1),
        }
        for child in counted:
            await child.tell({"count": True})
            answer = await child.expect("packets", STEP_TIMEOUT)
            assert before is not None
            row[f"{child.name}_packets_per_s"] = round((int(answer["packets"]) - before.totals[child.name]) / elapsed)
            if answer["listeners"]:
                per_listener_s = int(answer["min"]) / elapsed
                row[f"{child.name}_listeners"] = answer["listeners"]
                row[f"{child.name}_fewest_packets_per_s"] = round(per_listener_s, 1)
                if answer["silent"] or per_listener_s < 0.9 * expected[child.name]:
                    row[f"{child.name}_short"] = True  # Janus sent less than it should have: do not trust the step
        log(f"  {name}: Janus {row['janus_cpu_pct']} % of a core, machine {row['machine_busy_pct']} % busy")
        return row


async def add(child: Child, n: int) -> None:
    await child.tell({"add": n, "concurrency": 5, "timeout": 30.0})
    answer = await child.expect("added", 60.0 + n)
    if answer["failed"]:
        raise BenchError(f"{child.name}: {answer['failed']} listeners failed to join: {answer['errors']}")


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    clients: list[Child] = []
    async with (
        ManagedJanus(tmp / "janus", janus_config()) as janus,
        JanusMedia(janus.url, janus.api_secret, janus.admin_key, speaker_mix_listeners=10_000) as media,
        contextlib.AsyncExitStack() as stack,
    ):
        janus_pid = janus.pid
        if janus_pid is None:
            raise BenchError("Janus has no pid")
        await media.create_room(ROOM)
        for k in range(args.speakers):
            await speaker(stack, media, f"speaker-{k}", TONES_HZ[k % len(TONES_HZ)])
        step = Step(janus_pid, clients)
        try:
            for name, mountpoint in (("opted_in", janus_id(mix_key(ROOM))), ("plain", janus_id(ROOM))):
                argv = [sys.executable, str(BENCH_DIR / "media_clients.py")]
                child = await Child.start(name, argv, tmp / f"{name}.log")
                clients.append(child)
                await child.tell({"janus": janus.url, "api_secret": janus.api_secret, "mountpoint": mountpoint})
                await child.expect("ready", STEP_TIMEOUT)
            opted, plain = clients
            await asyncio.sleep(args.settle)
            log(f"off: {args.speakers} speakers, nobody opted in …")
            rows.append(await step.measure("off", args.window, {}))
            await make_the_mix(media)
            current = 0
            await asyncio.sleep(args.settle)
            log("on: the mix made, nobody watching …")
            rows.append(await step.measure("on", args.window, {}))
            per_stream = {opted.name: PACKETS_PER_S * len(MIDS), plain.name: PACKETS_PER_S}
            if args.plain:
                await add(plain, args.plain)
                await asyncio.sleep(args.settle)
                log(f"on: {args.plain} plain listeners …")
                rows.append(await step.measure(f"on + {args.plain} plain", args.window, per_stream))
            for target in args.opted_in:
                if target <= current:
                    continue
                await add(opted, target - current)
                current = target
                await asyncio.sleep(args.settle)
                log(f"on: {current} opted-in listeners (and the plain ones) …")
                rows.append(await step.measure(f"on + {current} opted in", args.window, per_stream))
        finally:
            for child in clients:
                await child.stop()
    return {"speakers": args.speakers, "window_s": args.window, "steps": rows, "summary": summary(rows, args)}


def summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The fixed cost (off → on, nobody watching), then the slopes: per plain listener (the ``--plain`` step over
    "on"), per opted-in listener (the biggest opted-in step Janus fully served, over the step before them)."""
    by_name = {row["step"]: row for row in rows}
    off, on = by_name["off"]["janus_cpu_pct"], by_name["on"]["janus_cpu_pct"]
    out: dict[str, Any] = {"off_cpu_pct": off, "on_cpu_pct": on, "mix_on_pct": round(on - off, 2)}
    base = on
    if args.plain:
        plain = by_name[f"on + {args.plain} plain"]
        out["per_plain_listener_pct"] = round((plain["janus_cpu_pct"] - on) / args.plain, 3)
        out["us_per_plain_listener_packet"] = per_packet(plain["janus_cpu_pct"] - on, plain["plain_packets_per_s"])
        base = plain["janus_cpu_pct"]
    # A step where some listener got short is Janus (or the clients) starved, not measured.
    opted = [n for n in args.opted_in if n > 0 and not by_name[f"on + {n} opted in"].get("opted_in_short")]
    if opted:
        most = max(opted)
        top = by_name[f"on + {most} opted in"]
        out[f"on_{most}_opted_in_cpu_pct"] = top["janus_cpu_pct"]
        out["per_opted_in_listener_pct"] = round((top["janus_cpu_pct"] - base) / most, 3)
        out["us_per_opted_in_listener_packet"] = per_packet(top["janus_cpu_pct"] - base, top["opted_in_packets_per_s"])
    return out


def per_packet(cpu_pct: float, packets_per_s: float) -> float | None:
    """Janus's CPU (percent of a core) per packet it sent each second, in µs."""
    return round(cpu_pct / 100 / packets_per_s * 1e6, 1) if packets_per_s else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=4, choices=range(1, len(TONES_HZ) + 1))
    parser.add_argument("--opted-in", type=int_list, default=[20, 50], help="opted-in listener counts, in order")
    parser.add_argument("--plain", type=int, default=20, help="plain listeners added at the end (0: none)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds of Janus CPU measured per step")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/speaker_mix.py needs root: it creates a private network namespace", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="salon-speaker-mix-"))
    ns: NetNamespace | None = None
    try:
        ns = create_namespace("salon-smix")
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
