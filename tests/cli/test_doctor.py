"""``salon doctor`` run as an operator runs it, on a temp data folder, with the machine's real probes."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import ssl
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from salon.adapters.turn.config import ManagedTurnConfig
from salon.adapters.turn.process import managed_turn
from salon.cli.doctor_checks import SYSTEM_PROBES, TlsRefused, Unreachable
from salon.cli.main import app
from salon.store.database import Database
from salon.store.migrate import alembic_config, upgrade
from salon.store.schema_state import SchemaState, schema_state
from tests.support.tls import self_signed

runner = CliRunner()
HEAD = str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SALON_SECRET_KEY", "Zq8vN2rL5tY0wE3uI6oP9aS1dF4gH7jK")
    monkeypatch.delenv("SALON_DATABASE_URL", raising=False)
    monkeypatch.delenv("SALON_PUBLIC_URL", raising=False)
    monkeypatch.delenv("SALON_TURN", raising=False)
    return tmp_path / "data"


def test_doctor_on_a_migrated_data_dir_reports_every_check_and_fails_on_plain_http_in_public(data_dir: Path) -> None:
    assert runner.invoke(app, ["migrate", "--data-dir", str(data_dir)]).exit_code == 0
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the reachability check is skipped

    result = runner.invoke(app, ["doctor", "--data-dir", str(data_dir), "--public-url", nobody, "--json"])
    out = json.loads(result.output)
    verdicts = {c["name"]: c["verdict"] for c in out["checks"]}
    assert verdicts["secret key"] == "ok"
    assert verdicts["TLS"] == "warn", "plain http on this machine"
    assert verdicts["public URL answers"] == "skip"
    assert verdicts["database"] == "ok", out
    assert verdicts["Janus"] == "ok", "scripts/install-system-deps.sh installs janus"
    assert set(verdicts) == {
        "secret key",
        "TLS",
        "public URL answers",
        "disk",
        "clock",
        "Janus",
        "database",
        "UDP ports",
        "NAT",
        "TURN",
    }
    assert verdicts["NAT"] == "skip", "the public URL is on this machine: no NAT to cross"
    assert verdicts["TURN"] == "skip", "off, and the public URL is on this machine"
    assert out["ok"] is ("FAIL" not in verdicts.values())
    assert result.exit_code == (0 if out["ok"] else 1)

    public = runner.invoke(app, ["doctor", "--data-dir", str(data_dir), "--public-url", "http://salon.invalid"])
    assert public.exit_code == 1, public.output
    assert "FAIL  TLS: public URL http://salon.invalid is plain http" in public.output
    assert "      → put the HTTPS proxy in front" in public.output
    assert "warn  TURN: off: members behind networks that block UDP get no sound" in public.output


def test_doctor_with_settings_that_do_not_validate_says_so_and_fails(data_dir: Path) -> None:
    result = runner.invoke(app, ["doctor", "--data-dir", str(data_dir)], env={"SALON_SECRET_KEY": "change-me"})
    assert result.exit_code == 1
    assert result.output.startswith("FAIL  settings: ")
    assert "placeholder" in result.output


async def test_the_real_http_probe_tells_a_refused_certificate_from_an_unreachable_url(tmp_path: Path) -> None:
    files = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    tls = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    plain = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with tls, plain:
        tls_port = tls.sockets[0].getsockname()[1]
        plain_port = plain.sockets[0].getsockname()[1]
        with pytest.raises(TlsRefused):  # a certificate no public CA signed: what a browser refuses too
            await SYSTEM_PROBES.http_status(f"https://127.0.0.1:{tls_port}/healthz")
        assert await SYSTEM_PROBES.http_status(f"http://127.0.0.1:{plain_port}/healthz") == 502
    with pytest.raises(Unreachable):
        await SYSTEM_PROBES.http_status(f"http://127.0.0.1:{free_port()}/healthz")


async def test_the_schema_probe_reads_the_revision_without_creating_or_migrating(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'salon.db'}"
    assert await schema_state(url) == SchemaState(exists=False, current=None, head=HEAD, known=True)
    assert not (tmp_path / "salon.db").exists(), "asking created nothing"
    script = ScriptDirectory.from_config(alembic_config(url))
    older = next(r.revision for r in script.walk_revisions() if r.revision != HEAD)
    db = Database(url)
    try:
        await upgrade(db, older)
    finally:
        await db.dispose()
    assert await schema_state(url) == SchemaState(exists=True, current=older, head=HEAD, known=True)
    assert await schema_state(url) == SchemaState(exists=True, current=older, head=HEAD, known=True), "unchanged"
    with sqlite3.connect(tmp_path / "salon.db") as conn:  # as a newer Salon would have left it
        conn.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    assert await schema_state(url) == SchemaState(exists=True, current="f00dfeedbeef", head=HEAD, known=False)


async def test_the_real_turn_probes_hear_a_running_coturn_and_see_its_port_held(tmp_path: Path) -> None:
    port = free_port()
    assert SYSTEM_PROBES.coturn_installed(), "scripts/install-system-deps.sh installs coturn"
    assert not await asyncio.to_thread(SYSTEM_PROBES.stun_answers, "127.0.0.1", port), "nothing listens yet"
    assert SYSTEM_PROBES.port_bindable("127.0.0.1", port, "udp")
    low = 50000 + port % 10000  # a relay range of its own, unlikely to meet another test's
    config = ManagedTurnConfig(realm="salon.test", secret="s" * 40, listen_ip="127.0.0.1", port=port,
                               min_port=low, max_port=low + 9)  # fmt: skip
    async with managed_turn(config, tmp_path / "turn"):
        assert await asyncio.to_thread(SYSTEM_PROBES.stun_answers, "127.0.0.1", port)
        assert not SYSTEM_PROBES.port_bindable("127.0.0.1", port, "udp")
        assert not SYSTEM_PROBES.port_bindable("127.0.0.1", port, "tcp")
    (tmp_path / "cert.pem").write_text("x")
    assert SYSTEM_PROBES.readable(tmp_path / "cert.pem")
    assert not SYSTEM_PROBES.readable(tmp_path / "missing.pem")
    assert not SYSTEM_PROBES.readable(tmp_path), "a folder is not a certificate"
