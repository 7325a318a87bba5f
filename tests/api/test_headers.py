"""Security headers on every kind of response (issue 11, finding 7): `nosniff` everywhere, HSTS exactly when the
public URL is https, and the interactive API docs served from this origin under the web app's strict CSP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from salon.app.services import Services
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.web.headers import HSTS
from salon.web.pages import CONTENT_SECURITY_POLICY
from tests.support.api import BASE, app_for, bearer
from tests.support.people import add_member

DOCS = "/api/v1/docs"


async def _boom() -> None:
    raise RuntimeError("a bug on our side")


def app_with_a_bug(settings: Settings, services: Services) -> FastAPI:
    """The app, plus one route that fails the way a bug would (to see the 500's headers)."""
    app = app_for(settings, services)
    app.add_api_route("/api/v1/test-boom", _boom, include_in_schema=False)
    return app


@pytest.fixture
async def http(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with_a_bug(settings, services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def https(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    secure = settings.model_copy(update={"public_url": "https://salon.example.org"})
    transport = httpx.ASGITransport(app=app_with_a_bug(secure, services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def a_sample_of_every_kind(client: httpx.AsyncClient, services: Services) -> dict[str, httpx.Response]:
    """One response of each kind the server gives, by name; each checked for its status first."""
    ada = await add_member(services, "ada")
    async with services.db.transaction() as conn:
        auth = bearer((await create_session(services, conn, ada, "bearer")).token)
    sample = {
        "api json": (await client.get("/api/v1/me", headers=auth), 200),
        "api created": (await client.post("/api/v1/rooms", json={"title": "Jazz"}, headers=auth), 201),
        "api 401": (await client.get("/api/v1/me"), 401),
        "api 404": (await client.get("/api/v1/rooms/nope", headers=auth), 404),
        "unknown path 404": (await client.get("/nope"), 404),
        "api 405": (await client.delete("/api/v1/rooms", headers=auth), 405),
        "api 422": (await client.post("/api/v1/rooms", json={"title": 5}, headers=auth), 422),
        "api 500": (await client.get("/api/v1/test-boom"), 500),
        "openapi": (await client.get("/api/v1/openapi.json"), 200),
        "page": (await client.get("/welcome"), 200),
        "manifest": (await client.get("/manifest.webmanifest"), 200),
        "static file": (await client.get("/static/app/main.js"), 200),
        "static 404": (await client.get("/static/nope.js"), 404),
        "docs page": (await client.get(DOCS), 200),
        "docs script": (await client.get(f"{DOCS}/swagger-ui-bundle.js"), 200),
        "docs style": (await client.get(f"{DOCS}/swagger-ui.css"), 200),
    }
    for name, (response, status) in sample.items():
        assert response.status_code == status, (name, response.text[:200])
    return {name: response for name, (response, _) in sample.items()}


@pytest.mark.server_fault  # the sample includes a 500 from a route that fails on purpose
async def test_every_kind_of_response_says_nosniff_and_no_hsts_over_http(
    http: httpx.AsyncClient, services: Services
) -> None:
    for name, response in (await a_sample_of_every_kind(http, services)).items():
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], name
        assert "strict-transport-security" not in response.headers, name


@pytest.mark.server_fault  # the sample includes a 500 from a route that fails on purpose
async def test_every_kind_of_response_carries_hsts_when_the_public_url_is_https(
    https: httpx.AsyncClient, services: Services
) -> None:
    for name, response in (await a_sample_of_every_kind(https, services)).items():
        assert response.headers.get_list("strict-transport-security") == [HSTS], name
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], name
    assert HSTS.startswith("max-age=")
    assert int(HSTS.removeprefix("max-age=").split(";")[0]) >= 180 * 86400, "six months at least"


class PageParts(HTMLParser):
    """Every URL a page points at, its scripts, and any inline code or style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href", "action", "data-openapi-url") and v is not None]
        if tag == "script":
            self._in_script = True
            self.scripts.append(values.get("src") or "")
        if tag == "style" or "style" in values or any(k.startswith("on") for k in values):
            self.inline.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


async def test_the_docs_are_served_from_this_origin_under_the_apps_strict_policy(http: httpx.AsyncClient) -> None:
    page = await http.get(DOCS)
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["referrer-policy"] == "no-referrer"

    parts = PageParts()
    parts.feed(page.text)
    assert parts.inline == [], "no inline script, style or handler: the policy would refuse them"
    assert parts.urls, "the page loads its assets"
    for url in parts.urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        assert not urlsplit(url).netloc, url
    assert parts.scripts == [f"{DOCS}/swagger-ui-bundle.js", "/static/api_docs.js"]
    assert f"{DOCS}/swagger-ui.css" in parts.urls
    assert "/api/v1/openapi.json" in parts.urls

    for url in parts.urls:
        asset = await http.get(url)
        assert asset.status_code == 200, url
    assert "javascript" in (await http.get(f"{DOCS}/swagger-ui-bundle.js")).headers["content-type"]
    assert (await http.get(f"{DOCS}/swagger-ui.css")).headers["content-type"].startswith("text/css")
    init = await http.get("/static/api_docs.js")
    assert "javascript" in init.headers["content-type"]
    assert "validatorUrl: null" in init.text, "Swagger UI would otherwise ask a public validator about the document"


async def test_only_the_docs_assets_are_served_from_the_package(http: httpx.AsyncClient) -> None:
    for name in ("redoc.standalone.js", "favicon.png", "../core.py", "..%2Fcore.py", "nope.js"):
        assert (await http.get(f"{DOCS}/{name}")).status_code == 404, name
