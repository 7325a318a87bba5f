"""``salon serve`` stopped as systemd stops it (SIGTERM to the main process: ``KillMode=mixed``): a WebSocket client
is closed with 1012 (the web app reconnects on it), a broadcast listener gets ``shutting_down`` (its player
reconnects; the room stays live), Janus and the broadcast worker are gone, and the process exits 0 in bounded time.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from salon.adapters.janus.config import config_folder
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.cli.runtime import GRACEFUL_SHUTDOWN_S
from salon.client.session import SalonClient
from salon.web.app import build_services
from tests.integration.test_serve_media import SECRET_KEY, free_port, seed, until_serving
from tests.support.janus import broadcast_pids, is_alive, janus_pids, killing_leftovers
from tests.support.people import add_member

WS_CLOSE_SERVICE_RESTART = 1012
# What a stop with live rooms may take here: deploy/systemd/salon.service's TimeoutStopSec keeps a margin above it.
STOP_WITHIN_S = 10.0


async def listener_token(data_dir: Path) -> str:
    """A second member (the seeded one hosts the room, on stage) with a bearer session."""
    services = await build_services(Settings(data_dir=data_dir, secret_key=SECRET_KEY))
    try:
        lis = await add_member(services, "lisa")
        async with services.db.transaction() as conn:
            return (await create_session(services, conn, lis, "bearer")).token
    finally:
        await services.db.dispose()


async def test_sigterm_closes_clients_with_reconnect_hints_stops_children_and_exits_0(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    seeded = await seed(data_dir)
    token = await listener_token(data_dir)
    port = free_port()
    env = {**os.environ, "SALON_SECRET_KEY": SECRET_KEY, "SALON_BROADCAST_WORKERS": "1"}
    env.pop("SALON_DATABASE_URL", None)
    argv = [str(Path(sys.executable).parent / "salon"), "serve", f"--port={port}"]
    folder = config_folder(data_dir)
    log_path = tmp_path / "serve.log"
    with killing_leftovers(folder), log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        workers: set[int] = set()
        try:
            base = f"http://127.0.0.1:{port}"
            await until_serving(proc, base, log_path)
            (janus_pid,) = janus_pids(folder)
            workers = broadcast_pids(proc.pid)
            assert len(workers) == 1, workers

            async with SalonClient(base, token) as member:
                await member.call("join", room_id=seeded.room_id)
                track = await member.listen_broadcast(seeded.room_id)
                headers = {"Authorization": f"Bearer {token}"}
                async with connect(f"ws://127.0.0.1:{port}/api/v1/ws", additional_headers=headers, proxy=None) as ws:
                    assert orjson.loads(await ws.recv())["type"] == "hello"
                    async with asyncio.timeout(5):
                        while track.hello is None:  # noqa: ASYNC110 - the stream is open on the worker
                            await asyncio.sleep(0.05)

                    sent = time.monotonic()
                    proc.send_signal(signal.SIGTERM)
                    async with asyncio.timeout(STOP_WITHIN_S):
                        await ws.wait_closed()
                        await track.ended()
                        while proc.poll() is None:  # noqa: ASYNC110 - polling another process
                            await asyncio.sleep(0.05)
                    took = time.monotonic() - sent
                    print(f"SIGTERM -> exit {proc.returncode} in {took:.2f} s")
                    assert ws.close_code == WS_CLOSE_SERVICE_RESTART, (ws.close_code, ws.close_reason)
                await track.close()
            assert member.close_code == WS_CLOSE_SERVICE_RESTART, "salon.client sees why it was closed"
            assert (track.notice or {}).get("code") == "shutting_down", track.notice
            assert proc.returncode == 0, log_path.read_text()
            assert took < STOP_WITHIN_S
            assert b"Application shutdown complete" in log_path.read_bytes()
            assert not is_alive(janus_pid), "Janus stops with the server"
            assert not any(is_alive(pid) for pid in workers), "the broadcast worker stops with the server"
            assert GRACEFUL_SHUTDOWN_S < STOP_WITHIN_S
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            for pid in workers:
                if is_alive(pid):
                    os.kill(pid, signal.SIGKILL)
