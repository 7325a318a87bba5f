"""Run ``salon serve`` as a variant, for the experiments in docs/BENCHMARKS.md ("Event fan-out").

Used through ``bench/fanout.py --serve-with bench/serve_variant.py``; every knob is an environment variable:

- ``SALON_BENCH_GC``: ``tuned`` (what ``salon serve`` does: ``cli/runtime.tune_gc``), ``untuned`` (CPython's
  defaults: the server as it was before the tuning), ``off`` (``gc.disable()``).
- ``SALON_BENCH_WS``: uvicorn's WebSocket implementation, e.g. ``websockets`` (the older one) or
  ``websockets-sansio`` (what ``salon serve`` uses).
- ``SALON_BENCH_TRACE=1``: print each ``Hub._publish`` (wall and CPU time, subscribers) and every garbage
  collection over 2 ms or of generation 2 to stderr.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

import uvicorn

from salon.app.ports import RoomMessage
from salon.cli import main as cli
from salon.cli.runtime import tune_gc
from salon.web.hub import Hub


def _apply_gc_variant() -> None:
    variant = os.environ.get("SALON_BENCH_GC", "tuned")
    if variant == "tuned":
        tune_gc()
    elif variant == "off":
        gc.disable()
    elif variant != "untuned":
        raise SystemExit(f"SALON_BENCH_GC must be tuned, untuned or off, not {variant!r}")


def _trace() -> None:
    publish = Hub._publish

    def timed(self: Hub, message: RoomMessage) -> None:
        subscribers = self.subscribers(message.room_id)
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        publish(self, message)
        print(
            f"PUBLISH t={time.monotonic():.3f} seq={message.seq} subs={subscribers} "
            f"wall={(time.perf_counter_ns() - wall) / 1e6:.2f}ms cpu={(time.thread_time_ns() - cpu) / 1e6:.2f}ms",
            file=sys.stderr,
            flush=True,
        )

    Hub._publish = timed  # type: ignore[method-assign]
    started: dict[str, int] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started["t"] = time.perf_counter_ns()
            return
        ms = (time.perf_counter_ns() - started.get("t", 0)) / 1e6
        if ms > 2 or info["generation"] == 2:
            print(
                f"GC t={time.monotonic():.3f} gen={info['generation']} {ms:.1f}ms collected={info['collected']}",
                file=sys.stderr,
                flush=True,
            )

    gc.callbacks.append(on_gc)


def main() -> None:
    setattr(cli, "tune_gc", _apply_gc_variant)  # noqa: B010 - serve() calls cli.tune_gc once the app is built
    ws = os.environ.get("SALON_BENCH_WS")
    if ws:
        run = uvicorn.run

        def run_with(app: Any, **kwargs: Any) -> None:
            run(app, **{**kwargs, "ws": ws})

        uvicorn.run = run_with
    if os.environ.get("SALON_BENCH_TRACE"):
        _trace()
    sys.argv = ["salon", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
