"""``salon.broadcast.config``: the command line and the secret, with clear errors for anything wrong."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from salon.broadcast.config import Address, Config, load_config
from salon.domain.audience_chunks import parse_policy
from tests.support.tls import self_signed

SECRET = {"SALON_BROADCAST_SECRET": "k" * 32}


def test_defaults() -> None:
    assert load_config(["--name", "w0"], SECRET) == Config(
        name="w0",
        listen=Address("127.0.0.1", 0),
        control=Address("127.0.0.1", 0),
        rtp=Address("127.0.0.1", 0),
        allow_sources=frozenset({"127.0.0.1"}),
        allow_origin="*",
        max_listeners=12000,
        policy=parse_policy("1000:20,2500:40,5000:60,10000:100,inf:120"),
        max_buffer_bytes=65536,
        secret="k" * 32,
    )
    assert load_config(["--name", "w0"], SECRET).tls is None


def test_every_option() -> None:
    argv = "--name n-1 --listen 0.0.0.0:8089 --control [::1]:9000 --rtp 127.0.0.2:5004 --allow-source 10.0.0.5"
    argv += " --allow-source ::1 --allow-origin https://salon.example:8443 --max-listeners 50 --chunks inf:40"
    argv += " --max-buffer-bytes 4096"
    config = load_config(argv.split(), SECRET)
    assert (config.listen, config.control, config.rtp) == (
        Address("0.0.0.0", 8089),  # noqa: S104 - parsing only
        Address("::1", 9000),
        Address("127.0.0.2", 5004),
    )
    assert config.allow_sources == {"10.0.0.5", "::1"}
    assert (config.allow_origin, config.max_listeners, config.max_buffer_bytes) == (
        "https://salon.example:8443",
        50,
        4096,
    )
    assert config.policy == parse_policy("inf:40")


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([], "--name"),
        (["--name", "a b"], "not a node name"),
        (["--name", "w0", "--listen", "localhost:80"], "with an IP address"),
        (["--name", "w0", "--listen", "127.0.0.1"], "with an IP address"),
        (["--name", "w0", "--listen", "127.0.0.1:99999"], "a port from 0 to 65535"),
        (["--name", "w0", "--listen", "127.0.0.1:"], "a port from 0 to 65535"),
        (["--name", "w0", "--allow-source", "example.com"], "not an IP address"),
        (["--name", "w0", "--allow-origin", "https://a.example\r\nX: y"], "not '*' or an origin"),
        (["--name", "w0", "--allow-origin", "https://a.example/path"], "not '*' or an origin"),
        (["--name", "w0", "--max-listeners", "0"], "not a positive whole number"),
        (["--name", "w0", "--chunks", "1000:20"], "the last step must be 'inf:MS'"),
    ],
)
def test_bad_arguments_exit_with_a_usage_error(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        load_config(argv, SECRET)
    assert exc.value.code == 2
    assert complaint in capsys.readouterr().err


@pytest.mark.parametrize("env", [{}, {"SALON_BROADCAST_SECRET": "k" * 31}])
def test_the_secret_is_required_and_long(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_config(["--name", "w0"], env)
    assert "SALON_BROADCAST_SECRET must hold the secret shared with Salon, at least 32" in capsys.readouterr().err


def test_a_certificate_and_its_key_make_the_listeners_port_tls(tmp_path: Path) -> None:
    files = self_signed(tmp_path)
    config = load_config(["--name", "w0", "--tls-cert", str(files.cert), "--tls-key", str(files.key)], SECRET)
    assert isinstance(config.tls, ssl.SSLContext)
    assert config.tls.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        (["--tls-cert", "CERT"], "--tls-cert and --tls-key go together"),
        (["--tls-key", "KEY"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "MISSING", "--tls-key", "KEY"], "MISSING' cannot be read: No such file or directory"),
        (["--tls-cert", "KEY", "--tls-key", "KEY"], "are not a PEM certificate chain and its private key"),
    ],
)
def test_bad_tls_arguments_exit_with_a_usage_error(
    given: list[str], complaint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = self_signed(tmp_path)
    names = {"CERT": str(files.cert), "KEY": str(files.key), "MISSING": str(tmp_path / "MISSING")}
    with pytest.raises(SystemExit) as exc:
        load_config(["--name", "w0", *(names.get(arg, arg) for arg in given)], SECRET)
    assert exc.value.code == 2
    assert complaint in capsys.readouterr().err
