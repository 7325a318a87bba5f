"""Janus settings: empty means Salon runs its own; an external node needs its API secret and plugin admin key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from salon.app.settings import Settings

URL = "http://10.0.0.5:8088/janus"
SECRET = "s" * 32
KEY = "k" * 32


def external(url: str = URL, secret: str = SECRET, key: str = KEY) -> Settings:
    return Settings(dev=True, janus_url=url, janus_api_secret=secret, janus_admin_key=key)


def test_by_default_salon_runs_its_own_janus() -> None:
    assert Settings(dev=True).managed_janus


def test_an_external_janus() -> None:
    s = external()
    assert not s.managed_janus
    assert SECRET not in repr(s)
    assert KEY not in repr(s)


@pytest.mark.parametrize(("secret", "key"), [("", KEY), (SECRET, "")])
def test_an_external_janus_without_its_secrets_is_refused(secret: str, key: str) -> None:
    with pytest.raises(ValidationError, match="SALON_JANUS_URL needs"):
        external(secret=secret, key=key)


def test_secrets_without_a_url_are_refused() -> None:
    with pytest.raises(ValidationError, match="set SALON_JANUS_URL"):
        Settings(dev=True, janus_api_secret=SECRET)


def test_the_url_must_be_http() -> None:
    with pytest.raises(ValidationError, match="http"):
        external(url="ws://10.0.0.5:8188")


def test_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALON_JANUS_URL", URL)
    monkeypatch.setenv("SALON_JANUS_API_SECRET", SECRET)
    monkeypatch.setenv("SALON_JANUS_ADMIN_KEY", KEY)
    s = Settings(dev=True)
    assert (s.janus_url, s.janus_api_secret, s.janus_admin_key) == (URL, SECRET, KEY)


def test_several_external_nodes_come_as_a_json_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = '[{"url": "http://10.0.0.5:8088/janus", "api_secret": "secret-one", "admin_key": "key-one"},'
    nodes += ' {"url": "http://10.0.0.6:8088/janus", "api_secret": "c", "admin_key": "d"}]'
    monkeypatch.setenv("SALON_JANUS_NODES", nodes)
    settings = Settings(data_dir=tmp_path, dev=True)
    assert not settings.managed_janus
    assert [n.url for n in settings.external_janus_nodes] == [
        "http://10.0.0.5:8088/janus",
        "http://10.0.0.6:8088/janus",
    ]
    assert "secret-one" not in repr(settings.external_janus_nodes), "secrets stay out of logs"
    assert "key-one" not in repr(settings)
    with pytest.raises(ValueError, match="not both"):
        Settings(data_dir=tmp_path, dev=True, janus_url="http://x/janus", janus_api_secret="s", janus_admin_key="k")
    monkeypatch.setenv("SALON_JANUS_NODES", '[{"url": "ftp://x", "api_secret": "a", "admin_key": "b"}]')
    with pytest.raises(ValueError, match="http"):
        Settings(data_dir=tmp_path, dev=True)


def test_nat_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALON_JANUS_NAT_1_1", " 198.51.100.2, 203.0.113.7 ")
    monkeypatch.setenv("SALON_JANUS_KEEP_PRIVATE_HOST", "true")
    monkeypatch.setenv("SALON_STUN_SERVER", "stun.example.net:3478")
    s = Settings(dev=True)
    assert [str(a) for a in s.janus_nat_1_1] == ["198.51.100.2", "203.0.113.7"]
    assert s.janus_keep_private_host
    assert s.stun_host_port == ("stun.example.net", 3478)
    assert Settings(dev=True, stun_server=None).stun_host_port is None


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ({"janus_nat_1_1": "198.51.100.0/24"}, "SALON_JANUS_NAT_1_1"),
        ({"janus_nat_1_1": "public.example"}, "SALON_JANUS_NAT_1_1"),
        ({"janus_nat_1_1": "2001:db8::1"}, "SALON_JANUS_NAT_1_1"),
        ({"janus_keep_private_host": True}, "needs SALON_JANUS_NAT_1_1"),
        ({"stun_server": "stun.example.net"}, "SALON_STUN_SERVER"),
        ({"stun_server": "stun.example.net:70000"}, "SALON_STUN_SERVER"),
        ({"stun_server": ":3478"}, "SALON_STUN_SERVER"),
    ],
)
def test_bad_nat_settings_are_refused(given: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Settings(dev=True, **given)  # type: ignore[arg-type]
