"""Adapters layer: the coturn child process ``salon serve`` runs when ``SALON_TURN=managed``.

Modelled on the managed Janus (adapters/janus/process.py): the config (``config.py``, with the secret) is written to
a private folder, ``turnserver -c <file>`` is started in its own session with ``PR_SET_PDEATHSIG`` so it never
outlives the app, and the start waits until its TCP listener accepts. Stopping is SIGTERM, then SIGKILL. The secret
is in the config file only, never on the command line. Not yet done: restarting coturn when it dies (it is logged).
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

__all__ = ["TURN_BINARY", "TurnStartError", "managed_turn"]

logger = logging.getLogger(__name__)

TURN_BINARY = Path("/usr/bin/turnserver")
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.05
LOG_TAIL_LINES = 20


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


@contextlib.asynccontextmanager
async def managed_turn(
    config: ManagedTurnConfig, folder: Path, *, binary: Path = TURN_BINARY
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run coturn with ``config`` for the duration of the block; its log is ``<folder>/turnserver.log``."""
    if not os.access(binary, os.X_OK):  # a cheap stat before any await; no blocking I/O after
        raise TurnStartError(f"{binary} not found: install coturn (scripts/install-system-deps.sh) or set SALON_TURN")
    log_path = folder / LOG_NAME
    if config.log_file is None:
        config = dataclasses.replace(config, log_file=log_path)
    conf = write_config(config, folder)
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
                    + _log_tail(config.log_file or log_path)
                )
            await asyncio.sleep(POLL_INTERVAL_S)
        logger.info("coturn listening on %s:%d (pid %d)", config.listen_ip, config.port, proc.pid)
        yield proc
    finally:
        await _stop(proc)


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
