"""Configuration is validated once: placeholder or short secrets are refused outside dev mode; defaults are sane."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from salon.app.settings import DEFAULT_SECRET, PLAIN_MAX_LISTENERS, TLS_MAX_LISTENERS, Settings
from salon.domain.audience_chunks import DEFAULT_POLICY


def test_defaults_serve_sqlite_on_loopback(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.db_url == f"sqlite+aiosqlite:///{tmp_path / 'salon.db'}"
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.allowed_origins == {"http://127.0.0.1:8000"}
    assert not s.https
    assert s.invites_per_member == 2
    assert s.room_capacity == 5000


@pytest.mark.parametrize("secret", [DEFAULT_SECRET, "short"])
def test_placeholder_or_short_secrets_are_refused_outside_dev(secret: str) -> None:
    with pytest.raises(ValidationError, match="SALON_SECRET_KEY"):
        Settings(secret_key=secret)
    assert Settings(secret_key=secret, dev=True).secret_key == secret


def test_a_generated_secret_is_kept_in_the_data_folder(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data")
    first = s.resolved_secret()
    assert len(first) >= 48
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path / "data").resolved_secret() == first


def test_secret_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("s" * 40 + "\n")
    assert Settings(secret_key_file=path).resolved_secret() == "s" * 40


def test_environment_variables_are_read_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALON_PORT", "9000")
    monkeypatch.setenv("SALON_PUBLIC_URL", "https://salon.example.org")
    s = Settings()
    assert s.port == 9000
    assert s.https
    monkeypatch.setenv("SALON_PORT", "99999")
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(colour="blue")  # type: ignore[call-arg]


def test_trusted_proxies_are_none_by_default_and_read_from_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(dev=True).trusted_proxies == []
    monkeypatch.setenv("SALON_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1")
    assert [str(n) for n in Settings(dev=True).trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    monkeypatch.setenv("SALON_TRUSTED_PROXIES", '["192.168.0.0/16"]')
    assert [str(n) for n in Settings(dev=True).trusted_proxies] == ["192.168.0.0/16"]
    for wrong in ("10.0.0.5/8", "proxy.example.org"):
        monkeypatch.setenv("SALON_TRUSTED_PROXIES", wrong)
        with pytest.raises(ValidationError, match="SALON_TRUSTED_PROXIES"):
            Settings(dev=True)


def test_the_broadcast_settings_have_measured_defaults_and_a_bad_chunk_policy_is_refused_at_start() -> None:
    settings = Settings(dev=True)
    assert settings.audience_tier == "broadcast"
    assert settings.broadcast_workers >= 1
    assert settings.broadcast_chunks == DEFAULT_POLICY
    with pytest.raises(ValidationError, match="SALON_BROADCAST_CHUNKS: step 2"):
        Settings(dev=True, broadcast_chunks="1000:20,500:40,inf:60")
    with pytest.raises(ValidationError, match="audience_tier"):
        Settings(dev=True, audience_tier="hls")


def test_broadcast_tls_takes_a_readable_certificate_and_key_together(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("a PEM chain\n")  # what the files hold is the workers' to check: they load them
    key.write_text("a PEM key\n")
    settings = Settings(dev=True, broadcast_tls_cert=cert, broadcast_tls_key=key)
    assert (settings.broadcast_tls_cert, settings.broadcast_tls_key) == (cert, key)
    assert Settings(dev=True).broadcast_tls_cert is None
    with pytest.raises(ValidationError, match="SALON_BROADCAST_TLS_CERT and SALON_BROADCAST_TLS_KEY go together"):
        Settings(dev=True, broadcast_tls_cert=cert)
    with pytest.raises(ValidationError, match="SALON_BROADCAST_TLS_CERT and SALON_BROADCAST_TLS_KEY go together"):
        Settings(dev=True, broadcast_tls_key=key)
    with pytest.raises(ValidationError, match=r"SALON_BROADCAST_TLS_KEY: '.*nowhere.pem' cannot be read: No such file"):
        Settings(dev=True, broadcast_tls_cert=cert, broadcast_tls_key=tmp_path / "nowhere.pem")
    with pytest.raises(ValidationError, match=r"SALON_BROADCAST_TLS_CERT: '.*' cannot be read: Is a directory"):
        Settings(dev=True, broadcast_tls_cert=tmp_path, broadcast_tls_key=key)


def test_a_tls_worker_takes_fewer_listeners_unless_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("a PEM chain\n")
    key.write_text("a PEM key\n")
    assert Settings(dev=True).broadcast_max_listeners == PLAIN_MAX_LISTENERS == 12_000
    tls = Settings(dev=True, broadcast_tls_cert=cert, broadcast_tls_key=key)
    assert tls.broadcast_max_listeners == TLS_MAX_LISTENERS == 6_000
    chosen = Settings(dev=True, broadcast_tls_cert=cert, broadcast_tls_key=key, broadcast_max_listeners=9_000)
    assert chosen.broadcast_max_listeners == 9_000
    monkeypatch.setenv("SALON_BROADCAST_MAX_LISTENERS", "12000")  # the operator's own choice, from the environment
    assert Settings(dev=True, broadcast_tls_cert=cert, broadcast_tls_key=key).broadcast_max_listeners == 12_000


@pytest.mark.parametrize(
    "given", ['["https://a.example", "http://127.0.0.1:9000"]', "https://a.example, http://127.0.0.1:9000"]
)
def test_extra_origins_are_read_as_json_or_comma_separated(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv("SALON_EXTRA_ORIGINS", given)
    assert Settings(dev=True).extra_origins == ["https://a.example", "http://127.0.0.1:9000"]


def test_the_per_speaker_mix_cap_has_a_default_and_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().speaker_mix_max_listeners == 100
    monkeypatch.setenv("SALON_SPEAKER_MIX_MAX_LISTENERS", "40")
    assert Settings().speaker_mix_max_listeners == 40
    monkeypatch.setenv("SALON_SPEAKER_MIX_MAX_LISTENERS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_the_redis_url_is_optional_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().redis_url is None, "one instance: the in-process hub"
    monkeypatch.setenv("SALON_REDIS_URL", "")
    assert Settings().redis_url is None
    for url in ("redis://10.0.0.5:6379/0", "rediss://:secret@redis.example:6380", "unix:///run/redis/redis.sock"):
        monkeypatch.setenv("SALON_REDIS_URL", url)
        assert Settings().redis_url == url
    monkeypatch.setenv("SALON_REDIS_URL", "10.0.0.5:6379")
    with pytest.raises(ValidationError, match="redis://"):
        Settings()
