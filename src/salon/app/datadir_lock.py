"""App layer: the data folder's lock — ``salon serve`` holds it shared for its lifetime, ``salon restore`` needs it
exclusive, so a restore cannot swap the database under a running server.

An ``flock`` on ``<data_dir>/salon.lock`` rather than a PID file: the kernel drops it when the process dies, so a
crash leaves no stale lock to clean up, and several processes may hold it shared.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "salon.lock"


class DataDirBusyError(RuntimeError):
    """Another process (a ``salon serve``) holds the data folder."""


class DataDirLock:
    """A held lock; ``release`` (or process exit) frees it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def lock_data_dir(data_dir: Path, *, exclusive: bool) -> DataDirLock:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        what = "a salon serve is running on" if exclusive else "a salon restore is replacing"
        raise DataDirBusyError(f"{what} {data_dir} (it holds {path}); wait for it or stop it first") from None
    return DataDirLock(path, fd)
