"""The managed Janus, for real (Debian's /usr/bin/janus on 127.0.0.1): locked down, restarted, never left behind."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from salon.adapters.janus.process import ManagedJanus
from tests.support.janus import config_problems, is_alive, janus_pids, killing_leftovers, listening_tcp, managed_janus


@pytest.fixture
def restarted() -> list[int]:
    """PIDs of the Janus processes that ``on_restart`` was called with."""
    return []


@pytest.fixture
async def janus(tmp_path: Path, restarted: list[int]) -> AsyncIterator[ManagedJanus]:
    async def record(j: ManagedJanus) -> None:
        assert j.pid is not None
        restarted.append(j.pid)

    async with managed_janus(tmp_path / "janus", on_restart=record) as j:
        yield j


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as c:
        yield c


async def api(client: httpx.AsyncClient, url: str, body: dict[str, Any], secret: str | None) -> dict[str, Any]:
    body = {**body, "transaction": secrets.token_hex(6)}
    if secret is not None:
        body["apisecret"] = secret
    response = await client.post(url, json=body)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def plugin_request(
    client: httpx.AsyncClient, janus: ManagedJanus, plugin: str, request: dict[str, Any]
) -> dict[str, Any]:
    session = (await api(client, janus.url, {"janus": "create"}, janus.api_secret))["data"]["id"]
    attached = await api(client, f"{janus.url}/{session}", {"janus": "attach", "plugin": plugin}, janus.api_secret)
    handle = attached["data"]["id"]
    answer = await api(
        client, f"{janus.url}/{session}/{handle}", {"janus": "message", "body": request}, janus.api_secret
    )
    data: dict[str, Any] = answer["plugindata"]["data"]
    return data


async def test_info_shows_only_audiobridge_streaming_and_http(janus: ManagedJanus, client: httpx.AsyncClient) -> None:
    info = (await client.get(f"{janus.url}/info")).json()
    assert set(info["plugins"]) == {"janus.plugin.audiobridge", "janus.plugin.streaming"}
    assert set(info["transports"]) == {"janus.transport.http"}
    assert info["events"] == {}
    assert info["loggers"] == {}
    assert info["api_secret"] is True
    assert info["event_handlers"] is False
    assert info["ipv6"] is False
    assert info["session-timeout"] == 60
    assert info["static-event-loops"] == os.cpu_count()
    assert "dependencies" not in info
    assert config_problems(janus.folder) == []


async def test_janus_listens_only_on_loopback_and_its_port(janus: ManagedJanus) -> None:
    assert janus.pid is not None
    assert janus.url == f"http://127.0.0.1:{janus.config.http_port}/janus"
    assert listening_tcp(janus.pid) == {("127.0.0.1", janus.config.http_port)}  # no admin API, no WebSockets


async def test_requests_need_the_api_secret(janus: ManagedJanus, client: httpx.AsyncClient) -> None:
    for secret in (None, "wrong-secret"):
        refused = await api(client, janus.url, {"janus": "create"}, secret)
        assert refused["janus"] == "error"
        assert refused["error"]["code"] == 403
        assert refused["error"]["reason"].startswith("Unauthorized request")
    created = await api(client, janus.url, {"janus": "create"}, janus.api_secret)
    assert created["janus"] == "success"
    assert isinstance(created["data"]["id"], int)


async def test_other_plugins_cannot_be_attached(janus: ManagedJanus, client: httpx.AsyncClient) -> None:
    session = (await api(client, janus.url, {"janus": "create"}, janus.api_secret))["data"]["id"]
    for plugin in ("janus.plugin.videoroom", "janus.plugin.echotest", "janus.plugin.sip"):
        refused = await api(client, f"{janus.url}/{session}", {"janus": "attach", "plugin": plugin}, janus.api_secret)
        assert refused["error"]["code"] == 460  # no such plugin


async def test_no_sample_rooms_and_the_admin_key_guards_the_plugins(
    janus: ManagedJanus, client: httpx.AsyncClient
) -> None:
    bridge, streaming = "janus.plugin.audiobridge", "janus.plugin.streaming"
    assert (await plugin_request(client, janus, bridge, {"request": "list"}))["list"] == []
    assert (await plugin_request(client, janus, streaming, {"request": "list"}))["list"] == []

    room = {"request": "create", "room": 7}
    assert (await plugin_request(client, janus, bridge, room))["error_code"] == 483  # admin_key missing
    assert (await plugin_request(client, janus, bridge, {**room, "admin_key": "wrong"}))["error_code"] == 489
    created = await plugin_request(client, janus, bridge, {**room, "admin_key": janus.admin_key})
    assert created["audiobridge"] == "created"
    # lock_rtp_forward and lock_play_file: even on an existing room, only with the admin key.
    forward = {"request": "rtp_forward", "room": 7, "host": "127.0.0.1", "port": 40010, "ptype": 111}
    assert (await plugin_request(client, janus, bridge, forward))["error_code"] == 483
    play = {"request": "play_file", "room": 7, "filename": "/etc/hostname"}
    assert (await plugin_request(client, janus, bridge, play))["error_code"] == 483
    mountpoint = {"request": "create", "type": "rtp", "media": [{"type": "audio", "mid": "a", "port": 0}]}
    assert (await plugin_request(client, janus, streaming, mountpoint))["error_code"] == 453  # admin_key missing


async def test_a_killed_janus_is_restarted(
    janus: ManagedJanus, client: httpx.AsyncClient, restarted: list[int]
) -> None:
    old_pid, url = janus.pid, janus.url
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while not restarted:
        assert time.monotonic() < deadline, "Janus was not restarted within 5 s"
        await asyncio.sleep(0.05)
    assert janus.restarts == 1
    assert restarted == [janus.pid]
    assert janus.pid != old_pid
    assert not is_alive(old_pid)
    assert janus.url == url  # the same address: the app's client keeps working
    created = await api(client, janus.url, {"janus": "create"}, janus.api_secret)
    assert created["janus"] == "success"


async def test_stop_leaves_no_janus(tmp_path: Path) -> None:
    folder = tmp_path / "janus"
    async with managed_janus(folder) as janus:
        pid = janus.pid
        assert pid is not None
        assert is_alive(pid)
        await janus.stop()
        assert not is_alive(pid)
        assert janus.pid is None
        assert janus_pids(folder) == set()
        await janus.stop()  # idempotent


_APP = """
import asyncio, sys
from pathlib import Path
from salon.adapters.janus.process import ManagedJanus

async def main() -> None:
    janus = ManagedJanus(Path(sys.argv[1]))
    await janus.start()
    print(janus.pid, flush=True)
    await asyncio.sleep(60)

if sys.argv[2] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_janus_dies_with_the_app(loop: str, tmp_path: Path) -> None:
    folder = tmp_path / "janus"
    with killing_leftovers(folder):
        app = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _APP, str(folder), loop, stdout=asyncio.subprocess.PIPE
        )
        try:
            assert app.stdout is not None
            line = await asyncio.wait_for(app.stdout.readline(), 15)
            janus_pid = int(line)
            assert is_alive(janus_pid)
        finally:
            app.kill()  # SIGKILL: the app gets no chance to clean up
            await app.wait()
        deadline = time.monotonic() + 5
        while is_alive(janus_pid):
            assert time.monotonic() < deadline, "Janus outlived the app"
            await asyncio.sleep(0.05)


async def test_a_failing_restart_hook_does_not_end_supervision(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def failing(j: ManagedJanus) -> None:
        calls.append(j.restarts)
        raise RuntimeError("re-creating rooms failed")

    async with managed_janus(tmp_path / "janus", on_restart=failing) as janus:
        for expected in (1, 2):
            pid = janus.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while len(calls) < expected:
                assert time.monotonic() < deadline, "Janus was not restarted within 5 s"
                await asyncio.sleep(0.05)
        assert calls == [1, 2]
        assert "on_restart hook failed" in caplog.text
