"""Hallway bench: how long one member's hallway takes, and how many queries, with 10,000 members and 1,000 live rooms.

Seeds a temporary SQLite database with rows (no use cases, to keep seeding fast): ``--members`` members, ``--rooms``
live rooms of every type (open, social, closed) each with a moderator and a few speakers and listeners, and a
viewer who follows ``--follows`` members. Then calls ``salon.app.hallway.live_rooms_page`` (what
``GET /api/v1/hallway`` runs) ``--runs`` times and reports p50/p95 wall time and the number of SQL statements per
call (counted with a SQLAlchemy ``before_cursor_execute`` listener). Exit status 1 if the statement count grows
with the number of rooms (it is measured at 10 and at ``--rooms`` live rooms).

    .venv/bin/python bench/hallway.py                      # 10,000 members, 1,000 rooms
    .venv/bin/python bench/hallway.py --members 2000 --rooms 200 --runs 10
    .venv/bin/python bench/hallway.py --watchers 1000,5000     # and the live hallway: N open hallways (hallway_live.py)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hallway_live  # a sibling script's module (bench/ is the script's directory)
from sqlalchemy import event

from salon.app import hallway
from salon.app.services import Services
from salon.app.settings import Settings
from salon.domain.rooms import Role, RoomType
from salon.store.tables import follows, participants, rooms, users
from salon.web.app import build_services
from salon.web.hub import Hub

SEED = 20261122


async def seed(services: Services, members: int, live_rooms: int, followed: int) -> str:
    rng = random.Random(SEED)  # noqa: S311 - a repeatable layout, not a secret
    now = services.clock.now()
    ids = [services.ids.new_id() for _ in range(members)]
    user_rows = [
        {
            "id": user_id,
            "username": f"m{i:05d}",
            "username_key": f"m{i:05d}",
            "display_name": f"Member {i}",
            "bio": "",
            "password_hash": "not-a-real-hash",
            "is_admin": False,
            "invites_left": 2,
            "created_at": now,
        }
        for i, user_id in enumerate(ids)
    ]
    viewer = ids[0]
    kinds = [RoomType.OPEN, RoomType.OPEN, RoomType.SOCIAL, RoomType.CLOSED]
    room_rows: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    taken: set[str] = {viewer}
    pool = [u for u in ids if u != viewer]
    rng.shuffle(pool)
    cursor = 0
    for n in range(live_rooms):
        room_id = services.ids.new_id()
        size = rng.randint(3, 12)
        in_room = pool[cursor : cursor + size]
        cursor = (cursor + size) % max(1, len(pool) - 12)
        room_rows.append(
            {
                "id": room_id,
                "title": f"Room {n}",
                "description": "",
                "topics": ["bench"],
                "type": kinds[n % len(kinds)].value,
                "capacity": 5000,
                "hands_enabled": True,
                "audience_batched": False,
                "created_by": in_room[0],
                "created_at": now,
                "seq": 0,
            }
        )
        for k, user_id in enumerate(in_room):
            role = Role.MODERATOR if k == 0 else Role.SPEAKER if k < 3 else Role.LISTENER
            people.append(
                {
                    "room_id": room_id,
                    "user_id": user_id,
                    "role": role.value,
                    "joined_at": now,
                    "stage_since": now if role.on_stage else None,
                    "muted": False,
                    "mute_locked": False,
                    "invited_up": False,
                }
            )
            taken.add(user_id)
    follow_rows = [
        {"follower_id": viewer, "followee_id": followee, "created_at": now}
        for followee in rng.sample(pool, min(followed, len(pool)))
    ]
    async with services.db.transaction() as conn:
        await conn.execute(users.insert(), user_rows)
        if room_rows:
            await conn.execute(rooms.insert(), room_rows)
            await conn.execute(participants.insert(), people)
        if follow_rows:
            await conn.execute(follows.insert(), follow_rows)
    return viewer


async def measure(services: Services, viewer: str, runs: int) -> tuple[list[float], int, int]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    times: list[float] = []
    visible = 0
    try:
        for _ in range(runs):
            statements.clear()
            started = time.perf_counter()
            page = await hallway.live_rooms_page(services, viewer, 0, 20)
            times.append((time.perf_counter() - started) * 1000)
            visible = page.total
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return times, len(statements), visible


async def run(args: argparse.Namespace) -> int:
    results: dict[int, tuple[list[float], int, int]] = {}
    for live in (10, args.rooms):
        with tempfile.TemporaryDirectory(prefix="salon-hallway-") as tmp:
            services = await build_services(Settings(data_dir=Path(tmp), dev=True, secret_key="b" * 40))
            try:
                viewer = await seed(services, args.members, live, args.follows)
                await hallway.live_rooms_page(services, viewer, 0, 20)  # warm the statement cache
                results[live] = await measure(services, viewer, args.runs)
            finally:
                await services.db.dispose()
    print(f"hallway bench: {args.members} members, viewer follows {args.follows}, {args.runs} calls each, SQLite")
    print("| live rooms | visible to the viewer | SQL statements per call | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|")
    for live, (times, statements, visible) in results.items():
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"| {live} | {visible} | {statements} | {statistics.median(times):.1f} | {p95:.1f} |")
    if args.watchers:
        await run_live(args)
    few, many = results[10][1], results[args.rooms][1]
    if many != few:
        print(f"FAIL: {few} statements at 10 rooms but {many} at {args.rooms}", file=sys.stderr)
        return 1
    return 0


async def run_live(args: argparse.Namespace) -> None:
    """The live hallway: one database as above (``--rooms`` live rooms), then each watcher count in turn."""
    counts = [int(n) for n in args.watchers.split(",")]
    out: list[hallway_live.LiveResult] = []
    with tempfile.TemporaryDirectory(prefix="salon-hallway-live-") as tmp:
        services = await build_services(Settings(data_dir=Path(tmp), dev=True, secret_key="b" * 40))
        try:
            await seed(services, max(args.members, max(counts) + 100), args.rooms, args.follows)
            assert isinstance(services.bus, Hub)
            for n in counts:
                out.append(await hallway_live.measure_live(services, services.bus, n, args.changes, SEED + n))
        finally:
            await services.db.dispose()
    print(f"\nlive hallway: {args.rooms} live rooms, one change per tick (new room, listener joins, room ends), SQLite")
    print("\n".join(hallway_live.table(out)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--follows", type=int, default=200)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--watchers", default="", help="live hallway: watcher counts, e.g. 1000,5000 (none: skipped)")
    parser.add_argument("--changes", type=int, default=15, help="live hallway: room changes per watcher count")
    args = parser.parse_args()
    if args.members < 20 or args.rooms < 10 or args.runs < 1:
        parser.error("need at least 20 members, 10 rooms and 1 run")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
