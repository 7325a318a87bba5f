"""Broadcast stage bench (bench layer): the Markdown tables and target verdicts of ``bench/broadcast_stage.py``.

The targets are the broadcast tier's (``bench/broadcast_report.py``), judged on the policy rows: delivered >= 99.9 %
at every N, p95 <= 60 / 150 / 300 ms at 1,000 / 5,000 / 10,000, <= 100 µs of worker CPU per listener-second at
10,000, and the worker's CPU per write <= 1.3 x the bar's.
"""

from __future__ import annotations

from typing import Any

from broadcast_report import DELIVERED_TARGET, LISTENER_SECOND_TARGET_US, P95_TARGET_MS, RATIO_TARGET

GROUPS = ("worker", "janus", "salon_serve", "speakers", "member", "load_clients", "capture", "bench", "other")


def _delivered(row: dict[str, Any]) -> str:
    text = f"{100 * row['delivered_fraction']:.2f} %"
    failures = sum(row["connect_failures"].values())
    return text + (f" ({failures:,} not connected)" if failures else "")


def tables(rows: list[dict[str, Any]]) -> str:
    out = [
        "| N | chunks | chunk ms | forwarded | delivered | worst listener | p50 / p95 / p99 ms "
        "| worker µs / listener-s | worker µs / write | bar µs / write | ratio | worker RSS KB / listener "
        "| clients µs / listener-s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lat = r["latency_ms"]
        bar = r.get("bar_us_per_write")
        ratio = r.get("ratio")
        out.append(
            f"| {r['listeners']:,} | {r['chunks']} | {r['chunk_ms']} | {r['forwarded_in_window']} | {_delivered(r)} "
            f"| {100 * r['listener_fraction_min']:.1f} % | {lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f} "
            f"| {r['worker_us_per_listener_s']:.1f} | {r['worker_us_per_write']:.2f} "
            f"| {f'{bar:.2f}' if bar else '–'} | {f'{ratio:.2f}' if ratio else '–'} "
            f"| {r['worker_rss_kb_per_listener']:.1f} | {r['clients_us_per_listener_s']:.1f} |"
        )
    out += [
        "",
        "CPU-seconds over each window, by process group (*other* = the whole machine's busy time minus these):",
        "",
        "| N | chunks | window s | " + " | ".join(GROUPS) + " |",
        "|---:|---|---:|" + "---:|" * len(GROUPS),
    ]
    for r in rows:
        cpu = r["cpu_s"]
        cells = " | ".join(f"{cpu.get(g, 0.0):.2f}" for g in GROUPS)
        out.append(f"| {r['listeners']:,} | {r['chunks']} | {r['window_s']:.1f} | {cells} |")
    return "\n".join(out)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """One line per target and policy row: met or MISSED, with the figure."""
    lines = []
    for r in rows:
        if r["chunks"] != "policy":
            continue
        n = r["listeners"]
        p95 = float(r["latency_ms"]["p95"])
        ok = r["delivered_fraction"] >= DELIVERED_TARGET and not r["connect_failures"]
        checks = [(ok, f"delivered {100 * r['delivered_fraction']:.3f} % (target >= 99.9 %)")]
        if n in LISTENER_SECOND_TARGET_US:
            limit = LISTENER_SECOND_TARGET_US[n]
            per = r["worker_us_per_listener_s"]
            checks.append((per <= limit, f"{per:.1f} µs of worker CPU per listener-second (target <= {limit:.0f})"))
        if n in P95_TARGET_MS:
            checks.append((p95 <= P95_TARGET_MS[n], f"p95 {p95:.1f} ms (target <= {P95_TARGET_MS[n]:.0f})"))
        if r.get("ratio"):
            checks.append((r["ratio"] <= RATIO_TARGET, f"per write {r['ratio']:.2f} x the bar (target <= 1.3)"))
        lines += [f"{'met   ' if good else 'MISSED'} {n:,} listeners: {what}" for good, what in checks]
    return lines
