"""API paths that travel inside data (``salon.domain.api_paths``)."""

from __future__ import annotations

from salon.domain.api_paths import API_PREFIX, avatar_url


def test_an_avatar_is_served_under_the_api_prefix() -> None:
    assert avatar_url("u1-3f2a.webp") == "/api/v1/avatars/u1-3f2a.webp"
    assert avatar_url("x") == f"{API_PREFIX}/avatars/x"


def test_a_member_without_an_avatar_has_no_url() -> None:
    assert avatar_url(None) is None
    assert avatar_url("") is None
