"""The broadcast stage bench's arithmetic (bench/stage_latency.py, bench/rtp_capture.py): the join of Janus's
forward times with the load clients' read logs, and the parsing of a captured frame. The bench's figures in
docs/BENCHMARKS.md rest on these; the processes around them are exercised by running the bench."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

BENCH = Path(__file__).resolve().parents[3] / "bench"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


stage_latency = load("stage_latency")
rtp_capture = load("rtp_capture")
MS = 1_000_000


def write_runs(path: Path, runs: list[tuple[int, int, int, int]]) -> Path:
    np.array(runs, dtype=stage_latency.RUN).tofile(path)
    return path


def test_latency_is_each_records_read_minus_its_forward_and_only_the_windows_forwards_count(tmp_path: Path) -> None:
    # Janus forwards seq 65534, 65535, 0, 1 (the number wraps) at 0, 20, 40, 60 ms; the window is [0, 60 ms).
    forwards = [[65534, 0], [65535, 20 * MS], [0, 40 * MS], [1, 60 * MS]]
    # Listener 0 reads 65534..0 in one read at 45 ms (a run across the wrap), then 1 at 70 ms (outside the window).
    # Listener 1 reads only 65535 at 30 ms: it misses two of the window's three packets.
    logs = [
        write_runs(tmp_path / "a.bin", [(0, 65534, 3, 45 * MS), (0, 1, 1, 70 * MS)]),
        write_runs(tmp_path / "b.bin", [(1, 65535, 1, 30 * MS)]),
    ]

    result = stage_latency.join(forwards, logs, 2, 0, 60 * MS)

    assert result["forwarded_in_window"] == 3
    assert result["expected"] == 6
    assert result["delivered"] == 4
    assert result["delivered_fraction"] == round(4 / 6, 6)
    assert result["listener_fraction_min"] == round(1 / 3, 4)
    assert result["listeners_below_99_9"] == 1
    # Latencies: 45, 25, 5 (listener 0) and 10 ms (listener 1); nearest rank over four values.
    assert result["latency_ms"] == {"p50": 10.0, "p95": 45.0, "p99": 45.0, "max": 45.0}
    assert result["records_without_forward"] == 0


def test_a_record_whose_forward_was_not_captured_is_counted_apart_and_not_delivered(tmp_path: Path) -> None:
    logs = [write_runs(tmp_path / "a.bin", [(0, 7, 2, 30 * MS)])]  # seq 7 was never captured; 8 was

    result = stage_latency.join([[8, 10 * MS]], logs, 1, 0, 20 * MS)

    assert result["records_without_forward"] == 1
    assert result["delivered"] == 1
    assert result["latency_ms"]["p50"] == 20.0


def frame(dst_port: int, payload_type: int, seq: int, ssrc: int) -> bytes:
    ethernet = b"\0" * 12 + struct.pack("!H", 0x0800)
    ip = bytes([0x45]) + b"\0" * 19
    udp = struct.pack("!HHHH", 40000, dst_port, 8 + 12 + 3, 0)
    rtp = struct.pack("!BBHII", 0x80, payload_type, seq, 960, ssrc) + b"\xf8\x01\x02"
    return ethernet + ip + udp + rtp


def test_only_opus_rtp_to_the_workers_port_is_taken_from_a_captured_frame() -> None:
    assert rtp_capture.rtp_header(frame(5004, 111, 4242, 0xABCDEF01), 5004) == (4242, 0xABCDEF01)
    assert rtp_capture.rtp_header(frame(5006, 111, 4242, 1), 5004) is None  # another port
    assert rtp_capture.rtp_header(frame(5004, 0, 4242, 1), 5004) is None  # not Opus (payload type 0)
    assert rtp_capture.rtp_header(frame(5004, 111, 4242, 1)[:50], 5004) is None  # cut short
