"""``salon proxy-config``: the nginx configuration for the settings in the environment, accepted by nginx itself;
settings it cannot serve are refused with the setting to change and exit status 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salon.cli.main import app
from tests.support.https_proxy import NGINX, local_ca, nginx_test_config

runner = CliRunner()
BEHIND_PROXY = {
    "SALON_PUBLIC_URL": "https://salon.test",
    "SALON_TRUSTED_PROXIES": "127.0.0.1",
    "SALON_BROADCAST_PORT": "8100",
    "SALON_BROADCAST_WORKERS": "3",
}


@pytest.fixture(autouse=True)
def no_salon_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings each test gives: none from the environment the tests run in."""
    for name in [name for name in os.environ if name.startswith("SALON_")]:
        monkeypatch.delenv(name)


def test_it_prints_a_configuration_nginx_accepts(tmp_path: Path) -> None:
    tls = local_ca(tmp_path, "salon.test")
    args = ["proxy-config", "--cert", str(tls.cert), "--key", str(tls.key), "--http-port", "8080"]
    result = runner.invoke(app, args, env=BEHIND_PROXY)
    assert result.exit_code == 0, result.output
    for worker, port in (("w0", 8100), ("w1", 8101), ("w2", 8102)):
        assert f"location /broadcast/{worker}/ {{\n        proxy_pass http://127.0.0.1:{port}/;" in result.stdout
    assert "listen 8080;" in result.stdout
    if not NGINX.exists():
        raise RuntimeError(f"{NGINX} is missing: run scripts/install-system-deps.sh (Debian's nginx)")
    check = nginx_test_config(result.stdout, tmp_path / "nginx")
    assert check.returncode == 0, check.stderr


def test_without_an_https_public_url_it_says_what_to_set() -> None:
    result = runner.invoke(app, ["proxy-config"], env={**BEHIND_PROXY, "SALON_PUBLIC_URL": "http://salon.test"})
    assert result.exit_code == 2
    assert "error: SALON_PUBLIC_URL is 'http://salon.test': set it to the https URL" in result.output
    assert "Traceback" not in result.output


def test_any_free_broadcast_port_is_refused() -> None:
    result = runner.invoke(app, ["proxy-config"], env={**BEHIND_PROXY, "SALON_BROADCAST_PORT": "0"})
    assert result.exit_code == 2
    assert "SALON_BROADCAST_PORT is 0 (any free port): set the first broadcast worker's port" in result.output


def test_nginx_refuses_a_broken_configuration(tmp_path: Path) -> None:
    """The check above can fail: nginx -t, as the helper runs it, rejects a snippet that is not nginx."""
    assert nginx_test_config("server { listen 443 ssl; no_such_directive on; }\n", tmp_path).returncode != 0
