"""Test support: several ``salon serve`` instances as real processes (each with its own managed Janus, data folder
and loopback port, all on one database and one Redis) and HAProxy in front of them, started from what
``salon front-door-config`` prints.

Every process is started here and stopped by its PID (``Instance.kill`` is the ``kill -9`` of a test); a managed
Janus whose ``salon serve`` was killed dies with it (``PR_SET_PDEATHSIG``), and ``killing_leftovers`` makes sure.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from salon.adapters.janus.config import config_folder
from tests.support.janus import killing_leftovers

START_TIMEOUT_S = 60.0  # three instances and their Janus start at once on a loaded 2-core machine
HAPROXY = Path("/usr/sbin/haproxy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Instance:
    """One ``salon serve`` child: its name in the front door (``salon-<n>``), port, folder and log."""

    name: str
    port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, env: Mapping[str, str]) -> None:
        salon = str(Path(sys.executable).parent / "salon")
        argv = [salon, "serve", f"--port={self.port}", f"--data-dir={self.data_dir}"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, env=dict(env), cwd=self.data_dir.parent, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def kill(self) -> None:
        """``kill -9``: no shutdown of any kind, its sockets reset by the kernel."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()  # SIGTERM: a clean stop, as systemd's
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class FrontDoor:
    """HAProxy running ``config``: clients use ``url``; ``stats`` reads each instance's state from its stats CSV."""

    port: int
    stats_port: int
    config: str
    folder: Path
    instances: list[Instance]
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.folder / "haproxy.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        path = self.folder / "haproxy.cfg"
        path.write_text(self.config)
        check = subprocess.run([str(HAPROXY), "-c", "-f", str(path)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        with self.log_path.open("ab") as log:
            # -db: in the foreground, no daemon, so the test holds its PID
            self.proc = subprocess.Popen(
                [str(HAPROXY), "-db", "-f", str(path)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def stats(self) -> dict[str, str]:
        """Each instance's state as HAProxy sees it: ``UP``, ``DOWN``, or a transition (``UP 1/2``, ...)."""
        text = httpx.get(f"http://127.0.0.1:{self.stats_port}/;csv", trust_env=False, timeout=5).text
        rows = csv.DictReader(io.StringIO(text.removeprefix("# ")))
        return {row["svname"]: row["status"] for row in rows if row["pxname"] == "instances" and row["svname"]
                not in {"FRONTEND", "BACKEND"}}  # fmt: skip

    def all_up(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, self.log_path.read_text(errors="replace")
        try:
            return set(self.stats().values()) == {"UP"}
        except httpx.HTTPError:  # not listening yet
            return False

    def by_name(self, name: str) -> Instance:
        return next(i for i in self.instances if i.name == name)


def _stop_all(instances: list[Instance]) -> None:
    """Each instance told to stop at once, then waited for: their graceful stops overlap."""
    for instance in instances:
        if instance.alive:
            assert instance.proc is not None
            instance.proc.terminate()
    for instance in instances:
        instance.stop()


def _wait_ready(instances: list[Instance]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(instances)
    while waiting:
        for instance in list(waiting):
            assert instance.alive, f"{instance.name} exited:\n{instance.log_tail()}"
            try:
                answer = httpx.get(f"http://{instance.address}/readyz", trust_env=False, timeout=2)
            except httpx.HTTPError:
                continue
            if answer.status_code == 200:
                waiting.remove(instance)
        assert time.monotonic() < deadline, "not ready: " + "; ".join(f"{i.name}: {i.log_tail()}" for i in waiting)
        time.sleep(0.1)


def wait_for(condition: object, what: str, timeout: float = 15.0) -> None:
    """Poll ``condition`` (a callable returning a truth value) until it holds, failing after ``timeout``."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def front_door_config(instances: list[Instance], port: int, stats_port: int, *extra: str) -> str:
    """What ``salon front-door-config`` prints for these instances (the command itself, as an operator runs it)."""
    argv = [str(Path(sys.executable).parent / "salon"), "front-door-config"]
    argv += [f"--instance={i.address}" for i in instances]
    argv += [f"--bind=127.0.0.1:{port}", f"--stats=127.0.0.1:{stats_port}", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def instances_behind_a_front_door(
    folder: Path, env: Mapping[str, str], count: int, *config_flags: str
) -> Iterator[FrontDoor]:
    """``count`` instances with ``env`` (each its own data folder and port, ``SALON_PUBLIC_URL`` the front door's),
    ready, and HAProxy in front of them with every instance UP."""
    port, stats_port = free_port(), free_port()
    instances = [
        Instance(f"salon-{n}", free_port(), folder / f"i{n}" / "data", folder / f"i{n}.log")
        for n in range(1, count + 1)
    ]
    door = FrontDoor(port, stats_port, front_door_config(instances, port, stats_port, *config_flags), folder, instances)
    with ExitStack() as stack:
        for instance in instances:
            instance.data_dir.mkdir(parents=True)
            stack.enter_context(killing_leftovers(config_folder(instance.data_dir)))
        stack.callback(_stop_all, instances)
        for instance in instances:
            instance.start({**env, "SALON_PUBLIC_URL": door.url})
        _wait_ready(instances)
        stack.callback(door.stop)
        door.start()
        wait_for(lambda: door.all_up(), "HAProxy to see every instance up")
        yield door
