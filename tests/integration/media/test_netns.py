"""The network namespace helper: code run through it is inside the namespace, the rest of pytest is not."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import uvloop

from tests.support.janus import is_alive
from tests.support.netns import ADDRESS, INTERFACE, NetNamespace, network_namespace


def bind_udp(address: str) -> tuple[str, int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((address, 0))
        return s.getsockname()  # type: ignore[no-any-return]


def net_ns_of(pid: int | str) -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/net")
    return st.st_dev, st.st_ino


def test_code_run_in_the_namespace_binds_the_test_address_and_the_rest_of_pytest_cannot(netns: NetNamespace) -> None:
    async def inside() -> tuple[tuple[str, int], list[str], str, tuple[int, int], tuple[int, int]]:
        bound = bind_udp(ADDRESS)
        names = sorted(name for _, name in socket.if_nameindex())
        # A process spawned from the namespace's thread is in the namespace too: it names its own (read by the
        # child itself, since a short-lived child may be gone before the parent could look at /proc/<pid>).
        proc = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            f"ip -o link show {INTERFACE} && stat -L -c '%i' /proc/self/ns/net",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        link, child_inode = out.decode().rsplit("\n", 2)[:2]
        thread_ns = net_ns_of(f"self/task/{threading.get_native_id()}")
        return bound, names, link, (thread_ns[0], int(child_inode)), thread_ns

    bound, names, link, child_ns, thread_ns = netns.run(inside, timeout=10)

    assert bound[0] == ADDRESS
    assert names == ["lo", INTERFACE]
    flags = link.split("<", 1)[1].split(">", 1)[0].split(",")
    assert "UP" in flags
    assert "LOOPBACK" not in flags
    namespace = os.stat(netns.path)
    assert child_ns == thread_ns == (namespace.st_dev, namespace.st_ino)
    assert net_ns_of("self") != child_ns  # the main thread stayed where it was
    with pytest.raises(OSError, match=os.strerror(errno.EADDRNOTAVAIL)) as caught:
        bind_udp(ADDRESS)
    assert caught.value.errno == errno.EADDRNOTAVAIL


def test_the_namespace_loopback_is_not_the_root_namespace_loopback(netns: NetNamespace) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        async def connect() -> str:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except ConnectionRefusedError:
                return "refused"
            writer.close()
            return "connected"

        assert netns.run(connect, timeout=10) == "refused"


def test_uvloop_runs_inside_too(netns: NetNamespace) -> None:
    async def inside() -> tuple[bool, str]:
        return isinstance(asyncio.get_running_loop(), uvloop.Loop), bind_udp(ADDRESS)[0]

    assert netns.run(inside, timeout=10, uvloop=True) == (True, ADDRESS)


def test_a_timeout_cancels_the_code_and_lets_it_clean_up(netns: NetNamespace) -> None:
    cleaned = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append(True)

    with pytest.raises(TimeoutError):
        netns.run(forever, timeout=0.2)
    assert cleaned == [True]


def test_leaving_kills_what_runs_inside_and_deletes_the_namespace() -> None:
    async def spawn() -> int:
        # From a worker thread of the namespace's loop: threads started inside are inside too.
        return await asyncio.to_thread(os.posix_spawnp, "sleep", ["sleep", "60"], dict(os.environ))

    with network_namespace() as ns:
        pid = ns.run(spawn, timeout=10)
        assert ns.pids() == {pid}
        path = ns.path
    try:
        assert not is_alive(pid)
        assert not Path(path).exists()
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        assert ns.name not in listed
    finally:
        os.waitpid(pid, 0)  # reap the killed child


def test_no_namespace_without_root_fails_the_test_rather_than_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match="needs root"), network_namespace():
        pass
