"""Test support: a private network namespace with a non-loopback test interface, and a way to run code inside it.

WebRTC needs a non-loopback address (Janus and aioice skip loopback interfaces when they gather ICE candidates), and
tests may only use loopback or addresses inside namespaces they create themselves (docs/ARCHITECTURE.md, "Testing real
audio"). So ``network_namespace()`` makes ``salon-<random>`` (``ip netns add``) holding ``lo`` and ``salon0`` — a
``dummy`` interface where the kernel has that type, else an ``ifb`` one (non-loopback, up, no ARP) — with
198.18.0.1/32. Nothing routes out of it. On exit it SIGKILLs, by PID, every process still in the namespace, then
deletes it.

``NetNamespace.run(fn)`` runs the coroutine function ``fn`` on its own event loop in a new thread that first joins
the namespace (``setns(fd, CLONE_NEWNET)``, which is per thread). Sockets that thread opens, threads it starts and
processes it spawns are in the namespace; the rest of the test process (its main thread, a PostgreSQL fixture on
the root namespace's 127.0.0.1) is not. Inside, 127.0.0.1 is the namespace's own loopback.

Creating a namespace needs root (CI runs as root). When it cannot be made the tests fail, saying why; they are
never skipped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest
import uvloop as _uvloop

__all__ = [
    "ADDRESS",
    "INTERFACE",
    "NamespaceError",
    "NetNamespace",
    "enter_namespace",
    "network_namespace",
]

T = TypeVar("T")

ADDRESS: Final = "198.18.0.1"  # RFC 2544 benchmarking range: never routed
INTERFACE: Final = "salon0"
NETNS_DIR: Final = Path("/run/netns")
CLONE_NEWNET: Final = 0x40000000
# How long ``run`` waits beyond its own timeout for the thread to finish cleaning up.
CLEANUP_GRACE_S: Final = 15.0
_IP_TIMEOUT_S: Final = 10.0

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(RuntimeError):
    """The namespace could not be created or entered."""


def _ip(*args: str) -> None:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=_IP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise NamespaceError(f"`ip {' '.join(args)}` failed: {e}") from e
    if done.returncode != 0:
        raise NamespaceError(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")


def enter_namespace(path: Path) -> None:
    """Move the calling thread (only it) into the network namespace ``path`` (Python 3.11 has no ``os.setns``)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise NamespaceError(f"setns({path}) failed: {os.strerror(errno)}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class NetNamespace:
    name: str
    interface_kind: str  # "dummy" or "ifb"
    address: str = ADDRESS
    interface: str = INTERFACE

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def _identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def pids(self) -> set[int]:
        """Processes whose network namespace is this one (by the namespace's inode), this process excepted."""
        me = os.getpid()
        identity = self._identity()
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            with contextlib.suppress(OSError):
                st = os.stat(entry / "ns" / "net")
                if (st.st_dev, st.st_ino) == identity:
                    found.add(int(entry.name))
        return found

    def kill_processes(self) -> set[int]:
        """SIGKILL every process in the namespace, by PID; returns the PIDs signalled."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return pids

    def run(self, fn: Callable[[], Coroutine[Any, Any, T]], *, timeout: float = 60.0, uvloop: bool = False) -> T:
        """Run ``fn()`` inside the namespace, on a new event loop in a new thread, and return its result.

        ``fn`` is cancelled after ``timeout`` s (its ``finally`` blocks run, inside the namespace) and ``TimeoutError``
        raised. Blocks the calling thread: call it from a plain (not async) test, or through ``asyncio.to_thread``.
        """
        outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

        async def bounded() -> T:
            return await asyncio.wait_for(fn(), timeout)

        def target() -> None:
            try:
                enter_namespace(self.path)
                factory: Callable[[], asyncio.AbstractEventLoop] | None = None
                if uvloop:
                    factory = _uvloop.new_event_loop
                with asyncio.Runner(loop_factory=factory) as runner:
                    outcome.set_result(runner.run(bounded()))
            except BaseException as e:
                outcome.set_exception(e)

        thread = threading.Thread(target=target, name=f"netns-{self.name}", daemon=True)
        thread.start()
        thread.join(timeout + CLEANUP_GRACE_S)
        if thread.is_alive():
            raise TimeoutError(f"the code run in {self.name} did not finish within {timeout + CLEANUP_GRACE_S:g} s")
        return outcome.result()


def _add_interface(name: str) -> str:
    for kind in ("dummy", "ifb"):
        try:
            _ip("-n", name, "link", "add", INTERFACE, "type", kind)
        except NamespaceError as e:
            if "Unknown device type" in str(e) or "not supported" in str(e).lower():
                continue
            raise
        return kind
    raise NamespaceError("this kernel has neither dummy nor ifb interfaces")


def create_namespace(prefix: str = "salon") -> NetNamespace:
    """Create the namespace and its interfaces; raise ``NamespaceError`` (with the reason) when that fails."""
    if os.geteuid() != 0:
        raise NamespaceError(f"creating a network namespace needs root; running as uid {os.geteuid()}")
    name = f"{prefix}-{secrets.token_hex(4)}"
    _ip("netns", "add", name)
    try:
        kind = _add_interface(name)
        # No IPv6 link-local address: ICE would otherwise gather an fe80:: candidate beside 198.18.0.1.
        _ip("-n", name, "link", "set", INTERFACE, "addrgenmode", "none")
        _ip("-n", name, "addr", "add", f"{ADDRESS}/32", "dev", INTERFACE)
        _ip("-n", name, "link", "set", INTERFACE, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        return NetNamespace(name=name, interface_kind=kind)
    except BaseException:
        with contextlib.suppress(NamespaceError):
            _ip("netns", "delete", name)
        raise


def delete_namespace(ns: NetNamespace) -> None:
    """Kill what still runs in it (by PID), then delete it. The interfaces go with it."""
    deadline = time.monotonic() + 5.0
    while ns.kill_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    _ip("netns", "delete", ns.name)


@contextlib.contextmanager
def network_namespace(prefix: str = "salon") -> Iterator[NetNamespace]:
    """A fresh namespace for the block; a failure to create it fails the test (never a skip)."""
    try:
        ns = create_namespace(prefix)
    except NamespaceError as e:
        pytest.fail(f"cannot create a private network namespace for WebRTC tests: {e}", pytrace=False)
    try:
        yield ns
    finally:
        delete_namespace(ns)
