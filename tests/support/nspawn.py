"""Test support: a throwaway Debian system booted with systemd as its PID 1 (``systemd-nspawn --boot``), to run
deploy/systemd/salon.service for real.

This VM's PID 1 is not systemd, so the container boots the host's own tree: an overlay whose lower layer is ``/``
(read-only to it) and whose upper layer is a tmpfs, so whatever the test changes (a ``salon`` user, /etc/salon, a
unit in /etc/systemd/system, /var/lib/salon) is gone with it. ``systemd-nspawn`` refuses ``-D /`` with
``--volatile=overlay`` ("Spawning container on root directory is not supported"), hence the overlay made here.
The overlay and its tmpfs are mounted inside a private mount namespace (``unshare --mount``) that nspawn itself
runs in: they are never visible on the host and vanish with the last process in that namespace, even when the test
is killed.

* ``--register=no --keep-unit``: there is no machined or system bus on the host to register with.
* ``--link-journal=no``: the container has the host's machine id (nspawn refuses to link the journals).
* ``--network-namespace-path``: the container's network is a namespace the test owns (tests/support/netns.py),
  which holds a non-loopback test address Janus can gather ICE candidates on; test clients run in it too.

``booted()`` yields a :class:`Container` once ``systemctl is-system-running --wait`` says ``running``; ``run``
executes a command inside it (``nsenter`` into every namespace of its PID 1). On exit nspawn is asked to halt the
container (SIGTERM), then everything in the container's PID namespace is SIGKILLed if it has not gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.support.netns import NetNamespace

BOOT_TIMEOUT_S: Final = 60.0
HALT_TIMEOUT_S: Final = 15.0
PROPAGATE_DIR: Final = Path("/run/systemd/nspawn/propagate")
PR_SET_PDEATHSIG: Final = 1

_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class Container:
    name: str
    leader: int  # the container's PID 1 (systemd), as the host sees it
    log: Path  # nspawn's own output

    def run(self, command: str, *, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``sh -c command`` inside the container (its mount, PID, network, UTS, IPC and cgroup namespaces)."""
        argv = ["nsenter", f"--target={self.leader}", "--all", "--", "sh", "-c", command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(
                f"in the container, `{command}` failed ({done.returncode}):\n{done.stdout}{done.stderr}"
            )
        return done


def _halt_when_orphaned() -> None:
    """In the child before it execs: SIGTERM when the test process dies, even by SIGKILL (prctl PR_SET_PDEATHSIG,
    kept across exec), so nspawn halts the container instead of leaving it running."""
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def _pid_namespace(pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/proc/{pid}/ns/pid")
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _kill_pid_namespace(identity: tuple[int, int]) -> None:
    """SIGKILL, by PID, every process whose PID namespace is ``identity`` (the container's)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _pid_namespace(int(entry.name)) == identity:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)


def _wait_for_leader(nspawn: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if nspawn.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited ({nspawn.returncode}): {log.read_text(errors='replace')}")
        for child in _children(nspawn.pid):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                    return child
        time.sleep(0.1)
    raise AssertionError(f"no systemd started in the container within {BOOT_TIMEOUT_S:g} s: {log.read_text()}")


def _wait_until_running(container: Container, nspawn: subprocess.Popen[bytes]) -> None:
    """Until the container's systemd has finished booting; its bus needs a moment to exist first."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while True:
        left = deadline - time.monotonic()
        state = container.run("systemctl is-system-running --wait", timeout=max(left, 1.0), check=False)
        said = state.stdout.strip()
        if said == "running":
            return
        if said in ("degraded", "maintenance", "stopping") or left <= 0 or nspawn.poll() is not None:
            failed = container.run("systemctl --failed --no-pager", check=False).stdout
            raise AssertionError(f"the container's systemd is {said!r} ({state.stderr.strip()}):\n{failed}")
        time.sleep(0.2)


@contextlib.contextmanager
def booted(network: NetNamespace, binds: Sequence[tuple[Path, str]], *, prefix: str = "salon") -> Iterator[Container]:
    """The host's tree booted under systemd in ``network``, with each ``(host path, container path)`` of ``binds``
    bound read-only."""
    for tool in ("systemd-nspawn", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/install-system-deps.sh installs systemd-container", pytrace=False)
    name = f"{prefix}-{secrets.token_hex(4)}"
    layers = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
    root = layers / "root"
    nspawn_argv = ["systemd-nspawn", f"--directory={root}", f"--machine={name}", "--boot", "--register=no",
                   "--keep-unit", "--link-journal=no", f"--network-namespace-path={network.path}",
                   "--console=pipe", *(f"--bind-ro={host}:{inside}" for host, inside in binds)]  # fmt: skip
    script = (
        f"mount -t tmpfs -o mode=0700 salon-layers {layers} && mkdir {layers}/upper {layers}/work {root}"
        f" && mount -t overlay overlay -o lowerdir=/,upperdir={layers}/upper,workdir={layers}/work {root}"
        f" && exec {shlex.join(nspawn_argv)}"
    )
    argv = ["unshare", "--mount", "--propagation=private", "--", "sh", "-c", script]
    with log.open("wb") as out:
        # unshare and sh exec: this PID ends up being systemd-nspawn's, whose child is the container's PID 1.
        nspawn = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_halt_when_orphaned
        )
    identity: tuple[int, int] | None = None
    try:
        leader = _wait_for_leader(nspawn, log)
        identity = _pid_namespace(leader)
        container = Container(name, leader, log)
        _wait_until_running(container, nspawn)
        yield container
    finally:
        if nspawn.poll() is None:
            nspawn.terminate()  # nspawn asks the container's systemd to halt
            try:
                nspawn.wait(HALT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                nspawn.kill()
                nspawn.wait(HALT_TIMEOUT_S)
        if identity is not None:
            _kill_pid_namespace(identity)
        # The mounts went with their namespace: only the empty mount point is left. rmdir, never a recursive
        # removal: were the overlay somehow mounted here, its lower layer is the host's own /.
        for empty in (layers, PROPAGATE_DIR / name):
            with contextlib.suppress(OSError):  # gone already, or not empty: left for a person to look at
                empty.rmdir()
        log.unlink(missing_ok=True)
