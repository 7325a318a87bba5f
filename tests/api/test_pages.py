"""The web app's pages: one HTML shell for every screen, served with a strict CSP; the manifest; the modules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from salon.web.pages import CONTENT_SECURITY_POLICY
from tests.support.api import BASE

SCREENS = [
    "/",
    "/welcome",
    "/invite/abc123",
    "/room/r1",
    "/search",
    "/u/ada",
    "/invites",
    "/waitlist",
    "/events",
    "/events/new",
    "/events/e1",
    "/events/e1/edit",
    "/notifications",
    "/settings",
    "/start",
]


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Paths from the site's root (the shared ``client`` fixture starts at /api/v1)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


@pytest.mark.parametrize("path", SCREENS)
async def test_every_screen_gets_the_shell_with_a_strict_policy(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app/main.js">' in response.text
    policy = response.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "microphone=(self)" in response.headers["permissions-policy"]


async def test_paths_that_are_not_screens_are_not_found(client: httpx.AsyncClient) -> None:
    for path in ("/nope", "/room", "/u/ada/extra", "/events/e1/edit/more"):
        assert (await client.get(path)).status_code == 404, path


async def test_the_manifest_makes_the_app_installable(client: httpx.AsyncClient) -> None:
    response = await client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["start_url"] == "/"
    assert manifest["display"] == "standalone"
    icon = manifest["icons"][0]
    assert (await client.get(icon["src"])).status_code == 200


async def test_modules_are_served_as_javascript(client: httpx.AsyncClient) -> None:
    for path in ("/static/app/main.js", "/static/app/screens/room.js", "/static/salon.css"):
        response = await client.get(path)
        assert response.status_code == 200, path
    assert "javascript" in (await client.get("/static/app/main.js")).headers["content-type"]
