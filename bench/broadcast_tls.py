"""Broadcast bench, TLS on the listener connections: what HTTPS costs the broadcast tier, per listener-second.

    PYTHONPATH=src:. .venv/bin/python bench/broadcast_tls.py            # 1,000 / 2,500 at 40 ms, 5,000 at 100 ms
    PYTHONPATH=src:. .venv/bin/python bench/broadcast_tls.py --quick    # 1,000 at 40 ms, 3 s windows (~1 min)
    PYTHONPATH=src:. .venv/bin/python bench/broadcast_tls.py --sizes 2500:40 --kinds node,node-tls,tls-bar

For each size (N listeners, chunk ms), in one run, with ``bench/broadcast.py``'s measurement (its ``Bench``: same
sender, same load client, same window and counters), one configuration after the other:

- ``node``: the node, plain HTTP (``--chunks inf:<chunk>``), as in ``broadcast.py``;
- ``node-tls``: the same node with ``--tls-cert``/``--tls-key``: Python's ``ssl`` on uvloop's SSL transports, and
  no direct ``os.write`` (every chunk through the transport, which encrypts it) — the tier's real cost with TLS;
- ``bar``: the plain bar, ``os.write`` (``bench/broadcast_bar.py``);
- ``tbar``: the bar writing with ``transport.write`` on uvloop's transports, plain: the control for ``tls-bar``;
- ``tls-bar``: the same with an ``ssl.SSLContext`` (TLS 1.3) on the listening socket: Python's ``ssl`` per
  connection (``bench/broadcast_tls_bar.py``);
- ``nginx``, ``nginx-tls``: nginx 1 worker in front of the node, plain or TLS 1.3, ``proxy_buffering off``; the
  CPU and RSS are nginx's + the node's, and the node then has one connection per listener to nginx.

The TLS configurations use the load client built with OpenSSL (``stream_load.c``, ``-DSTREAM_TLS``, ``--tls 1``:
TLS 1.3, default suites, certificate not verified), against a throw-away self-signed certificate. kTLS is not
measured when the kernel has no ``tls`` ULP: the run says whether it does. Prints one JSON line per configuration,
then a Markdown table. Exit status 1 if a configuration could not be measured, else 0.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from broadcast import NODE_NAME, ROOM_ID, SSRC, Bench
from broadcast_report import Config, Row
from broadcast_servers import Bar, Node, Server
from broadcast_tls_servers import Fronted, TransportBar, ktls_available, make_certificate, tls_probe
from fanout import BenchError, machine, raise_fd_limit
from stream_load import build

KINDS = {
    "node": "node, plain",
    "node-tls": "node, TLS (Python ssl, TLS 1.3)",
    "bar": "bar: os.write, plain",
    "tbar": "bar: transport.write, plain",
    "tls-bar": "bar: transport.write, Python ssl (TLS 1.3)",
    "nginx": "nginx (plain) -> node",
    "nginx-tls": "nginx TLS 1.3 -> node",
}
TLS_KINDS = {"node-tls", "tls-bar", "nginx-tls"}


class TlsBench(Bench):
    """``broadcast.Bench`` with more servers; the load client built with TLS for the TLS ones."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        super().__init__(args, tmp, build(tmp))
        self.plain_binary = self.binary
        self.tls_binary = build(tmp, tls=True)
        self.cert, self.key = make_certificate(tmp)
        self.suites: dict[str, str] = {}

    def start(self, config: Config, tag: str) -> Server:
        kind, chunk = config.variant, int(config.chunks)
        tls = kind in TLS_KINDS
        cert, key = (self.cert, self.key) if tls else (None, None)
        self.binary = self.tls_binary if tls else self.plain_binary
        server: Server
        if kind == "bar":
            server = Bar(self.tmp, tag, chunk_ms=chunk, writer="os.write", nodelay=True, sndbuf=0)
        elif kind in ("tbar", "tls-bar"):
            server = TransportBar(self.tmp, tag, chunk_ms=chunk, cert=cert, key=key)
        else:
            node_tls = (cert, key) if kind == "node-tls" else (None, None)  # nginx-tls: TLS in nginx, plain behind
            node = Node(
                self.tmp, tag, name=NODE_NAME, chunks=f"inf:{chunk}", max_listeners=config.listeners + 100,
                cert=node_tls[0], key=node_tls[1],
            )  # fmt: skip
            node.add_room(ROOM_ID, SSRC)
            server = node
            if kind.startswith("nginx"):
                try:
                    server = Fronted(node, self.tmp, tag, listeners=config.listeners, cert=cert, key=key)
                except BaseException:
                    node.stop()
                    raise
        if tls:
            self.suites[kind] = tls_probe(server.listen)
        return server


def table(rows: list[Row]) -> str:
    out = [
        "| N | chunk ms | configuration | delivered | p50 / p95 ms | server CPU µs / listener-s | µs / write "
        "| vs plain bar | kernel share | RSS KB / listener | clients µs / listener-s | other CPU-s |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        c = row.config
        bar = next((r for r in rows if r.config == Config("bar", c.listeners, c.chunks, "bar")), None)
        versus = f"{row.us_per_listener_s / bar.us_per_listener_s:.2f} ×" if bar and bar.us_per_listener_s else "–"
        d = row.delivery
        delivered = f"{100 * d['delivered_fraction']:.2f} %"
        if row.connect_failures:
            delivered += f" ({sum(row.connect_failures.values())} not connected)"
        name = KINDS[c.variant]
        if "nginx_cpu_ms" in row.counts:
            name += (
                f" (node {row.counts['node_cpu_ms'] / 1000:.2f} + nginx {row.counts['nginx_cpu_ms'] / 1000:.2f} CPU-s)"
            )
        out.append(
            f"| {c.listeners:,} | {row.chunk_ms} | {name} | {delivered} "
            f"| {d['latency_ms']['p50']:.1f} / {d['latency_ms']['p95']:.1f} | {row.us_per_listener_s:.1f} "
            f"| {row.us_per_write:.2f} | {versus} | {100 * row.server_sys_share:.0f} % "
            f"| {row.rss_kb_per_listener:.1f} | {row.clients_us_per_listener_s:.1f} | {row.others_cpu_s:.2f} |"
        )
    for row in rows:  # the question of issue 12: what TLS adds to the node itself
        c = row.config
        plain = next((r for r in rows if r.config == Config("node", c.listeners, c.chunks, "node")), None)
        if c.variant == "node-tls" and plain and plain.us_per_listener_s:
            ratio = row.us_per_listener_s / plain.us_per_listener_s
            out.append(
                f"\nnode TLS / node plain at {c.listeners:,} listeners, {c.chunks} ms: {ratio:.2f} × the server CPU per"
                f" listener-second ({row.us_per_listener_s:.1f} vs {plain.us_per_listener_s:.1f} µs),"
                f" {row.rss_kb_per_listener - plain.rss_kb_per_listener:+.1f} KB RSS per listener"
            )
    return "\n".join(out)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000:40,2500:40,5000:100", help="N:chunk_ms pairs, comma-separated")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"configurations, comma-separated: {list(KINDS)}")
    parser.add_argument("--window", type=float, default=10.0, help="seconds measured per configuration")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between the last connect and the window")
    parser.add_argument("--client-procs", type=int, default=2, help="load client processes")
    parser.add_argument("--connect-concurrency", type=int, default=256, help="connects in flight, all processes")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="1,000 listeners at 40 ms, 3 s windows")
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, configs)")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.window, args.settle = "1000:40", 3.0, 1.0
    try:
        args.size_list = [(int(n), int(ms)) for n, ms in (v.split(":") for v in args.sizes.split(",") if v.strip())]
    except ValueError:
        parser.error("--sizes takes N:chunk_ms pairs, e.g. 1000:40,2500:40")
    args.kind_list = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in args.kind_list if k not in KINDS]
    if unknown:
        parser.error(f"unknown kinds {unknown}; known: {list(KINDS)}")
    if not args.size_list or min(n for n, _ in args.size_list) < 1 or args.window <= 0:
        parser.error("--sizes and --window must be positive")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))  # run the clean-up below, then leave
    began = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    biggest = max(n for n, _ in args.size_list)
    if raise_fd_limit() < 2 * biggest + 500:  # nginx: two descriptors per listener
        raise SystemExit(f"the open-file limit is too low for {biggest} listeners behind nginx")
    info = machine()
    ktls = ktls_available()
    log(f"machine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, Linux {info['kernel']}")
    log(f"code: {info['revision']}; load average now: {Path('/proc/loadavg').read_text().split()[:3]}")
    log(f"kTLS: {ktls}")
    tmp = Path(tempfile.mkdtemp(prefix="salon-broadcast-tls-bench-"))
    rows: list[Row] = []
    failed: list[str] = []
    try:
        bench = TlsBench(args, tmp)
        for n, chunk in args.size_list:
            for kind in args.kind_list:
                config = Config("node" if kind.startswith(("node", "nginx")) else "bar", n, str(chunk), kind)
                log(f"{KINDS[kind]}, {n} listeners, {chunk} ms …")
                try:
                    rows.append(bench.measure(config))
                    log(f"  {rows[-1].line()}")
                except BenchError as exc:
                    failed.append(f"{config}: {exc}")
                    log(f"  FAILED: {exc}")
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(table(rows))
    print()
    print(f"TLS suites negotiated: {bench.suites if 'bench' in locals() else {}}; kTLS: {ktls}")
    for failure in failed:
        print(f"FAILED {failure}", file=sys.stderr)
    if args.json:
        results = {"machine": info, "ktls": ktls, "rows": [r.as_json() | {"kind": r.config.variant} for r in rows]}
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    log(f"done in {time.monotonic() - began:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
