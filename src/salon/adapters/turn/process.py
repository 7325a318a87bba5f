"""Adapters layer: the coturn child process ``salon serve`` runs when ``SALON_TURN=managed``.

Modelled on the managed Janus (adapters/janus/process.py): the config (``config.py``, with the secret) is written to
a private folder, ``turnserver -c <file>`` is started in its own session with ``PR_SET_PDEATHSIG`` so it never
outlives the app, and the start waits until its TCP listener accepts. Stopping is SIGTERM, then SIGKILL. The secret
is in the config file only, never on the command line. A supervisor task restarts coturn on the same config (so the
same ports) ``RESTART_DELAY_S`` after it dies, logging the exit and its log's last lines, like the managed Janus.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

from salon.adapters.child_process import die_with_parent
from salon.adapters.turn.config import LOG_NAME, ManagedTurnConfig, write_config

__all__ = ["TURN_BINARY", "ManagedTurn", "TurnStartError", "managed_turn"]

logger = logging.getLogger(__name__)

TURN_BINARY = Path("/usr/bin/turnserver")
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.05
LOG_TAIL_LINES = 20
# Short, so a client's allocation fails only briefly; a coturn that cannot start again is retried at this pace.
RESTART_DELAY_S = 0.5


class TurnStartError(RuntimeError):
    """coturn did not start (missing binary, a bad config, a port in use)."""


def _log_tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except OSError:
        return "(no log)"


async def _accepts(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


@dataclasses.dataclass
class ManagedTurn:
    """The supervised coturn: ``process`` is the running child (a new one after each restart)."""

    process: asyncio.subprocess.Process
    restarts: int = 0


async def _start(config: ManagedTurnConfig, conf: Path, log_path: Path, binary: Path) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        str(binary), "-c", str(conf),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True, preexec_fn=die_with_parent(os.getpid()),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not await _accepts(config.listen_ip, config.port):
            if proc.returncode is not None or time.monotonic() > deadline:
                raise TurnStartError(
                    f"coturn did not start (exit code {proc.returncode}); last lines of {log_path}:\n"
                    + _log_tail(log_path)
                )
            await asyncio.sleep(POLL_INTERVAL_S)
    except BaseException:
        await _stop(proc)
        raise
    logger.info("coturn listening on %s:%d (pid %d)", config.listen_ip, config.port, proc.pid)
    return proc


async def _supervise(turn: ManagedTurn, config: ManagedTurnConfig, conf: Path, log_path: Path, binary: Path) -> None:
    while True:
        code = await turn.process.wait()
        logger.warning(
            "coturn (pid %d) exited with code %s; restarting in %.1f s. Last lines of its log:\n%s",
            turn.process.pid, code, RESTART_DELAY_S, _log_tail(log_path),
        )  # fmt: skip
        while True:
            await asyncio.sleep(RESTART_DELAY_S)
            try:
                turn.process = await _start(config, conf, log_path, binary)
                break
            except TurnStartError as e:
                logger.error("coturn restart failed: %s", e)
        turn.restarts += 1
        logger.warning("coturn restarted (pid %d, restart %d)", turn.process.pid, turn.restarts)


@contextlib.asynccontextmanager
async def managed_turn(
    config: ManagedTurnConfig, folder: Path, *, binary: Path = TURN_BINARY
) -> AsyncIterator[ManagedTurn]:
    """Run a supervised coturn with ``config`` for the duration of the block; its log is ``<folder>/turnserver.log``."""
    if not os.access(binary, os.X_OK):  # a cheap stat before any await; no blocking I/O after
        raise TurnStartError(f"{binary} not found: install coturn (scripts/install-system-deps.sh) or set SALON_TURN")
    if config.log_file is None:
        config = dataclasses.replace(config, log_file=folder / LOG_NAME)
    log_path = config.log_file or folder / LOG_NAME
    conf = write_config(config, folder)
    turn = ManagedTurn(await _start(config, conf, log_path, binary))
    supervisor = asyncio.create_task(_supervise(turn, config, conf, log_path, binary), name="coturn-supervisor")
    try:
        yield turn
    finally:
        supervisor.cancel()
        # wait(), not `await supervisor`: a cancellation of this exit itself must not be swallowed.
        await asyncio.wait({supervisor})
        await _stop(turn.process)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
