"""Broadcast bench, the load client's wrapper: builds ``bench/stream_load.c`` and runs a share of the listeners each.

``bench/broadcast.py`` uses ``LoadClients``; it also runs by itself against a node that is already up:

    .venv/bin/python bench/stream_load.py --port 8100 --room r1 --tickets tickets.txt --count 5000 --window 10

A Python client costs ~10–12 µs per frame received (``bench/fanout_clients.py``); at 10,000 listeners that would
be most of a core of this 2-core machine, so the listeners are a small epoll loop in C (about 1–2 µs per read). It is
compiled at run time with the system ``cc`` into a temporary folder (no binary in the repository). ``procs``
processes split the connections between them (default: one per core); each raises its open-file limit to the hard
limit. See the C file's header for what it parses and measures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fanout import BenchError, Child, raise_fd_limit

BENCH_DIR = Path(__file__).resolve().parent
SOURCE = BENCH_DIR / "stream_load.c"
BIN_MS = 0.1  # the C client's latency histogram bins


def build(folder: Path, *, tls: bool = False) -> Path:
    """Compiles the client into ``folder``; a missing compiler or a compile error is a BenchError with cc's words.

    ``tls``: a second binary with OpenSSL (``--tls 1``; needs libssl-dev); the plain one links neither library."""
    compiler = shutil.which("cc")
    if compiler is None:
        raise BenchError("no C compiler (`cc`) on this machine: install gcc (Debian: apt-get install gcc)")
    binary = folder / ("stream_load_tls" if tls else "stream_load")
    argv = [compiler, "-O2", "-Wall", "-Wextra", "-o", str(binary), str(SOURCE)]
    if tls:
        argv[1:1] = ["-DSTREAM_TLS"]
        argv += ["-lssl", "-lcrypto"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603 - the system cc
    if done.returncode != 0:
        raise BenchError(f"compiling {SOURCE.name} failed:\n{done.stderr}")
    return binary


@dataclass
class LoadReport:
    """The clients' reports merged."""

    connections: int = 0
    connected: int = 0
    open: int = 0
    per_listener: list[int] = field(default_factory=list)  # audio records sent in the window, per connection
    histogram: dict[int, int] = field(default_factory=dict)  # latency bin (0.1 ms) -> records
    counters: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    chunk_ms: set[int] = field(default_factory=set)
    cpu_s: float = 0.0

    def add(self, part: dict[str, Any]) -> None:
        self.connections += int(part["connections"])
        self.connected += int(part["connected"])
        self.open += int(part["open"])
        self.per_listener.extend(int(v) for v in part["per_listener"])
        for bin_, count in part["latency_hist_100us"]:
            self.histogram[int(bin_)] = self.histogram.get(int(bin_), 0) + int(count)
        for key in (
            "hellos", "records", "in_window", "dups", "reorders", "gaps", "bad_records", "audio_before_hello",
            "protocol_errors", "negative_latency", "bytes", "reads",
        ):  # fmt: skip
            self.counters[key] = self.counters.get(key, 0) + int(part[key])
        self.counters["latency_max_ns"] = max(self.counters.get("latency_max_ns", 0), int(part["latency_max_ns"]))
        for mine, theirs in (
            (self.failures, part["failures"]),
            (self.notices, part["notices"]),
            (self.closed, part["closed"]),
        ):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + int(count)
        self.chunk_ms.update(v for v in part["chunk_ms"] if v >= 0)
        self.cpu_s += float(part["cpu_user_s"]) + float(part["cpu_sys_s"])

    def latency_ms(self, p: float) -> float:
        """Nearest-rank percentile of the window's latencies, as the upper edge of its 0.1 ms bin."""
        total = sum(self.histogram.values())
        if not total:
            return 0.0
        rank = max(1, min(total, round(p / 100 * total + 0.5)))
        seen = 0
        for bin_ in sorted(self.histogram):
            seen += self.histogram[bin_]
            if seen >= rank:
                return round((bin_ + 1) * BIN_MS, 1)
        raise AssertionError("unreachable")


class LoadClients:
    """``procs`` stream_load processes, ``count`` connections in all, tickets ``[0, count)`` of ``tickets``."""

    def __init__(
        self,
        binary: Path,
        *,
        port: int,
        path: str,
        tickets: Path,
        count: int,
        procs: int,
        logs: Path,
        tag: str,
        concurrency: int = 256,
        connect_timeout: float = 120.0,
        tls: bool = False,
        seq_logs: bool = False,
    ) -> None:
        per = -(-count // procs)
        self.children: list[Child] = []
        self.seq_logs: list[Path] = []  # --seq-log files (read times on CLOCK_REALTIME; bench/broadcast_stage.py)
        self.connect_timeout = connect_timeout
        for k in range(procs):
            start = k * per
            share = min(per, count - start)
            if share <= 0:
                break
            argv = [
                str(binary),
                *("--port", str(port), "--path", path, "--tickets", str(tickets)),
                *("--start", str(start), "--count", str(share)),
                *("--concurrency", str(max(1, concurrency // procs)), "--connect-timeout", str(connect_timeout)),
                *(("--tls", "1") if tls else ()),
            ]
            if seq_logs:
                self.seq_logs.append(logs / f"{tag}-seq-{k}.bin")
                argv += ["--seq-log", str(self.seq_logs[-1])]
            self.children.append(Child(f"{tag}-load-{k}", argv, logs / f"{tag}-load-{k}.log"))

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    def wait_ready(self) -> dict[str, Any]:
        """Once every connection was accepted or refused: {"ready": n, "connect_s": slowest process, "failures"}."""
        ready, connect_s = 0, 0.0
        failures: dict[str, int] = {}
        for child in self.children:
            answer = child.expect("ready", self.connect_timeout + 30.0)
            ready += int(answer["ready"])
            connect_s = max(connect_s, float(answer["connect_s"]))
            for key, count in answer["failures"].items():
                failures[key] = failures.get(key, 0) + int(count)
        return {"ready": ready, "connect_s": connect_s, "failures": failures}

    def window(self, from_ns: int, to_ns: int) -> None:
        for child in self.children:
            child.tell({"window": [from_ns, to_ns]})
        for child in self.children:
            child.expect("window", 10.0)

    def report(self) -> LoadReport:
        merged = LoadReport()
        for child in self.children:
            child.tell({"report": True})
        for child in self.children:
            merged.add(child.expect("report", 60.0))
        return merged

    def stop(self) -> None:
        for child in self.children:
            child.stop(grace=5.0)


def summary(report: LoadReport, expected_per_listener: int) -> dict[str, Any]:
    """Delivery and latency as broadcast.py reports them (every listener expected the same records)."""
    fractions = sorted(
        min(1.0, got / expected_per_listener) if expected_per_listener else 0.0 for got in report.per_listener
    )
    expected = expected_per_listener * len(report.per_listener)
    delivered = sum(min(got, expected_per_listener) for got in report.per_listener)
    return {
        "connected": report.connected,
        "open_at_end": report.open,
        "expected_per_listener": expected_per_listener,
        "delivered": delivered,
        "expected": expected,
        "delivered_fraction": round(delivered / expected, 6) if expected else 0.0,
        "listener_fraction_min": round(fractions[0], 4) if fractions else 0.0,
        "listener_fraction_p1": round(fractions[len(fractions) // 100], 4) if fractions else 0.0,
        "listeners_below_99_9": sum(1 for f in fractions if f < 0.999),
        "latency_ms": {f"p{p}": report.latency_ms(p) for p in (50, 95, 99)}
        | {"max": round(report.counters.get("latency_max_ns", 0) / 1e6, 1)},
        "failures": report.failures,
        "notices": report.notices,
        "closed": report.closed,
        "chunk_ms_in_hello": sorted(report.chunk_ms),
        "stream": {
            k: report.counters.get(k, 0)
            for k in (
                "dups",
                "reorders",
                "gaps",
                "bad_records",
                "audio_before_hello",
                "protocol_errors",
                "negative_latency",
            )
        },
        "reads": report.counters.get("reads", 0),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="the node's listener port on 127.0.0.1")
    parser.add_argument("--room", required=True)
    parser.add_argument("--tickets", type=Path, required=True, help="one ticket per line, at least --count")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--window", type=float, default=10.0, help="seconds of audio counted")
    args = parser.parse_args(argv)
    if raise_fd_limit() < -(-args.count // args.procs) + 100:
        raise SystemExit("the open-file limit is too low: use more --procs or raise the hard limit")
    tmp = Path(tempfile.mkdtemp(prefix="salon-stream-load-"))
    clients: LoadClients | None = None
    try:
        binary = build(tmp)
        clients = LoadClients(
            binary, port=args.port, path=f"/v1/stream/{args.room}", tickets=args.tickets, count=args.count,
            procs=args.procs, logs=tmp, tag="cli",
        )  # fmt: skip
        print(json.dumps(clients.wait_ready()), flush=True)
        from_ns = time.monotonic_ns() + 500_000_000
        to_ns = from_ns + int(args.window * 1e9)
        clients.window(from_ns, to_ns)
        time.sleep((to_ns - time.monotonic_ns()) / 1e9 + 1.0)
        report = clients.report()
        expected = round(args.window * 50)  # the sender's count is not known here: 50 packets a second
        print(json.dumps(summary(report, expected) | {"clients_cpu_s": round(report.cpu_s, 3)}, indent=2))
    except BenchError as exc:
        print(f"stream_load failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if clients is not None:
            clients.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
