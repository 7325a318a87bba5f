"""``salon doctor`` run as an operator runs it, on a temp data folder, with the machine's real probes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salon.cli.main import app

runner = CliRunner()


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
    }
    assert out["ok"] is ("FAIL" not in verdicts.values())
    assert result.exit_code == (0 if out["ok"] else 1)

    public = runner.invoke(app, ["doctor", "--data-dir", str(data_dir), "--public-url", "http://salon.invalid"])
    assert public.exit_code == 1, public.output
    assert "FAIL  TLS: public URL http://salon.invalid is plain http" in public.output
    assert "      → put the HTTPS proxy in front" in public.output


def test_doctor_with_settings_that_do_not_validate_says_so_and_fails(data_dir: Path) -> None:
    result = runner.invoke(app, ["doctor", "--data-dir", str(data_dir)], env={"SALON_SECRET_KEY": "change-me"})
    assert result.exit_code == 1
    assert result.output.startswith("FAIL  settings: ")
    assert "placeholder" in result.output
