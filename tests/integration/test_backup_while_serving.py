"""Backups against a real ``salon serve`` (its managed Janus, no broadcast workers): a backup taken while it serves
restores the data, and ``salon restore`` is refused until it has stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from salon.adapters.janus.config import config_folder
from salon.app import accounts
from salon.app.backups import MANIFEST
from salon.app.settings import Settings
from salon.cli.main import app
from salon.web.app import build_services
from tests.support.janus import killing_leftovers
from tests.support.people import add_member

SECRET = "s" * 40
TIMEOUT = 60.0
runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def usernames(data_dir: Path) -> list[str]:
    async def main() -> list[str]:
        services = await build_services(Settings(data_dir=data_dir, secret_key=SECRET))
        try:
            return sorted(u.username for u in await accounts.list_users(services))
        finally:
            await services.db.dispose()

    return asyncio.run(main())


def add(data_dir: Path, username: str) -> None:
    async def main() -> None:
        services = await build_services(Settings(data_dir=data_dir, secret_key=SECRET))
        try:
            await add_member(services, username)
        finally:
            await services.db.dispose()

    asyncio.run(main())


def test_a_backup_taken_while_serving_restores_once_the_server_has_stopped(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    add(data_dir, "ada")
    env = {**os.environ, "SALON_SECRET_KEY": SECRET, "SALON_BROADCAST_WORKERS": "0"}
    env.pop("SALON_DATABASE_URL", None)
    port = free_port()
    argv = [sys.executable, "-c", "from salon.cli.main import main; main()", "serve", f"--port={port}"]
    argv += ["--data-dir", str(data_dir)]
    cli_env = {"SALON_SECRET_KEY": SECRET}
    log_path = tmp_path / "serve.log"
    with killing_leftovers(config_folder(data_dir)), log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + TIMEOUT
            with httpx.Client(trust_env=False) as http:
                while True:
                    assert proc.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, log_path.read_text()
                    try:
                        if http.get(f"http://127.0.0.1:{port}/api/v1/openapi.json").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.1)
            made = runner.invoke(app, ["backup", "--data-dir", str(data_dir)], env=cli_env)
            assert made.exit_code == 0, made.output
            archive = Path(made.stdout.strip().splitlines()[-1])
            with tarfile.open(archive) as tar:
                assert tar.getmember(MANIFEST).isfile()

            refused = runner.invoke(app, ["restore", str(archive), "--yes", "--data-dir", str(data_dir)], env=cli_env)
            assert refused.exit_code == 1
            assert f"a salon serve is running on {data_dir}" in refused.output
            assert not [p for p in data_dir.iterdir() if "before-restore" in p.name]
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)

    add(data_dir, "bob")  # after the backup: the restore must take it away
    assert usernames(data_dir) == ["ada", "bob"]
    restored = runner.invoke(app, ["restore", str(archive), "--yes", "--data-dir", str(data_dir)], env=cli_env)
    assert restored.exit_code == 0, restored.output
    assert usernames(data_dir) == ["ada"]
