"""Fan-out bench: one room, N WebSocket clients, one moderator action at a time — how fast does it reach everyone?

    .venv/bin/python bench/fanout.py --clients 5000 --actions 20

What it does, all on 127.0.0.1, in a temporary data folder it removes at the end:

1. Seeds a SQLite database through the app's own code (``build_services``, the same as ``salon serve``): N members
   inserted as rows (no password hashing), a bearer session each (``sessions.create_session``), a moderator who
   opens the room, a speaker invited up, and the N members joined as listeners with ``stage.join`` (past
   ``audience_batch_threshold`` the room's audience is batched, as it would be in production).
2. Starts ``salon serve`` as its own process (the secret key is passed in ``SALON_SECRET_KEY`` so that the seeded
   tokens verify) and runs ``--warmup`` moderator actions back to back with nobody listening: the server CPU per
   action without fan-out (HTTP, authentication, the database transaction).
3. Starts ``bench/fanout_clients.py`` (``--client-procs`` processes, uvloop, the ``websockets`` library), which
   opens N connections, subscribes each to the room and waits for every snapshot.
4. Performs ``--actions`` moderator actions ``--spacing`` seconds apart — ``POST /rooms/{id}/mute`` with ``lock``
   alternating true/false, exactly one ``mute_changed`` event each — noting ``time.monotonic_ns()`` just before each
   request and the ``seq`` it answers. The clients note ``time.monotonic_ns()`` when each event arrives (one clock
   for every process on Linux). Latency = arrival - send, for every (client, event).
5. Reads the server's CPU time (utime + stime of the whole process, ``/proc/<pid>/stat``) just before the first
   action and once the last event reached every client: CPU µs per client-event = that / (actions * clients).
6. Does the same against ``bench/raw_broadcast.py`` — a bare ``websockets`` server calling
   ``websockets.broadcast`` with the same frame — the bar to approach, on the same machine with the same clients.

Every process is killed by PID at the end (and dies with this one: ``PR_SET_PDEATHSIG``); each wait has a timeout.
A lost event or a client that could not connect is reported, never left out of the count.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import platform
import queue
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
import uvloop

from salon.app import stage
from salon.app.ports import RoomMessage
from salon.app.rooms import NewRoom, create_room, get_snapshot
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.domain.rooms import RoomType
from salon.store.tables import users
from salon.web import ws_protocol
from salon.web.app import build_services

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
SECRET_KEY = "fanout-bench-secret-key-" + "x" * 24  # fixed: the seeding process and the server must agree
CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1


# --- machine and processes ---------------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _child_setup() -> None:
    """In each child before exec: the full fd limit, and death with the orchestrator (no orphaned server)."""
    raise_fd_limit()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S607
    git = ["git", "-C", str(BENCH_DIR), "describe", "--always", "--dirty"]
    revision = subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
    return {
        "nproc": nproc or str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "revision": revision or "unknown",
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (every thread), in seconds; resolution 1/CLK_TCK (10 ms)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Child:
    """A child process: stdin for orders, stdout read line by line (JSON) by a thread, stderr to a log file."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=env,
            preexec_fn=_child_setup,
        )
        self.pid = self.proc.pid
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def tell(self, order: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(orjson.dumps(order) + b"\n")
        self.proc.stdin.flush()

    def expect(self, key: str, timeout: float) -> dict[str, Any]:
        """The next stdout object that has ``key`` (others are kept out of the way in ``skipped``)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"{self.name}: no {key!r} within {timeout:.0f}s\n{self.tail()}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise BenchError(f"{self.name} exited ({self.proc.poll()}) before {key!r}\n{self.tail()}")
            try:
                message: dict[str, Any] = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # not one of our lines (a stray print)
            if key in message:
                return message

    def tail(self, lines: int = 25) -> str:
        self._log_file.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(f"  [{self.name}] {line}" for line in text[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):  # it may be gone already
                self.tell({"exit": True})
            try:
                self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10.0)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._log_file.close()


class BenchError(RuntimeError):
    pass


# --- seeding -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    room_id: str
    moderator_token: str
    speaker_id: str
    member_tokens: list[str]
    event_template: dict[str, Any]  # a real mute_changed frame of this room, for the raw baseline


async def seed(data_dir: Path, clients: int, log: Callable[[str], None]) -> Seeded:
    settings = Settings(data_dir=data_dir, secret_key=SECRET_KEY, room_capacity=max(5000, clients + 2))
    services = await build_services(settings)
    try:
        now = services.clock.now()
        names = ["moderator", "speaker", *(f"m{i:05d}" for i in range(clients))]
        ids = [services.ids.new_id() for _ in names]
        rows = [
            {
                "id": user_id,
                "username": name,
                "username_key": name.casefold(),
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
        moderator_id, speaker_id, member_ids = ids[0], ids[1], ids[2:]
        view = await create_room(services, moderator_id, NewRoom("Fan-out bench", "", ["bench"], RoomType.OPEN))
        room_id: str = view["room"]["id"]
        await stage.invite_up(services, moderator_id, room_id, speaker_id)
        await stage.join(services, speaker_id, room_id)  # invited up: straight onto the stage, muted
        started = time.monotonic()
        for i, member_id in enumerate(member_ids, 1):
            await stage.join(services, member_id, room_id)
            if i % 1000 == 0:
                log(f"  {i} listeners joined ({time.monotonic() - started:.0f}s)")
        view = await get_snapshot(services, moderator_id, room_id)
        if view["listener_count"] != clients or not view["room"]["audience_batched"] == (
            clients >= settings.audience_batch_threshold
        ):
            raise BenchError(f"seeding went wrong: {view['listener_count']} listeners, room {view['room']}")
        speaker = next(p for p in view["stage"] if p["user"]["id"] == speaker_id)
        frame = ws_protocol.event(RoomMessage(room_id, 0, "mute_changed", {"participant": speaker}))
        return Seeded(room_id, tokens[0], speaker_id, tokens[2:], frame)
    finally:
        await services.db.dispose()


# --- one run -----------------------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    clients: int
    actions: int
    ready: int = 0
    connect_s: float = 0.0
    connect_cpu_s: float = 0.0  # server CPU while the clients connected and subscribed
    connect_failures: dict[str, int] = field(default_factory=dict)
    send_ns: dict[int, int] = field(default_factory=dict)  # seq -> monotonic ns just before the action was sent
    answer_ns: list[int] = field(default_factory=list)  # action sent -> its HTTP answer (Salon) / ack (raw)
    broadcast_call_ns: list[int] = field(default_factory=list)  # raw only: wall time of websockets.broadcast()
    latencies_ns: list[int] = field(default_factory=list)
    last_delivery_ns: list[int] = field(default_factory=list)  # per action: send -> its last arrival
    delivered: int = 0
    duplicates: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    window_s: float = 0.0
    idle_cpu_per_s: float = 0.0
    other_cpu_s: float = 0.0  # CPU that other processes of the machine used during the window (noise)
    warmup_actions: int = 0
    warmup_cpu_s: float = 0.0
    warmup_answer_ns: list[int] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return self.clients * self.actions

    @property
    def client_events(self) -> int:
        return self.actions * self.clients

    @property
    def cpu_us_per_client_event(self) -> float:
        return self.server_cpu_s * 1e6 / self.client_events

    @property
    def fixed_cpu_us_per_action(self) -> float | None:
        return self.warmup_cpu_s * 1e6 / self.warmup_actions if self.warmup_actions else None

    def fanout_cpu_us_per_client_event(self) -> float | None:
        """Server CPU per client-event once the per-action cost measured with nobody listening is taken out."""
        fixed = self.fixed_cpu_us_per_action
        if fixed is None:
            return None
        return (self.server_cpu_s * 1e6 - fixed * self.actions) / self.client_events


def percentile(sorted_values: Sequence[int], p: float) -> int:
    """Nearest-rank percentile of sorted values."""
    if not sorted_values:
        return 0
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def start_clients(
    args: argparse.Namespace, tmp: Path, uri: str, room_id: str, tokens_file: Path, tag: str
) -> list[Child]:
    per = -(-args.clients // args.client_procs)
    children = []
    for k in range(args.client_procs):
        start = k * per
        count = min(per, args.clients - start)
        if count <= 0:
            break
        argv = [
            sys.executable,
            str(BENCH_DIR / "fanout_clients.py"),
            f"--uri={uri}",
            f"--tokens={tokens_file}",
            f"--room={room_id}",
            f"--start={start}",
            f"--count={count}",
            f"--concurrency={args.connect_concurrency}",
            f"--connect-timeout={args.connect_timeout}",
        ]
        children.append(Child(f"{tag}-clients-{k}", argv, tmp / f"{tag}-clients-{k}.log"))
    return children


def wait_ready(run: Run, clients: list[Child], timeout: float) -> None:
    for child in clients:
        ready = child.expect("ready", timeout)
        run.ready += int(ready["ready"])
        run.connect_s = max(run.connect_s, float(ready["connect_s"]))
        for key, count in ready["failures"].items():
            run.connect_failures[key] = run.connect_failures.get(key, 0) + int(count)


def idle_rate(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def machine_busy_seconds() -> float:
    """CPU time every process on the machine spent (all CPUs, ``/proc/stat``), in seconds."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def start_profiler(args: argparse.Namespace, pid: int, name: str) -> subprocess.Popen[bytes] | None:
    """``--profile DIR``: py-spy samples the server during the measured window (collapsed stacks)."""
    if args.profile is None:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"{name}-{args.clients}.folded"
    argv = [args.py_spy, "record", "--nonblocking", "--format", "raw", "--rate", "250", "-p", str(pid), "-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        try:
            profiler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait(timeout=10)


def measure(
    run: Run,
    server_pid: int,
    clients: list[Child],
    act: Callable[[int], int],
    args: argparse.Namespace,
) -> None:
    """The measured part: actions, then wait for every arrival; server, client and other CPU around it."""
    run.idle_cpu_per_s = idle_rate(server_pid, 2.0)
    profiler = start_profiler(args, server_pid, run.name)
    if profiler is not None:
        time.sleep(1.0)  # py-spy attaches
    mine = (os.getpid(), *(c.pid for c in clients))
    busy0, mine0 = machine_busy_seconds(), sum(cpu_seconds(pid) for pid in mine)
    client_cpu0 = sum(cpu_seconds(c.pid) for c in clients)
    started = time.monotonic()
    cpu0 = cpu_seconds(server_pid)
    last_seq = -1
    for k in range(run.actions):
        wait = started + k * args.spacing - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last_seq = act(k)
    for child in clients:
        child.tell({"await": last_seq, "timeout": args.deliver_timeout})
    answers = [child.expect("delivered", args.deliver_timeout + 30) for child in clients]
    run.server_cpu_s = cpu_seconds(server_pid) - cpu0
    run.window_s = time.monotonic() - started
    run.client_cpu_s = sum(cpu_seconds(c.pid) for c in clients) - client_cpu0
    mine1 = sum(cpu_seconds(pid) for pid in mine)
    run.other_cpu_s = machine_busy_seconds() - busy0 - run.server_cpu_s - (mine1 - mine0)
    stop_profiler(profiler)
    for answer in answers:
        for code, count in answer["closed"].items():
            run.closed[code] = run.closed.get(code, 0) + int(count)


def collect(run: Run, clients: list[Child], tmp: Path, timeout: float) -> None:
    """Latency of every (client, action event) from the clients' receipts; losses and duplicates counted."""
    seen: set[tuple[int, int]] = set()
    last: dict[int, int] = {}
    for k, child in enumerate(clients):
        path = tmp / f"receipts-{run.name}-{k}.json"
        child.tell({"dump": str(path)})
        child.expect("dumped", timeout)
        receipts = orjson.loads(path.read_bytes())
        path.unlink()
        for conn, seq, arrived in zip(receipts["conns"], receipts["seqs"], receipts["times"], strict=True):
            sent = run.send_ns.get(seq)
            if sent is None:
                continue  # an event this run did not cause (none expected)
            if (conn, seq) in seen:
                run.duplicates += 1
                continue
            seen.add((conn, seq))
            latency = arrived - sent
            run.latencies_ns.append(latency)
            if latency > last.get(seq, -1):
                last[seq] = latency
    run.delivered = len(seen)
    run.latencies_ns.sort()
    run.last_delivery_ns = sorted(last.values())


def run_salon(args: argparse.Namespace, tmp: Path, log: Callable[[str], None]) -> Run:
    run = Run("salon", args.clients, args.actions)
    data_dir = tmp / "data"
    log(f"seeding {args.clients} members, their sessions, the room and {args.clients} listeners …")
    started = time.monotonic()
    seeded = uvloop.run(seed(data_dir, args.clients, log))
    log(f"  seeded in {time.monotonic() - started:.1f}s")
    tokens_file = tmp / "tokens.txt"
    tokens_file.write_text("\n".join(seeded.member_tokens) + "\n")
    (tmp / "template.json").write_bytes(orjson.dumps(seeded.event_template))

    port = free_port()
    env = {**os.environ, "SALON_SECRET_KEY": SECRET_KEY, "SALON_DATA_DIR": str(data_dir)}
    env.pop("SALON_DATABASE_URL", None)
    salon = [sys.executable, str(args.serve_with)] if args.serve_with else [str(Path(sys.executable).parent / "salon")]
    argv = [*salon, "serve", f"--host={HOST}", f"--port={port}", f"--data-dir={data_dir}", "--no-dev"]
    server = Child("salon-serve", argv, tmp / "server.log", env=env)
    clients: list[Child] = []
    base = f"http://{HOST}:{port}"
    try:
        wait_http(server, f"{base}/api/v1/openapi.json", 60.0)
        log(f"salon serve is up (pid {server.pid}, port {port})")
        headers = {"Authorization": f"Bearer {seeded.moderator_token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30.0) as http:
            toggles = 0

            def act(_k: int) -> int:
                nonlocal toggles
                lock = toggles % 2 == 0
                toggles += 1
                sent = time.monotonic_ns()
                response = http.post(
                    f"/api/v1/rooms/{seeded.room_id}/mute", json={"user_id": seeded.speaker_id, "lock": lock}
                )
                answered = time.monotonic_ns()
                if response.status_code != 200:
                    raise BenchError(f"mute answered {response.status_code}: {response.text}")
                seq = int(response.json()["seq"])
                if seq < 0:
                    raise BenchError("the mute produced no event")
                run.send_ns[seq] = sent
                run.answer_ns.append(answered - sent)
                return seq

            if args.warmup:
                cpu0 = cpu_seconds(server.pid)
                for k in range(args.warmup):
                    act(k)
                run.warmup_cpu_s = cpu_seconds(server.pid) - cpu0
                run.warmup_actions = args.warmup
                run.warmup_answer_ns = sorted(run.answer_ns)
                run.answer_ns.clear()
                run.send_ns.clear()
                log(
                    f"  {args.warmup} actions with nobody listening: "
                    f"{run.fixed_cpu_us_per_action:.0f} µs server CPU each"
                )

            uri = f"ws://{HOST}:{port}/api/v1/ws"
            log(f"starting {args.client_procs} client process(es), {args.clients} connections …")
            connect_cpu0 = cpu_seconds(server.pid)
            clients = start_clients(args, tmp, uri, seeded.room_id, tokens_file, "salon")
            wait_ready(run, clients, args.connect_timeout + 60)
            run.connect_cpu_s = cpu_seconds(server.pid) - connect_cpu0
            log(
                f"  {run.ready}/{args.clients} subscribed in {run.connect_s:.1f}s ({run.connect_cpu_s:.1f}s server CPU)"
            )
            time.sleep(1.0)
            log(f"{args.actions} actions, {args.spacing * 1000:.0f} ms apart …")
            measure(run, server.pid, clients, act, args)
        collect(run, clients, tmp, 120.0)
    finally:
        for child in clients:
            child.stop()
        server.stop(grace=15.0)
    return run


def run_raw(args: argparse.Namespace, tmp: Path, log: Callable[[str], None]) -> Run:
    run = Run("raw", args.clients, args.actions)
    port = free_port()
    argv = [
        sys.executable,
        str(BENCH_DIR / "raw_broadcast.py"),
        f"--port={port}",
        f"--template={tmp / 'template.json'}",
    ]
    server = Child("raw-broadcast", argv, tmp / "raw-server.log")
    clients: list[Child] = []
    try:
        server.expect("listening", 30.0)
        log(f"raw websockets server is up (pid {server.pid}, port {port})")
        uri = f"ws://{HOST}:{port}/"
        room_id = str(orjson.loads((tmp / "template.json").read_bytes())["room_id"])
        connect_cpu0 = cpu_seconds(server.pid)
        clients = start_clients(args, tmp, uri, room_id, tmp / "tokens.txt", "raw")
        wait_ready(run, clients, args.connect_timeout + 60)
        run.connect_cpu_s = cpu_seconds(server.pid) - connect_cpu0
        log(f"  {run.ready}/{args.clients} subscribed in {run.connect_s:.1f}s")
        time.sleep(1.0)

        def act(k: int) -> int:
            seq = k + 1
            run.send_ns[seq] = time.monotonic_ns()
            server.tell({"seq": seq})
            return seq

        log(f"{args.actions} broadcasts, {args.spacing * 1000:.0f} ms apart …")
        measure(run, server.pid, clients, act, args)
        for _ in range(args.actions):
            run.broadcast_call_ns.append(int(server.expect("broadcast_ns", 10.0)["broadcast_ns"]))
        run.broadcast_call_ns.sort()
        collect(run, clients, tmp, 120.0)
    finally:
        for child in clients:
            child.stop()
        server.stop()
    return run


def wait_http(server: Child, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(f"the server exited ({server.proc.returncode})\n{server.tail()}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise BenchError(f"the server did not answer {url} within {timeout:.0f}s\n{server.tail()}")


# --- report ------------------------------------------------------------------------------------------------------


def ms(ns: float) -> str:
    return f"{ns / 1e6:.1f}"


def summary(run: Run) -> dict[str, Any]:
    lat = run.latencies_ns
    out: dict[str, Any] = {
        "clients": run.clients,
        "subscribed": run.ready,
        "actions": run.actions,
        "delivered": run.delivered,
        "expected": run.expected,
        "delivered_fraction": run.delivered / run.expected if run.expected else 0.0,
        "duplicates": run.duplicates,
        "closed_during_run": run.closed,
        "connect_failures": run.connect_failures,
        "connect_s": run.connect_s,
        "server_cpu_ms_per_connect_and_subscribe": round(run.connect_cpu_s * 1e3 / max(1, run.ready), 2),
        "latency_ms": {p: round(percentile(lat, q) / 1e6, 2) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))}
        | {"max": round((lat[-1] if lat else 0) / 1e6, 2)},
        "last_delivery_ms": {
            "p50": round(percentile(run.last_delivery_ns, 50) / 1e6, 2),
            "max": round((run.last_delivery_ns[-1] if run.last_delivery_ns else 0) / 1e6, 2),
        },
        "answer_ms_p50": round(percentile(sorted(run.answer_ns), 50) / 1e6, 2),
        "server_cpu_s": round(run.server_cpu_s, 3),
        "server_cpu_us_per_client_event": round(run.cpu_us_per_client_event, 2),
        "idle_server_cpu_per_s": round(run.idle_cpu_per_s, 3),
        "client_cpu_us_per_client_event": round(run.client_cpu_s * 1e6 / run.client_events, 2),
        "window_s": round(run.window_s, 2),
        "other_processes_cpu_s": round(run.other_cpu_s, 2),
    }
    if run.warmup_actions:
        out["fixed_cpu_us_per_action"] = round(run.fixed_cpu_us_per_action or 0.0, 1)
        out["fanout_cpu_us_per_client_event"] = round(run.fanout_cpu_us_per_client_event() or 0.0, 2)
        out["warmup_answer_ms_p50"] = round(percentile(run.warmup_answer_ns, 50) / 1e6, 2)
    if run.broadcast_call_ns:
        out["broadcast_call_ms"] = {
            "p50": round(percentile(run.broadcast_call_ns, 50) / 1e6, 2),
            "max": round(run.broadcast_call_ns[-1] / 1e6, 2),
        }
    return out


def table(runs: list[Run]) -> str:
    rows = [
        "| server | clients | actions | delivered | p50 ms | p95 ms | p99 ms | max ms | last arrival p50 / max ms "
        "| server CPU µs / client-event | client CPU µs / client-event |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lat = run.latencies_ns
        name = "Salon (`salon serve`)" if run.name == "salon" else "raw `websockets.broadcast`"
        delivered = f"{run.delivered}/{run.expected} ({100 * run.delivered / max(1, run.expected):.2f} %)"
        rows.append(
            f"| {name} | {run.clients} | {run.actions} | {delivered} | {ms(percentile(lat, 50))} "
            f"| {ms(percentile(lat, 95))} | {ms(percentile(lat, 99))} | {ms(lat[-1] if lat else 0)} "
            f"| {ms(percentile(run.last_delivery_ns, 50))} / {ms(run.last_delivery_ns[-1] if lat else 0)} "
            f"| {run.cpu_us_per_client_event:.1f} | {run.client_cpu_s * 1e6 / run.client_events:.1f} |"
        )
    return "\n".join(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=5000, help="WebSocket clients in the room (default 5000)")
    parser.add_argument("--actions", type=int, default=20, help="moderator actions measured (default 20)")
    parser.add_argument("--spacing", type=float, default=0.3, help="seconds between actions (default 0.3)")
    parser.add_argument("--warmup", type=int, default=100, help="actions with nobody listening first (default 100)")
    parser.add_argument("--client-procs", type=int, default=1, help="client processes (default 1)")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="handshakes in flight per process")
    parser.add_argument("--connect-timeout", type=float, default=600.0)
    parser.add_argument("--deliver-timeout", type=float, default=60.0, help="wait for the last event this long")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw websockets.broadcast baseline")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", type=Path, help="py-spy the servers while measured; collapsed stacks here")
    parser.add_argument(
        "--serve-with", type=Path, help="experiments: a Python file run with `serve ...` instead of `salon serve`"
    )
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy program for --profile (not a project dep)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) for a look")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))  # run the clean-up below, then leave
    if args.clients < 1 or args.actions < 1 or args.client_procs < 1:
        raise SystemExit("--clients, --actions and --client-procs must be at least 1")
    began = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", flush=True)

    fd_limit = raise_fd_limit()
    if fd_limit < args.clients + 100:
        raise SystemExit(f"the open-file limit is {fd_limit}: too low for {args.clients} connections")
    info = machine()
    log(f"machine: {info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, Linux {info['kernel']}")
    log(f"code: {info['revision']}")
    log(f"load average now: {Path('/proc/loadavg').read_text().split()[:3]} (other work skews the numbers)")
    tmp = Path(tempfile.mkdtemp(prefix="salon-fanout-"))
    runs: list[Run] = []
    try:
        runs.append(run_salon(args, tmp, log))
        if not args.no_raw:
            runs.append(run_raw(args, tmp, log))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - began
    results = {"machine": info, "elapsed_s": round(elapsed, 1), "runs": {r.name: summary(r) for r in runs}}
    print()
    print(table(runs))
    print()
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    lost = [r for r in runs if r.delivered != r.expected or r.duplicates]
    for r in lost:
        print(f"WARNING {r.name}: {r.expected - r.delivered} client-events not delivered, {r.duplicates} duplicates")
    log(f"done in {elapsed:.0f}s")
    return 2 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
