"""Live hallway bench over real sockets: N WebSocket clients watch the hallway of a real ``salon serve``; rooms
change through the HTTP API; what does each change cost the server, and when does it reach every watcher?

    .venv/bin/python bench/hallway_ws.py --watchers 1000 --changes 12
    .venv/bin/python bench/hallway_ws.py --watchers 5000 --client-procs 2

Seeds a temporary SQLite database (``--watchers`` members with bearer sessions, a host and a joiner, ``--rooms``
open rooms), starts ``salon serve`` (its hallway ticker runs once a second), then:

1. ``--warmup`` changes with nobody watching: the server's CPU for a change itself (the HTTP request, the use case);
2. the watchers connect (bench/fanout_clients.py ``--hallway``: ``hallway_watch``, then a timestamp per ``hallway``
   frame) and the same changes are made again, one every 1.2–1.8 s (random, so each lands at a random point of the
   ticker's period, and one tick carries one change): a new open room (``POST /rooms``), the joiner joining it as a
   listener, the room ending. Each change is one frame to every watcher.

Reported: the server's CPU per change beyond the change itself (over the window, less its idle rate), per frame,
delivery (the change's request sent → the frame read by the client process) p50/p95/max, frames delivered of
expected, and the clients' CPU beside it. Both processes share the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import fanout
import httpx
import uvloop

from salon.app.rooms import NewRoom, create_room
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.domain.rooms import RoomType
from salon.store.tables import users
from salon.web.app import build_services


async def seed(data_dir: Path, watchers: int, rooms: int) -> tuple[list[str], str, str]:
    """Member tokens (watchers), the host's and the joiner's tokens."""
    services = await build_services(Settings(data_dir=data_dir, secret_key=fanout.SECRET_KEY))
    try:
        now = services.clock.now()
        names = ["host", "joiner", *(f"w{i:05d}" for i in range(watchers))]
        ids = [services.ids.new_id() for _ in names]
        rows = [
            {
                "id": user_id,
                "username": name,
                "username_key": name,
                "display_name": name.title(),
                "bio": "",
                "password_hash": "not-a-real-hash",
                "is_admin": False,
                "invites_left": 2,
                "created_at": now,
            }
            for user_id, name in zip(ids, names, strict=True)
        ]
        async with services.db.transaction() as conn:
            await conn.execute(users.insert(), rows)
            tokens = [(await create_session(services, conn, user_id, "bearer")).token for user_id in ids]
        for n in range(rooms):
            await create_room(services, ids[0], NewRoom(f"Standing room {n}", "", ["bench"], RoomType.OPEN))
        return tokens[2:], tokens[0], tokens[1]
    finally:
        await services.db.dispose()


class Changes:
    """Room changes through the public API, in turn: open a room, a listener joins it, it ends."""

    def __init__(self, http: httpx.Client, host: str, joiner: str) -> None:
        self.http, self.host, self.joiner = (
            http,
            {"Authorization": f"Bearer {host}"},
            {"Authorization": f"Bearer {joiner}"},
        )
        self.room: str | None = None
        self.n = 0

    def make(self) -> None:
        step, self.n = self.n % 3, self.n + 1
        if step == 0:
            body = {"title": f"Live bench {self.n}", "topics": ["bench"], "type": "open"}
            response = self.http.post("/api/v1/rooms", json=body, headers=self.host)
            self.room = str(response.json()["room"]["id"]) if response.is_success else None
        elif step == 1:
            response = self.http.post(f"/api/v1/rooms/{self.room}/join", headers=self.joiner)
        else:
            response = self.http.post(f"/api/v1/rooms/{self.room}/end", headers=self.host)
        if not response.is_success:
            raise fanout.BenchError(f"change {self.n} answered {response.status_code}: {response.text}")


def run(args: argparse.Namespace, tmp: Path, log: Callable[[str], None]) -> fanout.Run:
    run = fanout.Run("hallway", args.watchers, args.changes)
    data_dir = tmp / "data"
    tokens, host, joiner = uvloop.run(seed(data_dir, args.watchers, args.rooms))
    tokens_file = tmp / "tokens.txt"
    tokens_file.write_text("\n".join(tokens) + "\n")
    port = fanout.free_port()
    env = {**os.environ, "SALON_SECRET_KEY": fanout.SECRET_KEY, "SALON_DATA_DIR": str(data_dir)}
    env.pop("SALON_DATABASE_URL", None)
    argv = [str(Path(sys.executable).parent / "salon"), "serve", f"--host={fanout.HOST}", f"--port={port}"]
    server = fanout.Child("salon-serve", [*argv, f"--data-dir={data_dir}", "--no-dev"], tmp / "server.log", env=env)
    clients: list[fanout.Child] = []
    base = f"http://{fanout.HOST}:{port}"
    rng = random.Random(args.seed)  # noqa: S311 - a repeatable run, not a secret
    try:
        fanout.wait_http(server, f"{base}/api/v1/openapi.json", 60.0)
        log(f"salon serve is up (pid {server.pid}, port {port})")
        with httpx.Client(base_url=base, timeout=30.0, trust_env=False) as http:
            changes = Changes(http, host, joiner)
            cpu0 = fanout.cpu_seconds(server.pid)
            for _ in range(args.warmup):
                changes.make()
            run.warmup_cpu_s = fanout.cpu_seconds(server.pid) - cpu0
            run.warmup_actions = args.warmup
            while changes.n % 3:  # start the measured changes with a new room
                changes.make()
            clients = start_clients(args, tmp, f"ws://{fanout.HOST}:{port}/api/v1/ws", tokens_file)
            fanout.wait_ready(run, clients, args.connect_timeout + 60)
            log(f"{run.ready}/{args.watchers} watching in {run.connect_s:.1f}s")
            time.sleep(2.0)

            def act(k: int) -> int:
                time.sleep(rng.uniform(0.0, 0.4))  # on the orchestrator's 1.6 s spacing: 1.2–2.0 s apart
                run.send_ns[k + 1] = time.monotonic_ns()
                changes.make()
                run.answer_ns.append(time.monotonic_ns() - run.send_ns[k + 1])
                return k + 1

            fanout.measure(run, server.pid, clients, act, args)
        fanout.collect(run, clients, tmp, 120.0)
    finally:
        for child in clients:
            child.stop()
        server.stop(grace=15.0)
    return run


def start_clients(args: argparse.Namespace, tmp: Path, uri: str, tokens_file: Path) -> list[fanout.Child]:
    per = -(-args.watchers // args.client_procs)
    children = []
    for k in range(args.client_procs):
        count = min(per, args.watchers - k * per)
        if count <= 0:
            break
        argv = [
            sys.executable,
            str(fanout.BENCH_DIR / "fanout_clients.py"),
            f"--uri={uri}",
            f"--tokens={tokens_file}",
            "--room=-",
            f"--start={k * per}",
            f"--count={count}",
            f"--concurrency={args.connect_concurrency}",
            f"--connect-timeout={args.connect_timeout}",
            "--hallway",
        ]
        children.append(fanout.Child(f"hallway-clients-{k}", argv, tmp / f"hallway-clients-{k}.log"))
    return children


def report(run: fanout.Run, args: argparse.Namespace) -> str:
    fixed = (run.fixed_cpu_us_per_action or 0.0) / 1000
    idle = run.idle_cpu_per_s * run.window_s
    per_change = (run.server_cpu_s - idle) * 1000 / run.actions - fixed
    frames = max(1, run.delivered)
    lat = run.latencies_ns
    return "\n".join(
        [
            f"live hallway over WebSockets: {args.watchers:,} watchers, {args.rooms} standing rooms,"
            f" {run.actions} changes, {args.client_procs} client process(es), SQLite; machine {fanout.machine()}",
            "| watchers | changes | change itself ms CPU | hallway CPU per change ms | per frame µs | delivered"
            " | delivery p50 / p95 / max ms | clients CPU s | server idle %/s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {args.watchers:,} | {run.actions} | {fixed:.1f} | {per_change:.1f}"
            f" | {per_change * 1000 * run.actions / frames:.1f} | {run.delivered}/{run.expected}"
            f" | {fanout.ms(fanout.percentile(lat, 50))} / {fanout.ms(fanout.percentile(lat, 95))}"
            f" / {fanout.ms(lat[-1] if lat else 0)} | {run.client_cpu_s:.1f} | {run.idle_cpu_per_s * 100:.1f} |",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=12, help="measured changes (default 12)")
    parser.add_argument("--warmup", type=int, default=6, help="changes with nobody watching first (default 6)")
    parser.add_argument("--rooms", type=int, default=20, help="open rooms already live (default 20)")
    parser.add_argument("--client-procs", type=int, default=1)
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--connect-timeout", type=float, default=300.0)
    parser.add_argument("--deliver-timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    args.spacing, args.profile = 1.6, None  # what fanout.measure reads: the base spacing (act adds 0–0.4 s)
    fanout.raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="salon-hallway-ws-") as tmp:
        result = run(args, Path(tmp), lambda line: print(line, file=sys.stderr, flush=True))
    print(report(result, args))
    return 0 if result.delivered == result.expected else 2


if __name__ == "__main__":
    sys.exit(main())
