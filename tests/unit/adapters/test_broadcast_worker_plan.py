"""``runtime.worker_plan`` and ``ManagedBroadcast``'s command line: the URL listeners are given (plain, TLS in the
workers, behind the HTTPS proxy, or set outright) and the TLS files handed to every worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from salon.adapters.broadcast.process import ManagedBroadcast, _Worker
from salon.adapters.janus.runtime import worker_plan
from salon.app.settings import Settings


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def settings(**values: Any) -> Settings:
    return Settings(secret_key="k" * 40, **values)


@pytest.fixture
def tls() -> dict[str, Path]:
    Path("cert.pem").write_text("chain\n")
    Path("key.pem").write_text("key\n")
    return {"broadcast_tls_cert": Path("cert.pem"), "broadcast_tls_key": Path("key.pem")}


def test_plain_workers_are_reached_at_the_bound_host() -> None:
    plan = worker_plan(settings(host="127.0.0.1"))
    assert plan.public_url == "http://127.0.0.1:{port}"
    assert (plan.tls_cert, plan.tls_key) == ("", "")
    args = ManagedBroadcast(plan)._args(_Worker("w0", 0))
    assert "--tls-cert" not in args
    assert "--tls-key" not in args


@pytest.mark.parametrize(
    ("public_url", "stream_url"),
    [
        ("https://salon.example", "https://salon.example:{port}"),  # the name the certificate holds, not 0.0.0.0
        ("http://[::1]:8000", "https://[::1]:{port}"),
        ("", "https://0.0.0.0:{port}"),  # no public URL: the app's own default, http://<host>:<port>
    ],
)
def test_tls_workers_are_reached_over_https_at_the_public_host(
    tls: dict[str, Path], public_url: str, stream_url: str
) -> None:
    plan = worker_plan(settings(host="0.0.0.0", public_url=public_url, **tls))  # noqa: S104
    assert plan.public_url == stream_url
    assert (plan.tls_cert, plan.tls_key) == (str(Path.cwd() / "cert.pem"), str(Path.cwd() / "key.pem"))
    args = ManagedBroadcast(plan)._args(_Worker("w0", 0))
    assert args[-4:] == ["--tls-cert", plan.tls_cert, "--tls-key", plan.tls_key]


def test_an_explicit_stream_url_wins(tls: dict[str, Path]) -> None:
    url = "https://streams.example/broadcast/{name}"
    plan = worker_plan(settings(public_url="https://salon.example", broadcast_public_url=url, **tls))
    assert plan.public_url == url
    assert plan.tls_cert
