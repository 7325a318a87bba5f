"""Broadcast bench with a real stage: N listeners of one room on Salon's broadcast worker, fed by Janus's real
forward of two speakers, with Janus, ``salon serve`` and the load clients on the same cores. Bench layer.

    .venv/bin/python bench/broadcast_stage.py --quick      # 1,000 and 2,500 listeners at the policy's chunk, 3 s
    .venv/bin/python bench/broadcast_stage.py              # 1,000 / 2,500 / 5,000 / 10,000; policy, inf:40, inf:120
    .venv/bin/python bench/broadcast_stage.py --listeners 1000 --chunks policy --window 3

Needs root (a private network namespace: WebRTC cannot run on loopback alone; docs/ARCHITECTURE.md, "Testing real
audio") and a C compiler. Per chunk setting (``policy`` = ``SALON_BROADCAST_CHUNKS``'s default, or a value such as
``inf:40``) it starts ``salon serve`` (SQLite in a temporary folder, its managed Janus, ``SALON_BROADCAST_WORKERS=1``,
a known secret key, ``SALON_BROADCAST_MAX_LISTENERS`` = the largest N + 100); two members speak tones (440 and 880 Hz)
on stage over WebRTC and one member listens on the broadcast tier (``media_stream``, which makes Salon register
the room on the worker and start Janus's forward), each in its own process (``bench/stage_member.py``). Then, per
listener count N:

1. The bench mints N tickets itself (``sign_ticket``, the secret ``broadcast_secret`` derives from the known key, one
   user each) and ``bench/stream_load.c`` opens the N streams on the worker: the tickets skip Salon's WebSocket (the
   hub's fan-out is benchmarked in ``bench/fanout.py``), the streams are the worker's, fed by the real forward.
2. ``bench/rtp_capture.py`` timestamps Janus's forward packets on ``lo`` (kernel time, ``CLOCK_REALTIME``); the
   clients log each record's sequence number and read time (``--seq-log``); ``bench/stage_latency.py`` joins them.
3. Over the window: delivered, latency (read - forward) p50/p95/p99, the worker's CPU per listener-second and per
   write (writes = listeners x ``chunks_out`` from its ``/v1/stats``), its RSS per listener, and the CPU of Janus,
   ``salon serve``, the speakers, the member, the load clients, the capture, this process and everything else.
4. Right after, ``bench/broadcast.py``'s bar (a bare ``os.write`` loop) with the same N and chunk: the ratio.

Every child dies with the bench (``PR_SET_PDEATHSIG``), every wait has a timeout, ``--timeout`` bounds the run. One
JSON line per configuration as it is measured, then a Markdown table and a verdict line per target. Exit status: 1
if a configuration could not be measured, 2 if a policy row delivered under 99.9 % or a listener failed to connect.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import media
from broadcast import Bench, cpu_split, rss_kb
from broadcast_report import Config, Row
from broadcast_servers import mint_tickets
from fanout import BenchError, cpu_seconds, machine, machine_busy_seconds, raise_fd_limit
from stage_latency import join
from stage_report import tables, verdicts
from stage_setup import Stage
from stream_load import LoadClients, build

from tests.support.netns import NetNamespace, create_namespace, delete_namespace

CAPTURE_LEAD_NS = 2_000_000_000  # forward times kept from this long before the window (reads late by up to this)
Failure = (BenchError, media.BenchError)


def log(message: str) -> None:
    """Progress on stderr (stdout holds the JSON rows and the tables), as bench/broadcast.py."""
    print(f"[{time.monotonic() - media.STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def cpu_by_group(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}


async def sleep_until_real(ns: int) -> None:
    left = (ns - time.time_ns()) / 1e9
    if left > 0:
        await asyncio.sleep(left)


def snapshot(stage: Stage, groups: dict[str, list[int]]) -> dict[str, Any]:
    """The clock and the CPU counters first, together; the worker's counts (an HTTP request) after them."""
    taken = {"t": time.monotonic(), "busy": machine_busy_seconds(), "worker": cpu_split(stage.worker_pid)}
    return taken | {"cpu": cpu_by_group(groups), "counts": stage.counts()}


async def measure(stage: Stage, chunks: str, n: int, binary: Path, tag: str) -> dict[str, Any]:
    """N listeners on the worker: the member who asked Salon for the stream and N - 1 load clients."""
    args = stage.args
    load = n - 1
    if stage.rss_base_kb is None:  # before any load listener; later counts reuse what the earlier ones freed
        stage.rss_base_kb = rss_kb(stage.worker_pid)
    tickets = stage.tmp / f"{tag}-tickets.txt"
    lifetime = int(args.connect_timeout) + 60
    tickets.write_text("\n".join(mint_tickets(stage.secret, stage.room, stage.name, load, lifetime)) + "\n")
    clients = LoadClients(
        binary, port=stage.listen, path=f"/v1/stream/{stage.room}", tickets=tickets, count=load,
        procs=args.client_procs, logs=stage.tmp, tag=tag, concurrency=args.connect_concurrency,
        connect_timeout=args.connect_timeout, seq_logs=True,
    )  # fmt: skip
    try:
        ready = await asyncio.to_thread(clients.wait_ready)
        await asyncio.sleep(args.settle)
        rss1 = rss_kb(stage.worker_pid)
        chunk_ms = stage.counts()["chunk_ms"]
        tail_ns = int((1.0 + 2 * chunk_ms / 1000) * 1e9)  # the window's last chunk reaches everyone
        from_ns = time.time_ns() + 300_000_000
        to_ns = from_ns + int(args.window * 1e9)
        await asyncio.to_thread(clients.window, from_ns, to_ns + tail_ns)
        groups = stage.pids() | {"load_clients": clients.pids}
        await sleep_until_real(from_ns)
        before = snapshot(stage, groups)
        await sleep_until_real(to_ns)
        after = snapshot(stage, groups)
        await sleep_until_real(to_ns + tail_ns + 200_000_000)
        report = await asyncio.to_thread(clients.report)
        await stage.capture.tell({"report": [from_ns - CAPTURE_LEAD_NS, to_ns + tail_ns]})
        captured = (await stage.capture.expect("report", 30.0))["report"]
        await stage.member.tell({"report": True})
        member = (await stage.member.expect("report", 10.0))["report"]
    finally:
        await asyncio.to_thread(clients.stop)
    delivery = join(captured["packets"], clients.seq_logs, load, from_ns, to_ns)
    window_s = after["t"] - before["t"]
    worker_sys = after["worker"][1] - before["worker"][1]
    worker_cpu = sum(after["worker"]) - sum(before["worker"])
    counts0, counts1 = before["counts"], after["counts"]
    listeners = (counts0["listeners"] + counts1["listeners"]) / 2
    writes = listeners * (counts1["chunks_out"] - counts0["chunks_out"])
    cpu = {name: round(after["cpu"][name] - cpu0, 3) for name, cpu0 in before["cpu"].items()}
    cpu = cpu | {"worker": round(worker_cpu, 3)}
    cpu["other"] = round((after["busy"] - before["busy"]) - sum(cpu.values()), 3)
    row = {
        "listeners": n,
        "load_listeners": load,
        "worker_listeners": counts1["listeners"],
        "chunks": chunks,
        "policy": stage.policy,
        "chunk_ms": counts1["chunk_ms"],
        "window_s": round(window_s, 2),
        **delivery,
        "connected": report.connected,
        "connect_failures": ready["failures"],
        "connect_s": ready["connect_s"],
        "stream": {k: report.counters.get(k, 0) for k in ("dups", "reorders", "gaps", "protocol_errors")},
        "closed": report.closed,
        "notices": report.notices,
        "worker_us_per_listener_s": round(worker_cpu * 1e6 / (listeners * window_s), 2) if listeners else 0.0,
        "writes": round(writes),
        "worker_us_per_write": round(worker_cpu * 1e6 / writes, 3) if writes else 0.0,
        "worker_kernel_share": round(worker_sys / worker_cpu, 3) if worker_cpu else 0.0,
        "worker_rss_kb_per_listener": round((rss1 - stage.rss_base_kb) / max(1, int(ready["ready"])), 2),
        "worker_rss_mb": round(rss1 / 1024, 1),
        "cpu_s": cpu,
        "clients_us_per_listener_s": round(cpu["load_clients"] * 1e6 / (load * window_s), 2),
        "worker_packets_in_window": counts1["packets_in"] - counts0["packets_in"],  # vs forwarded_in_window
        "dropped_slow": counts1["dropped"],
        "rejected_packets": counts1["rejected_packets"],
        "forward_ssrcs": captured["ssrcs"],
        "member": member,
    }
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


async def run(args: argparse.Namespace, tmp: Path) -> tuple[list[dict[str, Any]], list[Row], list[str]]:
    binary = build(tmp)
    bar_bench = Bench(args, tmp, binary)
    rows: list[dict[str, Any]] = []
    bars: list[Row] = []
    failed: list[str] = []
    for i, chunks in enumerate(args.chunk_settings):
        stage = Stage(args, tmp, chunks, f"s{i}")
        try:
            log(f"chunks {chunks}: salon serve, Janus, two speakers and a member on the broadcast tier …")
            await stage.start()
            log(f"  worker {stage.name} (pid {stage.worker_pid}), Janus pid {stage.janus_pid}: the forward flows")
            for n in args.listener_counts:
                log(f"{n} listeners, chunks {chunks} …")
                try:
                    row = await measure(stage, chunks, n, binary, f"s{i}-{n}")
                except Failure as exc:
                    failed.append(f"{n} listeners, chunks {chunks}: {exc}")
                    log(f"  FAILED: {exc}")
                    continue
                rows.append(row)
                log(
                    f"  {row['delivered_fraction'] * 100:.3f} % delivered, latency {row['latency_ms']} ms, "
                    f"{row['worker_us_per_listener_s']} µs/listener-s, {row['worker_us_per_write']} µs/write"
                )
                if args.no_bar:
                    continue
                log(f"  the bar, {n} listeners, {row['chunk_ms']} ms chunks …")
                try:
                    bar = await asyncio.to_thread(bar_bench.measure, Config("bar", n, str(row["chunk_ms"])))
                except Failure as exc:
                    failed.append(f"bar, {n} listeners: {exc}")
                    log(f"  FAILED: {exc}")
                    continue
                bars.append(bar)
                row["bar_us_per_write"] = round(bar.us_per_write, 3)
                row["ratio"] = round(row["worker_us_per_write"] / bar.us_per_write, 3) if bar.us_per_write else None
        except Failure as exc:
            failed.append(f"chunks {chunks}: {exc}")
            log(f"  FAILED: {exc}")
        finally:
            await stage.stop()
    return rows, bars, failed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", default="1000,2500,5000,10000", help="listener counts, comma-separated")
    parser.add_argument("--chunks", default="policy;inf:40;inf:120", help="';'-separated: policy or a --chunks value")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per configuration")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between the last connect and the window")
    parser.add_argument("--client-procs", type=int, default=os.cpu_count() or 1, help="load client processes")
    parser.add_argument("--connect-concurrency", type=int, default=256, help="connects in flight, all processes")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--no-bar", action="store_true", help="the worker only (no ratio)")
    parser.add_argument("--quick", action="store_true", help="1,000 and 2,500 listeners, policy, 3 s windows")
    parser.add_argument("--timeout", type=float, default=3600.0, help="the whole run, seconds")
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, tickets, seq logs)")
    args = parser.parse_args()
    if args.quick:
        args.listeners, args.chunks, args.window, args.settle = "1000,2500", "policy", 3.0, 1.0
    args.listener_counts = [int(v) for v in args.listeners.split(",") if v.strip()]
    args.chunk_settings = [v.strip() for v in args.chunks.split(";") if v.strip()]
    if not args.listener_counts or min(args.listener_counts) < 2 or args.client_procs < 1 or args.window <= 0:
        parser.error("--listeners must be >= 2 (the member and a load client), --client-procs and --window positive")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))  # run the clean-up below, then leave
    if os.geteuid() != 0:
        print("bench/broadcast_stage.py needs root: it creates a private network namespace", file=sys.stderr)
        return 1
    if raise_fd_limit() < max(args.listener_counts) + 300:
        print("the open-file limit is too low for the largest listener count", file=sys.stderr)
        return 1
    info = machine()
    log(f"machine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, Linux {info['kernel']}")
    log(f"code: {info['revision']}; load average now {Path('/proc/loadavg').read_text().split()[:3]}")
    tmp = Path(tempfile.mkdtemp(prefix="salon-broadcast-stage-"))
    ns: NetNamespace | None = None
    try:
        ns = create_namespace("salon-stage")
        log(f"namespace {ns.name} ({ns.interface_kind} {ns.interface} {ns.address})")
        outcome: dict[str, Any] = {}

        async def inside() -> dict[str, Any]:
            outcome["rows"], outcome["bars"], outcome["failed"] = await run(args, tmp)
            return outcome

        media.run_in_namespace(ns, inside, args.timeout)
    except (*Failure, TimeoutError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if ns is not None:
            delete_namespace(ns)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    rows, failed = outcome["rows"], outcome["failed"]
    print()
    print(tables(rows))
    print()
    for line in verdicts(rows):
        print(line)
    for failure in failed:
        print(f"FAILED {failure}", file=sys.stderr)
    if args.json:
        bars = [bar.as_json() for bar in outcome["bars"]]
        document = {"machine": info, "date": time.strftime("%Y-%m-%d"), "rows": rows, "bars": bars, "failed": failed}
        args.json.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    if failed:
        return 1
    short = [r for r in rows if r["chunks"] == "policy" and (r["delivered_fraction"] < 0.999 or r["connect_failures"])]
    return 2 if short else 0


if __name__ == "__main__":
    sys.exit(main())
