"""The broadcast workers ``salon serve`` runs: started one per requested worker with their ports reported, restarted on
the same ports when one dies (and the app told), stopped with the app — and never outliving it."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from salon.adapters.broadcast.process import ManagedBroadcast, WorkerPlan
from salon.domain.stream_tickets import control_token
from tests.support.janus import is_alive
from tests.support.tls import self_signed

SECRET = "w" * 64


def plan(count: int) -> WorkerPlan:
    return WorkerPlan(
        count=count, listen_host="127.0.0.1", first_port=0, public_url="http://127.0.0.1:{port}", secret=SECRET,
        allow_origin="http://127.0.0.1:8000", max_listeners=100, chunks="inf:40",
    )  # fmt: skip


async def healthy(url: str, verify: ssl.SSLContext | bool = True) -> bool:
    async with httpx.AsyncClient(trust_env=False, timeout=2, verify=verify) as http:
        return (await http.get(f"{url}/healthz")).status_code == 200


async def test_workers_start_restart_on_the_same_ports_and_stop() -> None:
    restarted: list[str] = []
    back = asyncio.Event()

    def on_restart(name: str) -> None:
        restarted.append(name)
        back.set()

    managed = ManagedBroadcast(plan(2), on_restart=on_restart)
    async with managed as nodes:
        assert [n.name for n in nodes] == ["w0", "w1"]
        assert len({n.public_url for n in nodes}) == 2, "each worker on its own port"
        for node in nodes:
            assert await healthy(node.public_url)
        async with httpx.AsyncClient(trust_env=False) as http:
            stats = await http.get(
                f"{nodes[0].control_url}/v1/stats", headers={"Authorization": f"Bearer {control_token(SECRET)}"}
            )
        assert stats.json()["listeners"] == 0
        pids = managed.pids()
        os.kill(pids[0], signal.SIGKILL)
        async with asyncio.timeout(15):
            await back.wait()
        assert restarted == ["w0"], "the app is told, so it registers the worker's rooms again"
        assert await healthy(nodes[0].public_url), "back on the same port: tickets and forwards still point there"
        assert managed.pids()[0] != pids[0]
        running = managed.pids()
    assert not any(is_alive(pid) for pid in running), "stopped with the app"


async def test_workers_serve_tls_with_the_plans_certificate_and_keep_their_control_api_plain(tmp_path: Path) -> None:
    files = self_signed(tmp_path)
    tls_plan = dataclasses.replace(
        plan(1), public_url="https://127.0.0.1:{port}", tls_cert=str(files.cert), tls_key=str(files.key)
    )
    managed = ManagedBroadcast(tls_plan)
    async with managed as nodes:
        (node,) = nodes
        assert node.public_url.startswith("https://127.0.0.1:")
        assert await healthy(node.public_url, verify=files.client_context())
        assert node.control_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(trust_env=False) as http:
            stats = await http.get(
                f"{node.control_url}/v1/stats", headers={"Authorization": f"Bearer {control_token(SECRET)}"}
            )
        assert stats.status_code == 200
        with pytest.raises(httpx.HTTPError):  # plain HTTP to the listeners' port gets no answer
            await healthy(node.public_url.replace("https://", "http://"))
        running = managed.pids()
    assert not any(is_alive(pid) for pid in running)


async def test_workers_that_cannot_load_the_tls_files_fail_to_start(tmp_path: Path) -> None:
    files, other = self_signed(tmp_path), self_signed(tmp_path, name="other")
    bad = dataclasses.replace(plan(1), tls_cert=str(files.cert), tls_key=str(other.key))
    with pytest.raises(RuntimeError, match=r"broadcast worker w0 did not start \(exit 2\)"):
        async with ManagedBroadcast(bad):
            pass


def test_workers_die_with_the_process_that_started_them(tmp_path: Path) -> None:
    # A parent that starts workers, prints their pids, then is killed -9 without any chance to stop them.
    script = tmp_path / "parent.py"
    script.write_text(
        "import asyncio\n"
        "from salon.adapters.broadcast.process import ManagedBroadcast, WorkerPlan\n"
        f"PLAN = WorkerPlan(**{dataclasses.asdict(plan(1))!r})\n"
        "async def main():\n"
        "    managed = ManagedBroadcast(PLAN)\n"
        "    async with managed:\n"
        "        print(*managed.pids(), flush=True)\n"
        "        await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=Path.cwd())
    try:
        assert parent.stdout is not None
        (worker,) = [int(p) for p in parent.stdout.readline().split()]
        assert is_alive(worker)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 5
        while is_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_alive(worker), "the kernel ended the worker with its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
