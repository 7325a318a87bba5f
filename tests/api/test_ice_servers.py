"""GET /api/v1/media/ice-servers: STUN and TURN servers with fresh TURN credentials for the signed-in member only."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import time
from pathlib import Path

import pytest

from salon.app.services import Services
from salon.app.settings import Settings
from tests.support.api import app_for, assert_error, client_for, member_with_token

TURN_SECRET = "t" * 48
TURN_URLS = ["turn:turn.salon.example:3478?transport=udp", "turns:turn.salon.example:443?transport=tcp"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", dev=True, secret_key="x" * 40, turn="external", turn_urls=TURN_URLS,
        turn_secret=TURN_SECRET, turn_ttl_s=600, stun_urls=["stun:stun.salon.example:3478"],
    )  # fmt: skip


async def test_a_member_gets_turn_credentials_coturn_accepts(settings: Settings, services: Services) -> None:
    async with client_for(app_for(settings, services)) as client:
        user_id, headers = await member_with_token(client, services, "alice")
        before = int(time.time())
        response = await client.get("/media/ice-servers", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:stun.salon.example:3478"]}
    assert turn["urls"] == TURN_URLS
    expiry, member = turn["username"].split(":")
    assert member == user_id
    assert before + 600 <= int(expiry) == body["expires_at"] <= int(time.time()) + 600
    # What coturn's use-auth-secret recomputes from its static-auth-secret.
    digest = hmac.new(TURN_SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()


async def test_anonymous_gets_no_credentials(settings: Settings, services: Services) -> None:
    async with client_for(app_for(settings, services)) as client:
        assert_error(await client.get("/media/ice-servers"), 401, "not_authenticated")


async def test_turn_off_gives_no_turn_server(tmp_path: Path, services: Services) -> None:
    off = Settings(data_dir=tmp_path / "off", dev=True, secret_key="x" * 40)
    services = dataclasses.replace(services, settings=off)
    async with client_for(app_for(off, services)) as client:
        _, headers = await member_with_token(client, services, "bob")
        response = await client.get("/media/ice-servers", headers=headers)
    assert response.json() == {"ice_servers": [], "expires_at": 0}
