"""``salon serve`` with its managed Janus, as a user runs it: live rooms get their stage and audience in Janus at
start, new rooms at creation; a Janus killed mid-room is restarted and every live room re-created; ending a room and
stopping the server leave nothing behind (checked in Janus itself, with the secrets from the generated config)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from salon.adapters.janus.api import JanusError
from salon.adapters.janus.config import config_folder
from salon.adapters.janus.plugins import AudioBridge, Streaming, janus_id
from salon.adapters.janus.transport import JanusTransport
from salon.app.rooms import NewRoom, create_room
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.domain.rooms import RoomType
from salon.web.app import build_services
from tests.support.janus import is_alive, janus_pids, killing_leftovers
from tests.support.libconfig import parse_file
from tests.support.people import add_member

SECRET_KEY = "k" * 48
TIMEOUT = 30.0


async def until_serving(proc: subprocess.Popen[bytes], base: str, log_path: Path) -> None:
    """Wait until the ``salon serve`` child answers HTTP; its log in the failure if it dies first."""
    async with httpx.AsyncClient(trust_env=False) as http, asyncio.timeout(TIMEOUT):
        while True:
            assert proc.poll() is None, log_path.read_text()  # noqa: ASYNC240 - read only to explain a failure
            try:
                if (await http.get(f"{base}/api/v1/openapi.json")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Seeded:
    token: str
    room_id: str


async def seed(data_dir: Path) -> Seeded:
    """A moderator with a bearer session and one live room, written before the server starts."""
    services = await build_services(Settings(data_dir=data_dir, secret_key=SECRET_KEY))
    try:
        mod = await add_member(services, "moda")
        room = await create_room(services, mod, NewRoom("Before the start", "", [], RoomType.OPEN))
        async with services.db.transaction() as conn:
            session = await create_session(services, conn, mod, "bearer")
        return Seeded(session.token, room["room"]["id"])
    finally:
        await services.db.dispose()


class JanusView:
    """Janus seen with the managed node's own secrets, read back from the config ``salon serve`` wrote."""

    def __init__(self, folder: Path) -> None:
        general = parse_file(folder / "janus.jcfg")["general"]
        http = parse_file(folder / "janus.transport.http.jcfg")["general"]
        self.admin_key: str = parse_file(folder / "janus.plugin.audiobridge.jcfg")["general"]["admin_key"]
        self.url = f"http://127.0.0.1:{http['port']}/janus"
        self.api_secret: str = general["api_secret"]

    async def rooms_exist(self, room_ids: list[str]) -> list[bool]:
        async with JanusTransport(self.url, api_secret=self.api_secret) as transport:
            session = await transport.create_session()
            try:
                bridge = AudioBridge(await session.attach("janus.plugin.audiobridge"), admin_key=self.admin_key)
                streaming = Streaming(await session.attach("janus.plugin.streaming"), admin_key=self.admin_key)
                found = []
                for room_id in room_ids:
                    stage = await bridge.exists(janus_id(room_id))
                    try:
                        await streaming.info(janus_id(room_id))
                        audience = True
                    except JanusError:
                        audience = False
                    found.append(stage and audience)
                return found
            finally:
                await session.destroy()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[subprocess.Popen[bytes], str, Seeded, Path]]:
    data_dir = tmp_path / "data"
    seeded = await seed(data_dir)
    port = free_port()
    env = {**os.environ, "SALON_SECRET_KEY": SECRET_KEY}
    env.pop("SALON_DATABASE_URL", None)
    # As `make run` starts it: from the checkout, with the default data folder ("data", a relative path).
    argv = [str(Path(sys.executable).parent / "salon"), "serve", f"--port={port}"]
    folder = config_folder(data_dir)
    with killing_leftovers(folder), (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220
        try:
            base = f"http://127.0.0.1:{port}"
            await until_serving(proc, base, tmp_path / "serve.log")
            yield proc, base, seeded, folder
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> float:  # noqa: ASYNC109
    """Poll ``check()`` until it returns true; the seconds it took."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_serve_carries_rooms_media_through_janus_restarts_and_cleans_up(
    server: tuple[subprocess.Popen[bytes], str, Seeded, Path],
) -> None:
    proc, base, seeded, folder = server
    log_path = folder.parent.parent / "serve.log"
    janus = JanusView(folder)
    (janus_pid,) = janus_pids(folder)
    assert await janus.rooms_exist([seeded.room_id]) == [True], "a room live before the start got its media back"

    headers = {"Authorization": f"Bearer {seeded.token}"}
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", headers=headers, trust_env=False) as api:
        created = await api.post("/rooms", json={"title": "After the start"})
        assert created.status_code == 201, created.text
        new_room = created.json()["room"]["id"]
        assert await janus.rooms_exist([seeded.room_id, new_room]) == [True, True]

        os.kill(janus_pid, signal.SIGKILL)

        async def back() -> bool:
            pids = janus_pids(folder)
            if not pids or pids == {janus_pid}:
                return False
            try:
                return await janus.rooms_exist([seeded.room_id, new_room]) == [True, True]
            except Exception:  # Janus is still starting
                return False

        took = await eventually(back, 10.0)
        print(f"kill -9 of Janus -> every live room re-created in {took:.1f} s")

        ended = await api.post(f"/rooms/{new_room}/end")
        assert ended.status_code == 200, ended.text
        assert await janus.rooms_exist([seeded.room_id, new_room]) == [True, False], "an ended room's media is gone"

    (janus_pid,) = janus_pids(folder)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(TIMEOUT) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert b"Application shutdown complete" in log_path.read_bytes(), "a graceful shutdown"
    assert not is_alive(janus_pid), "the managed Janus stops with the server"
