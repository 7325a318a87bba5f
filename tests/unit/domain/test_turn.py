"""Unit tests for domain/turn.py: TURN REST API credentials and ICE server lists."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.turn import (
    TTL_MAX_S,
    TTL_MIN_S,
    check_ice_url,
    derive_turn_secret,
    ice_servers,
    turn_credentials,
)

SECRET = "s" * 40


def test_credentials_follow_the_turn_rest_api_scheme() -> None:
    creds = turn_credentials(SECRET, "mem123", now=1_000_000, ttl_s=3600)
    assert creds.username == "1003600:mem123"
    assert creds.expires_at == 1_003_600
    # The password coturn recomputes: base64(HMAC-SHA1(secret, username)) — checked against a known vector too.
    expected = base64.b64encode(hmac.new(SECRET.encode(), b"1003600:mem123", hashlib.sha1).digest()).decode()
    assert creds.credential == expected
    vector = turn_credentials("north" * 8, "alice", now=0, ttl_s=60)
    assert vector.username == "60:alice"
    assert len(base64.b64decode(vector.credential)) == 20


def test_credentials_change_with_the_expiry_and_the_member() -> None:
    a = turn_credentials(SECRET, "a", now=0, ttl_s=60)
    assert a.credential != turn_credentials(SECRET, "a", now=1, ttl_s=60).credential
    assert a.credential != turn_credentials(SECRET, "b", now=0, ttl_s=60).credential
    assert a.credential != turn_credentials("t" * 40, "a", now=0, ttl_s=60).credential


@pytest.mark.parametrize("ttl", [TTL_MIN_S - 1, TTL_MAX_S + 1, 0])
def test_ttl_outside_bounds_is_refused(ttl: int) -> None:
    with pytest.raises(ValueError, match="TTL"):
        turn_credentials(SECRET, "a", now=0, ttl_s=ttl)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than 32"):
        turn_credentials("short", "a", now=0, ttl_s=60)
    with pytest.raises(ValueError, match="too short"):
        derive_turn_secret("short")


@pytest.mark.parametrize("member", ["", "a:b"])
def test_member_id_with_a_colon_or_empty_is_refused(member: str) -> None:
    with pytest.raises(DomainError) as err:
        turn_credentials(SECRET, member, now=0, ttl_s=60)
    assert err.value.code is ErrorCode.INVALID_INPUT


def test_derived_secret_is_stable_and_not_the_app_secret() -> None:
    derived = derive_turn_secret(SECRET)
    assert derived == derive_turn_secret(SECRET)
    assert derived != SECRET
    assert SECRET not in derived
    assert derived != derive_turn_secret("t" * 40)
    assert len(derived) == 64


@pytest.mark.parametrize(
    "url",
    [
        "turn:turn.example.org:3478?transport=udp",
        "turn:203.0.113.5:3478?transport=tcp",
        "turns:turn.example.org:443?transport=tcp",
        "turn:[2001:db8::1]:3478",
        "turn:turn.example.org",
    ],
)
def test_turn_urls_accepted(url: str) -> None:
    assert check_ice_url(url, turn=True) == url


@pytest.mark.parametrize(
    ("url", "turn", "reason"),
    [
        ("http://turn.example.org", True, "is not a turn:"),
        ("turn:host:3478?transport=sctp", True, "is not a turn:"),
        ("turn:host:99999", True, "port must be"),
        ("stun:host:3478", True, "expected a turn"),
        ("turn:host:3478", False, "expected a stun"),
        ("stun:host:3478?transport=udp", False, "no ?transport"),
    ],
)
def test_bad_ice_urls_refused(url: str, turn: bool, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("?", r"\?")):
        check_ice_url(url, turn=turn)


def test_stun_url_accepted() -> None:
    assert check_ice_url("stun:stun.example.org:3478", turn=False) == "stun:stun.example.org:3478"


def test_ice_servers_lists_stun_then_turn_with_credentials() -> None:
    creds = turn_credentials(SECRET, "a", now=0, ttl_s=60)
    servers = ice_servers(["turn:h:3478?transport=udp"], ["stun:h:3478"], creds)
    assert servers == [
        {"urls": ["stun:h:3478"]},
        {"urls": ["turn:h:3478?transport=udp"], "username": creds.username, "credential": creds.credential},
    ]
    assert ice_servers(["turn:h"], [], None) == []
    assert ice_servers([], [], creds) == []
