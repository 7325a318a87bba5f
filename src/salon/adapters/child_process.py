"""Adapters layer: children that never outlive the app (the managed Janus, the broadcast workers)."""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: the kernel SIGKILLs the child when the forking thread ends (Linux ``prctl``)."""
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: the child only calls it
    sigkill = int(signal.SIGKILL)

    def preexec() -> None:
        if libc.prctl(_PR_SET_PDEATHSIG, sigkill, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        # The parent may have died between fork and prctl: then no signal would ever come.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec
