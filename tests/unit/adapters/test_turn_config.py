"""Unit tests for adapters/turn/config.py: the managed coturn's config denies every private range."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest

from salon.adapters.turn.config import DENIED_PEER_RANGES, ManagedTurnConfig, render_config, write_config

SECRET = "a" * 64


def _options(text: str, name: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{name}=")]


def _covered(ranges: list[str], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    for r in ranges:
        low, _, high = r.partition("-")
        lo, hi = ipaddress.ip_address(low), ipaddress.ip_address(high or low)
        if lo.version == ip.version and int(lo) <= int(ip) <= int(hi):
            return True
    return False


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.255.0.9", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.1",
        "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "::1", "::", "fd00::1", "fc00::5",  # noqa: S104
        "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "255.255.255.255",
    ],
)  # fmt: skip
def test_every_private_range_is_denied(address: str) -> None:
    text = render_config(ManagedTurnConfig(realm="salon.example", secret=SECRET, listen_ip="203.0.113.5"))
    assert _covered(_options(text, "denied-peer-ip"), address)


@pytest.mark.parametrize("address", ["203.0.113.5", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1"])
def test_public_addresses_are_not_in_the_deny_list(address: str) -> None:
    assert not _covered(list(DENIED_PEER_RANGES), address)


def test_the_config_is_locked_down_and_allows_only_the_media_servers() -> None:
    config = ManagedTurnConfig(
        realm="salon.example", secret=SECRET, listen_ip="203.0.113.5", allowed_peers=("10.0.0.7",)
    )
    text = render_config(config)
    lines = set(text.splitlines())
    for flag in ("use-auth-secret", "fingerprint", "no-cli", "no-multicast-peers", "no-tls", "no-dtls"):
        assert flag in lines
    assert f"static-auth-secret={SECRET}" in lines
    assert "realm=salon.example" in lines
    assert _options(text, "allowed-peer-ip") == ["10.0.0.7"]
    assert "allow-loopback-peers" not in lines
    assert _options(text, "min-port") == ["49160"]
    assert _options(text, "max-port") == ["49200"]


def test_a_loopback_media_server_opens_loopback_only_for_itself() -> None:
    text = render_config(
        ManagedTurnConfig(realm="r", secret=SECRET, listen_ip="127.0.0.1", allowed_peers=("127.0.0.1",))
    )
    assert "allow-loopback-peers" in text.splitlines()
    assert _options(text, "allowed-peer-ip") == ["127.0.0.1"]


def test_tls_when_a_certificate_is_configured(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    text = render_config(
        ManagedTurnConfig(realm="r", secret=SECRET, listen_ip="127.0.0.1", tls_port=5349, cert=cert, key=key)
    )
    lines = text.splitlines()
    assert f"cert={cert}" in lines
    assert f"pkey={key}" in lines
    assert "tls-listening-port=5349" in lines
    assert "no-tls" not in lines


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"allowed_peers": ("10.0.0.0-10.255.255.255",)}, "does not appear to be an IPv4 or IPv6 address"),
        ({"tls_port": 5349}, "TLS needs"),
        ({"min_port": 50000, "max_port": 40000}, "port range"),
        ({"realm": "a b"}, "single words"),
        ({"secret": "x\nallow-loopback-peers"}, "single words"),
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, object], reason: str) -> None:
    base: dict[str, object] = {"realm": "r", "secret": SECRET, "listen_ip": "127.0.0.1"}
    with pytest.raises(ValueError, match=reason):
        ManagedTurnConfig(**{**base, **kwargs})  # type: ignore[arg-type]


def test_write_config_keeps_the_secret_private(tmp_path: Path) -> None:
    path = write_config(ManagedTurnConfig(realm="r", secret=SECRET, listen_ip="127.0.0.1"), tmp_path / "turn")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert f"static-auth-secret={SECRET}" in path.read_text()
