"""Adapters layer: the broadcast workers ``salon serve`` runs — one ``python -m salon.broadcast`` process per core,
each with its own listener, control and RTP ports, supervised like the managed Janus (restarted on the same ports
if one dies; its listeners reconnect with fresh tickets), stopped with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from salon.adapters.broadcast.fleet import BroadcastNode
from salon.adapters.child_process import die_with_parent

log = logging.getLogger(__name__)

READY_TIMEOUT_S: Final = 15.0
STOP_TIMEOUT_S: Final = 5.0
RESTART_DELAY_S: Final = 1.0


@dataclass(frozen=True)
class WorkerPlan:
    """How to run the workers: where listeners connect (``listen_host``, ``first_port`` 0 for any free ports),
    the URL listeners are given (``public_url`` with ``{name}`` and ``{port}``), and the node's own settings."""

    count: int
    listen_host: str
    first_port: int
    public_url: str
    secret: str
    allow_origin: str
    max_listeners: int
    chunks: str
    tls_cert: str = ""  # both or neither: the workers serve their listeners over TLS
    tls_key: str = ""


@dataclass
class _Worker:
    name: str
    listen_port: int  # 0 until the first start chose one; restarts keep every port (forwards and tickets point there)
    control_port: int = 0
    rtp_port: int = 0
    process: asyncio.subprocess.Process | None = None
    node: BroadcastNode | None = None
    restarts: int = 0
    supervisor: asyncio.Task[None] | None = field(default=None, repr=False)


class ManagedBroadcast:
    """``async with ManagedBroadcast(plan) as nodes:`` — the running workers' addresses; ``on_restart(name)`` is
    called after a worker came back (its rooms must be registered again)."""

    def __init__(self, plan: WorkerPlan, on_restart: Callable[[str], None] | None = None) -> None:
        self.plan = plan
        self.on_restart = on_restart
        self._workers: list[_Worker] = []
        self._stopping = False

    async def __aenter__(self) -> list[BroadcastNode]:
        try:
            for index in range(self.plan.count):
                worker = _Worker(f"w{index}", self.plan.first_port + index if self.plan.first_port else 0)
                self._workers.append(worker)
                await self._start(worker)
        except BaseException:
            await self.aclose()
            raise
        for worker in self._workers:
            worker.supervisor = asyncio.create_task(self._supervise(worker), name=f"broadcast-{worker.name}")
        return [w.node for w in self._workers if w.node is not None]

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _args(self, worker: _Worker) -> list[str]:
        tls = ["--tls-cert", self.plan.tls_cert, "--tls-key", self.plan.tls_key] if self.plan.tls_cert else []
        return [
            "--name", worker.name,
            "--listen", f"{self.plan.listen_host}:{worker.listen_port}",
            "--control", f"127.0.0.1:{worker.control_port}",
            "--rtp", f"127.0.0.1:{worker.rtp_port}",
            "--allow-origin", self.plan.allow_origin,
            "--max-listeners", str(self.plan.max_listeners),
            "--chunks", self.plan.chunks,
            *tls,
        ]  # fmt: skip

    async def _start(self, worker: _Worker) -> None:
        # Only what locates Python and text; the secret through the environment, never on the command line.
        env = {
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "SALON_LOG_FORMAT")
        }
        env["SALON_BROADCAST_SECRET"] = self.plan.secret
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "salon.broadcast", *self._args(worker),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, env=env,
            start_new_session=True,  # a Ctrl-C reaches the app, which stops its workers in order
            preexec_fn=die_with_parent(os.getpid()),  # never outlives the app, however it ends
        )  # fmt: skip
        worker.process = process
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_S)
            ready = json.loads(line)
            worker.listen_port, worker.control_port = int(ready["listen"]), int(ready["control"])
            worker.rtp_port = int(ready["rtp"])
        except (TimeoutError, ValueError, KeyError, TypeError) as exc:
            await _stop(process)
            raise RuntimeError(f"broadcast worker {worker.name} did not start (exit {process.returncode})") from exc
        public = self.plan.public_url.format(name=worker.name, port=worker.listen_port)
        control = f"http://127.0.0.1:{worker.control_port}"
        worker.node = BroadcastNode(worker.name, public, control, "127.0.0.1", worker.rtp_port)
        log.info("broadcast worker %s: listeners at %s (pid %d)", worker.name, public, process.pid)

    async def _supervise(self, worker: _Worker) -> None:
        while not self._stopping:
            assert worker.process is not None
            code = await worker.process.wait()
            if self._stopping:
                return
            worker.restarts += 1
            log.error("broadcast worker %s exited (%s); restarting it on the same ports", worker.name, code)
            await asyncio.sleep(RESTART_DELAY_S)
            try:
                await self._start(worker)
            except RuntimeError as exc:
                log.error("%s; trying again", exc)
                continue
            if self.on_restart is not None:
                self.on_restart(worker.name)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process is not None and w.process.returncode is None]

    async def aclose(self) -> None:
        self._stopping = True
        for worker in self._workers:
            if worker.supervisor is not None:
                worker.supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.supervisor
        await asyncio.gather(*(_stop(w.process) for w in self._workers if w.process is not None))


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (the worker tells its listeners it is shutting down), then SIGKILL."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
