"""Broadcast stage bench (bench layer): delivery and latency from Janus's forward to each listener's read.

Joins what ``bench/rtp_capture.py`` saw (each forwarded RTP packet's sequence number and the time it passed ``lo``)
with the load clients' ``--seq-log`` files (``bench/stream_load.c``: per read, the listener, the first sequence
number, how many consecutive records, the read time). Both times are ``CLOCK_REALTIME`` ns on one machine.

- Expected: the packets forwarded in the window [FROM, TO), each by every listener.
- Delivered: the records whose sequence number was forwarded in the window, per listener (at most the expected:
  the client drops duplicates before it logs).
- Latency: read time - forward time of that sequence number, for every delivered (listener, record).

A sequence number is 16 bits and wraps after 65,536 packets (22 min at 50 a second); a capture span of a few tens
of seconds holds each number at most once, so the join needs no unwrapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RUN = np.dtype([("listener", "<u4"), ("first", "<u2"), ("count", "<u2"), ("read_ns", "<i8")])
NO_FORWARD = -1


def forward_times(forwards: Sequence[Sequence[int]]) -> npt.NDArray[np.int64]:
    """Forward time by sequence number (``NO_FORWARD`` where none was captured)."""
    table = np.full(1 << 16, NO_FORWARD, dtype=np.int64)
    for seq, ns in forwards:
        table[int(seq) & 0xFFFF] = int(ns)
    return table


def expand(runs: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """One entry per record: (listener, seq, read ns) from the runs of consecutive sequence numbers."""
    counts = runs["count"].astype(np.int64)
    index = np.repeat(np.arange(len(runs)), counts)
    offset = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    seq = (runs["first"][index].astype(np.int64) + offset) & 0xFFFF
    return runs["listener"][index].astype(np.int64), seq, runs["read_ns"][index].astype(np.int64)


def join(
    forwards: Sequence[Sequence[int]], logs: Sequence[Path], listeners: int, from_ns: int, to_ns: int
) -> dict[str, Any]:
    table = forward_times(forwards)
    expected = sum(1 for _seq, ns in forwards if from_ns <= ns < to_ns)
    per_listener = np.zeros(listeners, dtype=np.int64)
    latencies: list[npt.NDArray[np.int64]] = []
    unmatched = 0
    for path in logs:
        listener, seq, read_ns = expand(np.fromfile(path, dtype=RUN))
        sent = table[seq]
        unmatched += int(np.count_nonzero(sent == NO_FORWARD))
        chosen = (sent >= from_ns) & (sent < to_ns)
        per_listener += np.bincount(listener[chosen], minlength=listeners)[:listeners]
        latencies.append(read_ns[chosen] - sent[chosen])
    got = np.minimum(per_listener, expected)
    fractions = np.sort(got / expected) if expected else np.zeros(listeners)
    lat = np.concatenate(latencies) if latencies else np.zeros(0, dtype=np.int64)
    percentiles = (
        np.percentile(lat, [50, 95, 99], method="inverted_cdf") / 1e6 if lat.size else np.zeros(3, dtype=np.float64)
    )
    return {
        "forwarded_in_window": expected,
        "expected": expected * listeners,
        "delivered": int(got.sum()),
        "delivered_fraction": round(float(got.sum()) / (expected * listeners), 6) if expected else 0.0,
        "listener_fraction_min": round(float(fractions[0]), 4) if listeners else 0.0,
        "listeners_below_99_9": int(np.count_nonzero(fractions < 0.999)),
        "latency_ms": {f"p{p}": round(float(v), 1) for p, v in zip((50, 95, 99), percentiles, strict=True)}
        | {"max": round(float(lat.max()) / 1e6, 1) if lat.size else 0.0},
        "negative_latency": int(np.count_nonzero(lat < 0)),
        "records_without_forward": unmatched,
    }
