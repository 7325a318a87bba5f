"""``salon front-door-config``: the HAProxy configuration for the instances given, accepted by Debian's HAProxy
itself (``haproxy -c``); addresses it cannot use are refused with the reason and exit status 2, never a
traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

from typer.testing import CliRunner

from salon.cli.main import app

runner = CliRunner()
HAPROXY = Path("/usr/sbin/haproxy")
INSTANCES = ["--instance", "127.0.0.1:8001", "--instance", "127.0.0.1:8002", "--instance", "127.0.0.1:8003"]


def haproxy_check(config: str, folder: Path) -> subprocess.CompletedProcess[str]:
    if not HAPROXY.exists():
        raise RuntimeError(f"{HAPROXY} is missing: run scripts/install-system-deps.sh (Debian's haproxy)")
    path = folder / "haproxy.cfg"
    path.write_text(config)
    return subprocess.run([str(HAPROXY), "-c", "-f", str(path)], capture_output=True, text=True, check=False)


def test_it_prints_a_configuration_haproxy_accepts(tmp_path: Path) -> None:
    result = runner.invoke(app, ["front-door-config", *INSTANCES, "--bind", "127.0.0.1:8000"])
    assert result.exit_code == 0, result.output
    assert "    server salon-3 127.0.0.1:8003\n" in result.stdout
    assert "    user haproxy\n" in result.stdout
    check = haproxy_check(result.stdout, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Configuration file is valid" in check.stdout
    assert "WARNING" not in check.stdout + check.stderr


def test_its_options_reach_the_configuration(tmp_path: Path) -> None:
    options = ["--stats", "127.0.0.1:9404", "--check-interval-ms", "250", "--maxconn", "1000", "--run-as", ""]
    result = runner.invoke(app, ["front-door-config", *INSTANCES, *options])
    assert result.exit_code == 0, result.output
    for line in ("bind 127.0.0.1:9404", "inter 250ms fastinter 125ms", "maxconn 1000"):
        assert line in result.stdout, line
    assert "user " not in result.stdout
    check = haproxy_check(result.stdout, tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


def test_addresses_it_cannot_use_are_refused_with_the_reason() -> None:
    for args, reason in (
        (["--instance", "127.0.0.1"], "give HOST:PORT"),
        ([*INSTANCES, "--stats", "0.0.0.0:8404"], "keep it on loopback"),
        (["--instance", "127.0.0.1:8001", "--instance", "127.0.0.1:8001"], "given twice"),
    ):
        result = runner.invoke(app, ["front-door-config", *args])
        assert result.exit_code == 2, result.output
        assert reason in result.stderr
        assert "Traceback" not in result.output
    missing = runner.invoke(app, ["front-door-config"])
    assert missing.exit_code == 2
    assert "--instance" in missing.output
