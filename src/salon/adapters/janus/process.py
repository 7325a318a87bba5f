"""Adapters layer: the Janus child process that ``salon serve`` runs when no external Janus is configured.

``ManagedJanus`` writes the locked-down config (``config.py``) into a private folder, starts ``janus -F <folder>``,
waits until ``GET /janus/info`` answers and shows only the expected modules, restarts Janus with backoff when it
dies (then awaits ``on_restart`` so the app can re-create rooms and mountpoints: Janus forgets everything), and
stops it with SIGTERM, then SIGKILL. Janus never outlives the app: it is started with ``PR_SET_PDEATHSIG`` (Linux),
so the kernel kills it when the thread that started it — the event loop's — ends, however the app ends.

Janus runs in its own session, so a Ctrl-C in the terminal reaches only the app, which then stops Janus in order
(otherwise Janus would die first and the supervisor would restart it during shutdown). Its output goes to
``<folder>/janus.log`` (0600); the secrets are in the config files only, never on its command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from salon.adapters.child_process import die_with_parent
from salon.adapters.janus.config import ManagedJanusConfig, write_config

__all__ = ["JANUS_BINARY", "JanusStartError", "ManagedJanus", "RestartHook", "free_loopback_port"]

logger = logging.getLogger(__name__)

JANUS_BINARY = Path("/usr/bin/janus")
HOST = "127.0.0.1"
EXPECTED_PLUGINS = frozenset({"janus.plugin.audiobridge", "janus.plugin.streaming"})
EXPECTED_TRANSPORTS = frozenset({"janus.transport.http"})

LOG_NAME = "janus.log"
LOG_ROTATE_BYTES = 16 * 1024 * 1024
LOG_TAIL_LINES = 30
# A run this long counts as healthy: the next crash restarts at once again.
STABLE_AFTER_S = 60.0
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 30.0
POLL_INTERVAL_S = 0.05
# When the port was picked for us, another process may take it before Janus binds it.
AUTO_PORT_ATTEMPTS = 3

RestartHook = Callable[["ManagedJanus"], Awaitable[None]]


class JanusStartError(RuntimeError):
    """Janus did not start, or did not come up locked down as configured."""

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _child_env() -> dict[str, str]:
    # Janus needs none of the app's variables (database URLs, secrets); pass only what locates programs and text.
    return {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}


class ManagedJanus:
    """A supervised Janus on 127.0.0.1; ``async with ManagedJanus(folder) as janus: janus.url ...``.

    ``folder`` is private to this Janus (0700): config files, ``janus.log``. ``config`` defaults to fresh random
    secrets, a free port and one event loop per core; they stay the same across restarts, so ``url`` does too.
    ``on_restart`` is awaited after each restart, before the new process is watched: it should re-create the media
    state and return (a Janus that dies meanwhile is restarted once it has).
    """

    def __init__(
        self,
        folder: Path,
        config: ManagedJanusConfig | None = None,
        *,
        binary: Path = JANUS_BINARY,
        lib_dir: Path | None = None,
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        on_restart: RestartHook | None = None,
    ) -> None:
        self.folder = folder
        self.config = config or ManagedJanusConfig()
        self.binary = binary
        self.lib_dir = lib_dir
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.on_restart = on_restart
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._started_at = 0.0
        self._log_offset = 0

    # --- what the app uses -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The Janus API root, e.g. ``http://127.0.0.1:43123/janus``."""
        return f"http://{HOST}:{self.config.http_port}/janus"

    @property
    def api_secret(self) -> str:
        return self.config.api_secret

    @property
    def admin_key(self) -> str:
        return self.config.admin_key

    @property
    def pid(self) -> int | None:
        """The running Janus's PID (a new one after each restart); None when it is not running."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_NAME

    async def start(self) -> None:
        """Start Janus and return once it answers; raises ``JanusStartError`` (with Janus's last log lines)."""
        if self._proc is not None:
            raise RuntimeError("ManagedJanus already started")
        if not os.access(self.binary, os.X_OK):
            raise JanusStartError(f"{self.binary} not found: install Janus (scripts/install-system-deps.sh)")
        self._stopping = False
        auto_port = self.config.http_port == 0
        attempts = AUTO_PORT_ATTEMPTS if auto_port else 1
        for attempt in range(1, attempts + 1):
            if auto_port:
                self.config = dataclasses.replace(self.config, http_port=free_loopback_port())
            try:
                await self._spawn()
                break
            except BaseException as e:
                self._proc = None  # already ended by _spawn
                # A port taken in the meantime makes Janus exit at once ("No Janus API transport is available").
                if not isinstance(e, JanusStartError) or attempt == attempts or e.exit_code is None:
                    raise
                logger.warning("Janus exited at start on port %d; trying another port", self.config.http_port)
        self._supervisor = asyncio.create_task(self._supervise(), name="janus-supervisor")
        logger.info("Janus started (pid %s) at %s", self.pid, self.url)

    async def stop(self) -> None:
        """Stop supervising and end Janus: SIGTERM, then SIGKILL after ``stop_timeout``. Idempotent."""
        self._stopping = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            # wait(), not `await supervisor`: a cancellation of stop() itself must not be swallowed.
            await asyncio.wait({supervisor})
        await self._end_process()
        self._proc = None

    async def __aenter__(self) -> ManagedJanus:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- the process ---------------------------------------------------------------------------------------------

    async def _spawn(self) -> None:
        write_config(self.config, self.folder, lib_dir=self.lib_dir)
        log_fd = self._open_log()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                str(self.binary),
                f"--configs-folder={self.folder}",
                f"--config={self.folder / 'janus.jcfg'}",
                "--disable-colors",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.folder,
                env=_child_env(),
                start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),
            )
        finally:
            os.close(log_fd)
        self._started_at = time.monotonic()
        try:
            await self._wait_ready()
        except BaseException:
            await self._end_process(kill=True)
            raise

    def _open_log(self) -> int:
        path = self.log_path
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size > LOG_ROTATE_BYTES:
                path.replace(path.with_name(LOG_NAME + ".1"))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"--- {stamp} salon: starting {self.binary} (restarts so far: {self.restarts}) ---\n".encode())
        self._log_offset = os.lseek(fd, 0, os.SEEK_END)
        return fd

    async def _wait_ready(self) -> None:
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self.start_timeout
        last_error = "no answer yet"
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as client:
            while True:
                if proc.returncode is not None:
                    raise self._start_error(
                        f"Janus exited with code {proc.returncode} while starting", exit_code=proc.returncode
                    )
                if time.monotonic() > deadline:
                    raise self._start_error(f"Janus did not answer {self.url}/info within {self.start_timeout:g} s")
                try:
                    response = await client.get(f"{self.url}/info")
                    info: Any = response.json()
                except (httpx.HTTPError, ValueError) as e:
                    last_error = type(e).__name__
                else:
                    if isinstance(info, dict) and info.get("janus") == "server_info":
                        self._check_locked_down(info)
                        return
                    last_error = f"unexpected answer {response.status_code}"
                logger.debug("waiting for Janus: %s", last_error)
                await asyncio.sleep(POLL_INTERVAL_S)

    def _check_locked_down(self, info: dict[str, Any]) -> None:
        plugins = set(info.get("plugins") or {})
        transports = set(info.get("transports") or {})
        problems = []
        if plugins != EXPECTED_PLUGINS:
            problems.append(f"plugins {sorted(plugins)}")
        if transports != EXPECTED_TRANSPORTS:
            problems.append(f"transports {sorted(transports)}")
        if info.get("events"):
            problems.append(f"event handlers {sorted(info['events'])}")
        if info.get("loggers"):
            problems.append(f"loggers {sorted(info['loggers'])}")
        if info.get("api_secret") is not True:
            problems.append("no api_secret")
        if problems:
            raise self._start_error("Janus is not locked down as configured: " + ", ".join(problems))

    def _start_error(self, reason: str, *, exit_code: int | None = None) -> JanusStartError:
        return JanusStartError(f"{reason}; last lines of {self.log_path}:\n{self._log_tail()}", exit_code=exit_code)

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode("utf-8", "replace")
        except OSError as e:
            return f"(log unreadable: {e})"
        # Janus never prints them at the debug levels allowed; never show them even so.
        for secret in (self.config.api_secret, self.config.admin_key):
            text = text.replace(secret, "***")
        return "\n".join(text.splitlines()[-LOG_TAIL_LINES:]) or "(empty)"

    async def _end_process(self, *, kill: bool = False) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        try:
            if not kill:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), self.stop_timeout)
                    return
                except TimeoutError:
                    logger.warning("Janus (pid %d) ignored SIGTERM for %g s; killing it", proc.pid, self.stop_timeout)
            proc.kill()
            await proc.wait()
        except BaseException:
            # Cancelled while waiting: still never leave Janus behind.
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise

    # --- supervision ---------------------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            proc = self._proc
            assert proc is not None
            code = await proc.wait()
            if self._stopping:
                return
            ran_for = time.monotonic() - self._started_at
            failures = 0 if ran_for >= STABLE_AFTER_S else failures + 1
            logger.error(
                "Janus (pid %d) exited with code %s after %.1f s; restarting. Last lines of its log:\n%s",
                proc.pid,
                code,
                ran_for,
                self._log_tail(),
            )
            while not self._stopping:
                await asyncio.sleep(self._backoff(failures))
                try:
                    await self._spawn()
                except Exception as e:  # e.g. a full disk when writing the config: keep trying all the same
                    failures += 1
                    logger.error("Janus restart failed (%d in a row): %s", failures, e)
                    continue
                break
            if self._stopping:
                return
            self.restarts += 1
            logger.warning("Janus restarted (pid %s, restart %d)", self.pid, self.restarts)
            if self.on_restart is not None:
                try:
                    await self.on_restart(self)
                except Exception:
                    logger.exception("on_restart hook failed after Janus restart %d", self.restarts)

    @staticmethod
    def _backoff(failures: int) -> float:
        # Jitter keeps several app instances on one host from restarting their Janus in lockstep.
        base = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** max(0, failures - 1))
        return base * (0.75 + secrets.randbelow(501) / 1000)
