"""``salon proxy-config``: the nginx configuration for the settings in the environment, accepted by nginx itself;
settings it cannot serve are refused with the setting to change and exit status 2, never a traceback."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Any

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


def test_without_ipv6_it_listens_on_ipv4_only_and_nginx_accepts_it(tmp_path: Path) -> None:
    tls = local_ca(tmp_path, "salon.test")
    args = ["proxy-config", "--cert", str(tls.cert), "--key", str(tls.key), "--no-ipv6"]
    result = runner.invoke(app, args, env=BEHIND_PROXY)
    assert result.exit_code == 0, result.output
    assert "listen 443 ssl http2;" in result.stdout
    assert "listen 80;" in result.stdout
    assert "[::]" not in result.stdout
    check = nginx_test_config(result.stdout, tmp_path / "nginx")
    assert check.returncode == 0, check.stderr


def test_ipv6_listens_follow_what_the_host_can_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine has IPv6: the [::] lines are there. A kernel without it (``ipv6.disable=1``: no AF_INET6 socket
    can be made, as the fake below does) gets none, since nginx would refuse to start on them."""
    with_ipv6 = runner.invoke(app, ["proxy-config"], env=BEHIND_PROXY)
    assert with_ipv6.exit_code == 0, with_ipv6.output
    assert "listen [::]:443 ssl http2;" in with_ipv6.stdout
    assert "listen [::]:80;" in with_ipv6.stdout

    real_socket = socket.socket

    def no_ipv6(family: int = socket.AF_INET, *args: Any, **kwargs: Any) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))
        return real_socket(family, *args, **kwargs)

    monkeypatch.setattr(socket, "socket", no_ipv6)
    without = runner.invoke(app, ["proxy-config"], env=BEHIND_PROXY)
    assert without.exit_code == 0, without.output
    assert "listen 443 ssl http2;" in without.stdout
    assert "[::]" not in without.stdout
    forced = runner.invoke(app, ["proxy-config", "--ipv6"], env=BEHIND_PROXY)
    assert "listen [::]:443 ssl http2;" in forced.stdout


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
