"""Live hallway bench: what keeping N open hallways current costs when rooms change (``bench/hallway.py
--watchers``; docs/BENCHMARKS.md, "Live hallway").

N members watch the hallway through the real hub and ticker (``web/hallway_live.py``), each on a connection whose
writer records when a frame reaches it (in-process: the socket write itself, ~10 µs a frame on loopback here, is not
included). Changes go through the real use cases, one per tick, in turn: a new open room (``create_room``), a member
joining a room as a listener (``stage.join``), a room ending (``end_room``). Each change comes at a random moment of
the ticker's period, as it would in a running app, so a delivery time is the wait for the next tick plus the tick.
Reported per N: the ticker's CPU per change (the whole process's CPU time during the tick, the database thread
included), frames sent and distinct frames encoded per change, bytes per frame, and delivery time p50/p95.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from salon.app import stage
from salon.app.rooms import NewRoom, create_room, end_room
from salon.app.services import Services
from salon.domain.rooms import RoomType
from salon.store.tables import users
from salon.web.hallway_live import TICK_S, watchers_of
from salon.web.hub import Hub


class _Transport:
    async def send_text(self, data: str) -> None:
        return None

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        return None


class _Writer:
    """Takes every frame at once and notes when it came."""

    def __init__(self, arrivals: list[float], sizes: list[int]) -> None:
        self.arrivals, self.sizes = arrivals, sizes

    def write_now(self, wire: bytes) -> bool:
        self.arrivals.append(time.monotonic())
        self.sizes.append(len(wire))
        return True

    async def write(self, wire: bytes) -> None:
        self.write_now(wire)


@dataclass(frozen=True)
class LiveResult:
    watchers: int
    changes: int
    cpu_ms: list[float]  # per change
    frames: list[int]
    encoded: list[int]
    bytes_per_frame: float
    delivery_ms: list[float]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure_live(services: Services, hub: Hub, watchers: int, changes: int, seed: int) -> LiveResult:
    rng = random.Random(seed)  # noqa: S311 - a repeatable run, not a secret
    async with services.db.read() as conn:
        member_ids = [r[0] for r in await conn.execute(select(users.c.id).order_by(users.c.username))]
    if len(member_ids) < watchers + 20:
        raise SystemExit(f"--members must exceed --watchers by 20 (have {len(member_ids)} members)")
    watching, others = member_ids[:watchers], member_ids[watchers:]
    arrivals: list[float] = []
    sizes: list[int] = []
    live = watchers_of(hub)
    conns = []
    for user_id in watching:
        watcher = hub.connect(_Transport(), user_id, f"s-{user_id}", None, _Writer(arrivals, sizes))
        assert watcher is not None
        live.begin(watcher)
        live.finish(watcher, [])
        conns.append(watcher)
    await live.tick(services)  # whatever seeding marked
    opened: list[tuple[str, str]] = []  # (room, its moderator)
    cpu_ms: list[float] = []
    frames: list[int] = []
    encoded: list[int] = []
    delivery_ms: list[float] = []
    host_pool = others[:10]
    audience = others[10:]
    try:
        for n in range(changes):
            until_tick = rng.uniform(0.0, TICK_S)  # where in the ticker's period the change lands
            marked = time.monotonic()
            kind = n % 3
            if kind == 0 or not opened:
                host = host_pool[n % len(host_pool)]
                view = await create_room(services, host, NewRoom(f"Live bench {n}", "", ["bench"], RoomType.OPEN))
                opened.append((view["room"]["id"], host))
            elif kind == 1:
                await stage.join(services, rng.choice(audience), opened[-1][0])
            else:
                room_id, host = opened.pop(0)
                await end_room(services, host, room_id)
            left = until_tick - (time.monotonic() - marked)
            if left > 0:
                await asyncio.sleep(left)
            arrivals.clear()
            cpu_before = time.process_time()
            report = await live.tick(services)
            cpu_ms.append((time.process_time() - cpu_before) * 1000)
            frames.append(report.frames)
            encoded.append(report.encoded)
            delivery_ms.extend((t - marked) * 1000 for t in arrivals)
    finally:
        for watcher in conns:
            live.stop(watcher)
            hub.disconnect(watcher)
    return LiveResult(watchers, changes, cpu_ms, frames, encoded, sum(sizes) / max(1, len(sizes)), delivery_ms or [0.0])


def table(results: list[LiveResult]) -> list[str]:
    lines = [
        "| watchers | changes | ticker CPU per change p50 / p95 ms | CPU per frame µs | frames per change"
        " | encoded per change | bytes per frame | delivery p50 / p95 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        per_frame = 1000 * sum(r.cpu_ms) / max(1, sum(r.frames))
        lines.append(
            f"| {r.watchers:,} | {r.changes} | {statistics.median(r.cpu_ms):.1f} / {_pct(r.cpu_ms, 0.95):.1f}"
            f" | {per_frame:.1f} | {statistics.mean(r.frames):.0f} | {statistics.mean(r.encoded):.1f}"
            f" | {r.bytes_per_frame:.0f} | {statistics.median(r.delivery_ms):.0f} / {_pct(r.delivery_ms, 0.95):.0f} |"
        )
    return lines


def summary(results: list[LiveResult]) -> dict[str, Any]:
    return {
        str(r.watchers): {
            "cpu_ms_p50": statistics.median(r.cpu_ms),
            "frames_mean": statistics.mean(r.frames),
            "delivery_ms_p95": _pct(r.delivery_ms, 0.95),
        }
        for r in results
    }
