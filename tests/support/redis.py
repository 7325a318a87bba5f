"""Test support: a private ``redis-server`` (Debian's) on a unix socket in its own temporary folder — no TCP port,
no persistence — that a test can stop and start again at the same address (Redis restarted mid-room).

``private_redis()`` yields a started :class:`RedisServer`; use it from a module- or session-scoped fixture. The
server is stopped by its PID and its folder removed when the block ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

READY_TIMEOUT_S = 10.0


class RedisStartError(RuntimeError):
    pass


class RedisServer:
    def __init__(self, base_dir: Path, binary: str) -> None:
        self.base_dir = base_dir
        self.binary = binary
        self.socket_path = base_dir / "redis.sock"
        self.log_path = base_dir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        args = [
            self.binary,
            "--port", "0",  # no TCP at all: only the socket below
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--save", "",  # no snapshots, no append-only file: a restart starts empty, as a lost Redis would
            "--appendonly", "no",
            "--dir", str(self.base_dir),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
        ]  # fmt: skip
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self._answers_ping():
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                raise RedisStartError(f"redis-server exited ({self._proc.returncode}): {err}{self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RedisStartError(f"redis-server not ready after {READY_TIMEOUT_S}s: {self._log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (its clients see their connections drop); ``start`` brings it back at the same URL."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
        self.socket_path.unlink(missing_ok=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def _answers_ping(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(str(self.socket_path))
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def find_redis_server() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        raise RedisStartError("redis-server not found: run scripts/install-system-deps.sh (Debian redis-server)")
    return found


@contextmanager
def private_redis() -> Iterator[RedisServer]:
    # A short folder under /tmp: a unix socket's path must fit in 107 bytes, which pytest's tmp paths may not.
    base_dir = Path(tempfile.mkdtemp(prefix="salon-redis-"))
    server = RedisServer(base_dir, find_redis_server())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base_dir, ignore_errors=True)
