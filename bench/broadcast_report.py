"""Broadcast bench, the report: one measured configuration (``Row``), the Markdown tables and the target verdicts.

Targets (the issue): at 10,000 listeners >= 99.9 % of the frames delivered, p95 latency <= 300 ms and <= 100 µs of
node CPU per listener-second; p95 <= 150 ms at 5,000 and <= 60 ms at 1,000; the node's CPU per write <= 1.3 x the
bar's, measured beside it. The delivery floor is checked at every listener count, the CPU per listener-second at
10,000 only (the policy's longer chunks are what buy it there). They apply to the node at the policy's chunk; the
fixed chunks show the trade-off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DELIVERED_TARGET = 0.999
P95_TARGET_MS = {1000: 60.0, 5000: 150.0, 10000: 300.0}
LISTENER_SECOND_TARGET_US = {10000: 100.0}
RATIO_TARGET = 1.3


@dataclass(frozen=True)
class Config:
    server: str  # "node" or "bar"
    listeners: int
    chunks: str  # the node: "policy" (its default) or a --chunks value such as "inf:40"; the bar: its chunk in ms
    variant: str = "os.write"  # the bar's way of writing (broadcast.VARIANTS)


@dataclass
class Row:
    config: Config
    chunk_ms: int
    window_s: float
    delivery: dict[str, Any]
    connect_s: float
    connect_failures: dict[str, int]
    server_cpu_s: float
    server_sys_share: float
    us_per_listener_s: float
    writes: float
    us_per_write: float
    rss_kb_per_listener: float
    rss_mb: float
    connect_ms_per_listener: float
    clients_cpu_s: float
    clients_us_per_listener_s: float
    others_cpu_s: float
    dropped: int
    sender: dict[str, Any]
    counts: dict[str, int]
    stopped: dict[str, Any]

    @property
    def delivered_ok(self) -> bool:
        return float(self.delivery["delivered_fraction"]) >= DELIVERED_TARGET and not self.connect_failures

    @property
    def p95(self) -> float:
        return float(self.delivery["latency_ms"]["p95"])

    def as_json(self) -> dict[str, Any]:
        c = self.config
        return {
            "server": c.server,
            "variant": c.variant if c.server == "bar" else None,
            "listeners": c.listeners,
            "chunks": c.chunks,
            "chunk_ms": self.chunk_ms,
            "window_s": round(self.window_s, 2),
            **self.delivery,
            "connect_s": round(self.connect_s, 2),
            "connect_failures": self.connect_failures,
            "server_cpu_s": round(self.server_cpu_s, 3),
            "server_kernel_share": round(self.server_sys_share, 3),
            "server_us_per_listener_s": round(self.us_per_listener_s, 2),
            "writes": round(self.writes),
            "server_us_per_write": round(self.us_per_write, 3),
            "server_rss_mb": round(self.rss_mb, 1),
            "server_rss_kb_per_listener": round(self.rss_kb_per_listener, 2),
            "server_connect_ms_per_listener": round(self.connect_ms_per_listener, 3),
            "clients_cpu_s": round(self.clients_cpu_s, 3),
            "clients_us_per_listener_s": round(self.clients_us_per_listener_s, 2),
            "other_processes_cpu_s": round(self.others_cpu_s, 2),
            "dropped_slow": self.dropped,
            "sender": self.sender,
            "server_counts": self.counts,
            "stopped": self.stopped,
        }

    def line(self) -> str:
        lat = self.delivery["latency_ms"]
        return (
            f"chunk {self.chunk_ms} ms: delivered {100 * self.delivery['delivered_fraction']:.3f} %, "
            f"p50/p95/p99 {lat['p50']}/{lat['p95']}/{lat['p99']} ms, {self.us_per_listener_s:.1f} µs/listener-s, "
            f"{self.us_per_write:.2f} µs/write, clients {self.clients_us_per_listener_s:.1f} µs/listener-s, "
            f"others {self.others_cpu_s:.2f} CPU-s"
        )


def _bar_for(rows: list[Row], index: int) -> Row | None:
    """The bar measured right after a node row (same listeners, same chunk length, plain os.write)."""
    node = rows[index]
    if index + 1 < len(rows):
        bar = rows[index + 1]
        c = bar.config
        if c.server == "bar" and c.variant == "os.write" and c.listeners == node.config.listeners:
            return bar if bar.chunk_ms == node.chunk_ms else None
    return None


def _delivered(row: Row) -> str:
    d = row.delivery
    text = f"{100 * d['delivered_fraction']:.2f} %"
    if row.connect_failures:
        text += f" ({sum(row.connect_failures.values())} not connected)"
    return text


def _lat(row: Row) -> str:
    lat = row.delivery["latency_ms"]
    return f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f}"


def tables(rows: list[Row]) -> str:
    out = [
        "| N | chunks | chunk ms | delivered | worst listener | p50 / p95 / p99 ms | node µs / listener-s "
        "| node µs / write | bar µs / write | ratio | node kernel share | node RSS KB / listener "
        "| clients µs / listener-s | other CPU-s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, row in enumerate(rows):
        if row.config.server != "node":
            continue
        bar = _bar_for(rows, i)
        ratio = f"{row.us_per_write / bar.us_per_write:.2f}" if bar and bar.us_per_write else "–"
        out.append(
            f"| {row.config.listeners:,} | {row.config.chunks} | {row.chunk_ms} | {_delivered(row)} "
            f"| {100 * row.delivery['listener_fraction_min']:.1f} % | {_lat(row)} | {row.us_per_listener_s:.1f} "
            f"| {row.us_per_write:.2f} | {f'{bar.us_per_write:.2f}' if bar else '–'} | {ratio} "
            f"| {100 * row.server_sys_share:.0f} % | {row.rss_kb_per_listener:.1f} "
            f"| {row.clients_us_per_listener_s:.1f} | {row.others_cpu_s:.2f} |"
        )
    out += [
        "",
        "| bar | N | chunk ms | delivered | p50 / p95 / p99 ms | µs / listener-s | µs / write | kernel share "
        "| RSS KB / listener | clients µs / listener-s | other CPU-s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row.config.server != "bar":
            continue
        out.append(
            f"| {row.config.variant} | {row.config.listeners:,} | {row.chunk_ms} | {_delivered(row)} | {_lat(row)} "
            f"| {row.us_per_listener_s:.1f} | {row.us_per_write:.2f} | {100 * row.server_sys_share:.0f} % "
            f"| {row.rss_kb_per_listener:.1f} | {row.clients_us_per_listener_s:.1f} | {row.others_cpu_s:.2f} |"
        )
    return "\n".join(out)


def verdicts(rows: list[Row]) -> list[str]:
    """One line per target and policy row: met or MISSED, with the figure."""
    lines = []
    for i, row in enumerate(rows):
        c = row.config
        if c.server != "node" or c.chunks != "policy":
            continue
        n = f"{c.listeners:,} listeners"
        checks = [
            (row.delivered_ok, f"delivered {100 * row.delivery['delivered_fraction']:.3f} % (target >= 99.9 %)"),
        ]
        if c.listeners in LISTENER_SECOND_TARGET_US:
            limit = LISTENER_SECOND_TARGET_US[c.listeners]
            what = f"{row.us_per_listener_s:.1f} µs of node CPU per listener-second (target <= {limit:.0f})"
            checks.append((row.us_per_listener_s <= limit, what))
        if c.listeners in P95_TARGET_MS:
            target = P95_TARGET_MS[c.listeners]
            checks.append((row.p95 <= target, f"p95 {row.p95:.1f} ms (target <= {target:.0f})"))
        bar = _bar_for(rows, i)
        if bar is not None and bar.us_per_write:
            ratio = row.us_per_write / bar.us_per_write
            checks.append((ratio <= RATIO_TARGET, f"per write {ratio:.2f} x the bar (target <= 1.3)"))
        lines += [f"{'met   ' if ok else 'MISSED'} {n}: {what}" for ok, what in checks]
    return lines
