"""Broadcast bench: N HTTP listeners of one room on a broadcast node — delivered, latency, and the node's cost.

    .venv/bin/python bench/broadcast.py                      # 1,000 / 2,500 / 5,000 / 10,000; policy, inf:40, inf:120
    .venv/bin/python bench/broadcast.py --quick              # 1,000 and 2,500 at the policy's chunk (< 1 min)
    .venv/bin/python bench/broadcast.py --listeners 10000 --chunks policy --window 20

For each listener count N and chunk setting (``policy`` = the node's default ``--chunks``, or a ``--chunks`` value
such as ``inf:40``), all on 127.0.0.1:

1. Starts the node (``python -m salon.broadcast``, a test secret in ``SALON_BROADCAST_SECRET``), registers a room
   on its control API and starts ``bench/broadcast_sender.py`` in its own process: RTP, payload type 111, one
   packet every 20 ms, 80–160 bytes whose first 8 bytes hold the send time (``CLOCK_MONOTONIC``).
2. Mints N tickets (one user each) and starts ``bench/stream_load.c`` (compiled now with ``cc``; one process per
   core by default), which opens the N streams and parses every record.
3. After ``--settle`` seconds, measures a ``--window``: the clients count, per listener, the audio records whose send
   time falls in the window and time each one (their read - its send); the node's CPU (utime + stime,
   ``/proc/<pid>/stat``) and its chunks flushed (``GET /v1/stats``) over the window; its RSS before the listeners
   came and after. Writes = listeners x chunks flushed. Delivered = records received / (packets the sender sent in
   the window x N); a listener that never connected counts as all lost.
4. Right after, the same against the bar, ``bench/broadcast_bar.py``: a bare loop of ``os.write`` of the same chunk
   (same sender, same chunk length, same clients). Ratio = the node's CPU per write / the bar's.
5. At the largest N, the bar again with other ways of writing (``--variants``): what lowers the floor.

Every process is stopped by its PID and dies with this one (``PR_SET_PDEATHSIG``); every wait has a timeout. One JSON
line per configuration as it is measured, then Markdown tables. Exit status: 1 if a configuration could not be
measured, 2 if a policy row delivered under 99.9 % or a listener failed to connect, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from broadcast_report import Config, Row, tables, verdicts
from broadcast_servers import HOST, SECRET, Bar, Node, Server, mint_tickets
from fanout import CLK_TCK, BenchError, Child, cpu_seconds, machine, machine_busy_seconds, raise_fd_limit
from stream_load import LoadClients, build, summary

BENCH_DIR = Path(__file__).resolve().parent
ROOM_ID = "bench-room"
SSRC = 0x5A100001
NODE_NAME = "w0"
VARIANTS = {  # the bar's ways of writing: (writer, TCP_NODELAY, SO_SNDBUF; 0 = autotuned)
    "os.write": ("os.write", True, 0),
    "os.write, Nagle on": ("os.write", False, 0),
    "socket.send": ("socket.send", True, 0),
    "os.write, SO_SNDBUF 16 KiB": ("os.write", True, 16384),
    "os.write, SO_SNDBUF 1 MiB": ("os.write", True, 1 << 20),
}


def cpu_split(pid: int) -> tuple[float, float]:
    """(utime, stime) of a whole process in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for {pid}")


def server_pids(server: Server) -> list[int]:
    """Every process that serves the listeners (a server in front of the node adds its own: ``pids``)."""
    return list(getattr(server, "pids", None) or [server.pid])


def server_cpu_split(server: Server) -> tuple[float, float]:
    splits = [cpu_split(pid) for pid in server_pids(server)]
    return sum(u for u, _ in splits), sum(s for _, s in splits)


def server_rss_kb(server: Server) -> int:
    return sum(rss_kb(pid) for pid in server_pids(server))


def sleep_until(ns: int) -> None:
    left = (ns - time.monotonic_ns()) / 1e9
    if left > 0:
        time.sleep(left)


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, binary: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.binary = binary
        self.runs = 0

    def start(self, config: Config, tag: str) -> Server:
        if config.server == "node":
            chunks = None if config.chunks == "policy" else config.chunks
            node = Node(self.tmp, tag, name=NODE_NAME, chunks=chunks, max_listeners=config.listeners + 100)
            node.add_room(ROOM_ID, SSRC)
            return node
        writer, nodelay, sndbuf = VARIANTS[config.variant]
        return Bar(self.tmp, tag, chunk_ms=int(config.chunks), writer=writer, nodelay=nodelay, sndbuf=sndbuf)

    def measure(self, config: Config) -> Row:
        self.runs += 1
        tag = f"{self.runs:02d}-{config.server}-{config.listeners}"
        args = self.args
        n = config.listeners
        server = self.start(config, tag)
        stopped: dict[str, Any] = {}
        children: list[Child] = []
        clients: LoadClients | None = None
        try:
            rss0 = server_rss_kb(server)
            sender_argv = [sys.executable, str(BENCH_DIR / "broadcast_sender.py"), f"--to={HOST}:{server.rtp}"]
            sender = Child(f"{tag}-sender", [*sender_argv, f"--ssrc={SSRC}"], self.tmp / f"{tag}-sender.log")
            children.append(sender)
            sender.expect("sending", 30.0)
            tickets = self.tmp / f"{tag}-tickets.txt"
            lifetime = int(args.connect_timeout) + 60
            tickets.write_text("\n".join(mint_tickets(SECRET, ROOM_ID, NODE_NAME, n, lifetime)) + "\n")
            cpu0 = sum(cpu_seconds(pid) for pid in server_pids(server))
            clients = LoadClients(
                self.binary, port=server.listen, path=f"/v1/stream/{ROOM_ID}", tickets=tickets, count=n,
                procs=args.client_procs, logs=self.tmp, tag=tag, concurrency=args.connect_concurrency,
                connect_timeout=args.connect_timeout, tls=bool(getattr(server, "tls", False)),
            )  # fmt: skip
            ready = clients.wait_ready()
            connect_cpu = sum(cpu_seconds(pid) for pid in server_pids(server)) - cpu0
            time.sleep(args.settle)
            rss1 = server_rss_kb(server)

            from_ns = time.monotonic_ns() + 300_000_000
            to_ns = from_ns + int(args.window * 1e9)
            clients.window(from_ns, to_ns)
            mine = [os.getpid(), sender.pid, *clients.pids]
            sleep_until(from_ns)
            counts0 = server.counts(ROOM_ID)
            user0, sys0 = server_cpu_split(server)
            clients0 = sum(cpu_seconds(pid) for pid in clients.pids)
            busy0, mine0, t0 = machine_busy_seconds(), sum(cpu_seconds(pid) for pid in mine), time.monotonic()
            sleep_until(to_ns)
            user1, sys1 = server_cpu_split(server)
            clients1 = sum(cpu_seconds(pid) for pid in clients.pids)
            busy1, mine1, t1 = machine_busy_seconds(), sum(cpu_seconds(pid) for pid in mine), time.monotonic()
            counts1 = server.counts(ROOM_ID)
            time.sleep(2 * counts1["chunk_ms"] / 1000 + 1.0)  # the window's last chunk reaches everyone
            report = clients.report()
            sent = self._count(sender, from_ns, to_ns)
            stopped = self._stop_before_clients(server, clients)
        finally:
            if clients is not None:
                clients.stop()
            for child in children:
                child.stop(grace=5.0)
            if not stopped:
                server.stop()

        server_cpu = (user1 - user0) + (sys1 - sys0)
        window_s = t1 - t0
        listeners = (counts0["listeners"] + counts1["listeners"]) / 2
        chunks = counts1["chunks_out"] - counts0["chunks_out"]
        writes = listeners * chunks
        delivery = summary(report, int(sent["sent_in"]))
        row = Row(
            config=config,
            chunk_ms=counts1["chunk_ms"],
            window_s=window_s,
            delivery=delivery,
            connect_s=float(ready["connect_s"]),
            connect_failures=ready["failures"],
            server_cpu_s=server_cpu,
            server_sys_share=(sys1 - sys0) / server_cpu if server_cpu else 0.0,
            us_per_listener_s=server_cpu * 1e6 / (listeners * window_s) if listeners else 0.0,
            writes=writes,
            us_per_write=server_cpu * 1e6 / writes if writes else 0.0,
            rss_kb_per_listener=(rss1 - rss0) / max(1, int(ready["ready"])),
            rss_mb=rss1 / 1024,
            connect_ms_per_listener=connect_cpu * 1e3 / max(1, int(ready["ready"])),
            clients_cpu_s=clients1 - clients0,
            clients_us_per_listener_s=(clients1 - clients0) * 1e6 / (n * window_s),
            others_cpu_s=(busy1 - busy0) - server_cpu - (mine1 - mine0),
            dropped=counts1["dropped"],
            sender=sent,
            counts=counts1,
            stopped=stopped,
        )
        print(json.dumps(row.as_json(), ensure_ascii=False), flush=True)
        return row

    @staticmethod
    def _stop_before_clients(server: Server, clients: LoadClients) -> dict[str, Any]:
        """Stop the server with every listener still connected (the node: SIGTERM, ``shutting_down`` to each
        stream, exit within 2 s), then what the listeners saw of it: notices, how their streams ended, still open."""
        stopped = server.stop() | {"stopped": True}
        time.sleep(0.5)  # the listeners take in the last bytes
        after = clients.report()
        return stopped | {"notices_seen": after.notices, "streams_ended": after.closed, "open_after": after.open}

    @staticmethod
    def _count(sender: Child, from_ns: int, to_ns: int) -> dict[str, Any]:
        sender.tell({"count": [from_ns, to_ns]})
        return sender.expect("sent_in", 30.0)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", default="1000,2500,5000,10000", help="listener counts, comma-separated")
    parser.add_argument(
        "--chunks", default="policy;inf:40;inf:120", help="chunk settings, ';'-separated: policy or a --chunks value"
    )
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per configuration")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between the last connect and the window")
    parser.add_argument("--client-procs", type=int, default=os.cpu_count() or 1, help="load client processes")
    parser.add_argument("--connect-concurrency", type=int, default=256, help="connects in flight, all processes")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--variants", default=";".join(VARIANTS), help="bar variants at the largest N (';'; '' = none)")
    parser.add_argument("--no-bar", action="store_true", help="the node only (no ratio)")
    parser.add_argument(
        "--quick", action="store_true", help="1,000 and 2,500 listeners, policy, 3 s windows, no variants"
    )
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, tickets)")
    args = parser.parse_args()
    if args.quick:
        args.listeners, args.chunks, args.window, args.settle, args.variants = "1000,2500", "policy", 3.0, 1.0, ""
    args.listener_counts = [int(v) for v in args.listeners.split(",") if v.strip()]
    args.chunk_settings = [v.strip() for v in args.chunks.split(";") if v.strip()]
    args.variant_names = [v.strip() for v in args.variants.split(";") if v.strip()]
    unknown = [v for v in args.variant_names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    if not args.listener_counts or min(args.listener_counts) < 1 or args.client_procs < 1 or args.window <= 0:
        parser.error("--listeners, --client-procs and --window must be positive")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))  # run the clean-up below, then leave
    began = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    fd_limit = raise_fd_limit()
    biggest = max(args.listener_counts)
    if fd_limit < biggest + 200 or fd_limit < -(-biggest // args.client_procs) + 100:
        raise SystemExit(f"the open-file limit is {fd_limit}: too low for {biggest} listeners")
    info = machine()
    log(f"machine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, Linux {info['kernel']}")
    log(f"code: {info['revision']}; load average now: {Path('/proc/loadavg').read_text().split()[:3]}")
    tmp = Path(tempfile.mkdtemp(prefix="salon-broadcast-bench-"))
    rows: list[Row] = []
    failed: list[str] = []

    def attempt(bench: Bench, config: Config, what: str) -> Row | None:
        """Measure one configuration; a failure is noted and the run goes on."""
        log(f"{what} …")
        try:
            row = bench.measure(config)
        except BenchError as exc:
            failed.append(f"{config}: {exc}")
            log(f"  FAILED: {exc}")
            return None
        rows.append(row)
        log(f"  {row.line()}")
        return row

    try:
        bench = Bench(args, tmp, build(tmp))
        for n in args.listener_counts:
            for chunks in args.chunk_settings:
                node_row = attempt(bench, Config("node", n, chunks), f"node, {n} listeners, chunks {chunks}")
                if node_row is not None and not args.no_bar:
                    bar = Config("bar", n, str(node_row.chunk_ms))
                    attempt(bench, bar, f"bar, {n} listeners, {node_row.chunk_ms} ms chunks")
        policy_chunk = next((r.chunk_ms for r in rows if r.config == Config("node", biggest, "policy")), None)
        for variant in args.variant_names if policy_chunk is not None and not args.no_bar else []:
            if variant == "os.write":
                continue  # measured above, beside the node
            config = Config("bar", biggest, str(policy_chunk), variant)
            attempt(bench, config, f"bar variant {variant!r}, {biggest} listeners")
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(tables(rows))
    print()
    for line in verdicts(rows):
        print(line)
    for failure in failed:
        print(f"FAILED {failure}", file=sys.stderr)
    if args.json:
        results = {
            "machine": info,
            "elapsed_s": round(time.monotonic() - began, 1),
            "rows": [r.as_json() for r in rows],
        }
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    log(f"done in {time.monotonic() - began:.0f}s")
    if failed:
        return 1
    short = [r for r in rows if r.config.server == "node" and r.config.chunks == "policy" and not r.delivered_ok]
    return 2 if short else 0


if __name__ == "__main__":
    sys.exit(main())
