"""SALON_TURN* settings and the managed coturn's config built from them (app/turn.py, adapters/turn/runtime.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from salon.adapters.turn.config import render_config
from salon.adapters.turn.runtime import managed_turn_config
from salon.app.settings import Settings
from salon.app.turn import client_turn_urls, turn_secret


def make(tmp_path: Path, **kwargs: object) -> Settings:
    return Settings(data_dir=tmp_path, dev=True, secret_key="x" * 40, **kwargs)  # type: ignore[arg-type]


def test_turn_is_off_by_default(tmp_path: Path) -> None:
    assert make(tmp_path).turn == "off"
    assert client_turn_urls(make(tmp_path, turn_urls="turn:h:3478")) == []


def test_managed_urls_come_from_the_public_host(tmp_path: Path) -> None:
    s = make(tmp_path, turn="managed", public_url="https://salon.example", turn_port=3479)
    assert client_turn_urls(s) == [
        "turn:salon.example:3479?transport=udp",
        "turn:salon.example:3479?transport=tcp",
    ]
    v6 = make(tmp_path, turn="managed", public_url="https://[2001:db8::5]")
    assert client_turn_urls(v6)[0] == "turn:[2001:db8::5]:3478?transport=udp"


def test_managed_config_uses_a_derived_secret_and_allows_janus(tmp_path: Path) -> None:
    s = make(tmp_path, turn="managed", public_url="https://salon.example", janus_interface="10.0.0.4")
    config = managed_turn_config(s)
    assert config.secret == turn_secret(s)
    assert "x" * 40 not in config.secret
    assert config.realm == "salon.example"
    assert config.allowed_peers == ("10.0.0.4",)
    assert (config.min_port, config.max_port) == (49160, 49999)


def test_managed_tls_adds_a_turns_url_and_the_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    s = make(
        tmp_path, turn="managed", public_url="https://salon.example", turn_tls_port=5349, turn_tls_cert=cert,
        turn_tls_key=key,
    )  # fmt: skip
    assert client_turn_urls(s)[-1] == "turns:salon.example:5349?transport=tcp"
    config = managed_turn_config(s)
    assert (config.tls_port, config.cert, config.key) == (5349, cert.resolve(), key.resolve())


def test_env_lists_are_comma_separated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALON_TURN_URLS", "turn:a:3478?transport=udp, turns:a:443?transport=tcp")
    monkeypatch.setenv("SALON_STUN_URLS", "stun:a:3478")
    s = make(tmp_path, turn="external", turn_secret="s" * 32)
    assert s.turn_urls == ["turn:a:3478?transport=udp", "turns:a:443?transport=tcp"]
    assert s.stun_urls == ["stun:a:3478"]
    assert turn_secret(s) == "s" * 32


NODES = (
    '[{"url": "http://10.0.1.5:8088/janus", "api_secret": "a", "admin_key": "k"},'
    ' {"url": "http://janus-b.internal:8088/janus", "api_secret": "a", "admin_key": "k"},'
    ' {"url": "http://10.0.1.5:9088/janus", "api_secret": "a", "admin_key": "k"}]'
)


def test_external_janus_nodes_ip_hosts_are_the_relays_default_peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALON_JANUS_NODES", NODES)
    # janus_interface is the managed Janus's: with external nodes there is none, so it is not re-opened.
    s = make(tmp_path, turn="managed", public_url="https://salon.example", janus_interface="10.0.0.4")
    assert managed_turn_config(s).allowed_peers == ("10.0.1.5",), "one per address; a name is not guessed"
    monkeypatch.setenv("SALON_TURN_MEDIA_PEERS", "10.0.2.7, fd00::9")
    given = make(tmp_path, turn="managed", public_url="https://salon.example")
    assert managed_turn_config(given).allowed_peers == ("10.0.2.7", "fd00::9"), "the setting replaces the default"
    text = render_config(managed_turn_config(given))
    assert [line for line in text.splitlines() if line.startswith("allowed-peer-ip=")] == [
        "allowed-peer-ip=10.0.2.7",
        "allowed-peer-ip=fd00::9",
    ]


def test_without_external_nodes_or_an_interface_no_private_peer_is_allowed(tmp_path: Path) -> None:
    assert managed_turn_config(make(tmp_path, turn="managed", public_url="https://salon.example")).allowed_peers == ()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"turn": "external"}, "needs SALON_TURN_URLS and SALON_TURN_SECRET"),
        ({"turn": "external", "turn_urls": "turn:h", "turn_secret": "short"}, "at least 32"),
        ({"turn_urls": "http://h"}, "SALON_TURN_URLS"),
        ({"stun_urls": "turn:h"}, "SALON_STUN_URLS"),
        ({"turn_relay_ports": "80-90"}, "SALON_TURN_RELAY_PORTS"),
        ({"turn_relay_ports": "50000"}, "SALON_TURN_RELAY_PORTS"),
        ({"turn_listen_ip": "turn.example"}, "does not appear to be an IPv4 or IPv6 address"),
        ({"turn_ttl_s": 10}, "turn_ttl_s"),
        ({"turn_tls_port": 5349}, "go together"),
        ({"turn_media_peers": "10.0.0.0/8"}, "SALON_TURN_MEDIA_PEERS"),
        ({"turn_media_peers": "janus.internal"}, "SALON_TURN_MEDIA_PEERS"),
    ],
)
def test_bad_turn_settings_are_refused(tmp_path: Path, kwargs: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        make(tmp_path, **kwargs)
