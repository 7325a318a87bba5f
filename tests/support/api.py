"""Test helpers for in-process HTTP tests of the API: the app with ready-made services, clients, and checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from io import BytesIO
from typing import Any

import httpx
from fastapi import FastAPI
from PIL import Image

from salon.app.invites import create_operator_invite
from salon.app.services import Services
from salon.app.settings import Settings
from salon.web.app import create_app
from tests.support.accounts import PASSWORD

BASE = "http://127.0.0.1:8000"
API = "/api/v1"


def app_for(settings: Settings, services: Services) -> FastAPI:
    app = create_app(settings, services)
    app.state.services = services  # ASGITransport does not run the lifespan
    return app


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API (paths relative to /api/v1), with its own cookie jar: one per browser."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE + API) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is this refusal, in the one error shape ``{code, message, data}``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "data"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["data"], dict)
    return body


async def signup(
    client: httpx.AsyncClient,
    services: Services,
    username: str,
    *,
    mode: str = "cookie",
    admin: bool = False,
    code: str = "",
) -> dict[str, Any]:
    """Sign up through the API (with an operator invite unless ``code`` is given); the response body."""
    code = code or (await create_operator_invite(services, grants_admin=admin)).code
    body = {"invite_code": code, "username": username, "display_name": username.title(), "password": PASSWORD}
    response = await client.post("/auth/signup", json={**body, "mode": mode})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def member_with_token(
    client: httpx.AsyncClient, services: Services, name: str, *, admin: bool = False
) -> tuple[str, dict[str, str]]:
    """A new member signed up through the API: their id and the headers that authenticate them."""
    body = await signup(client, services, name, mode="bearer", admin=admin)
    return body["user"]["id"], bearer(body["token"])


async def ok(response: httpx.Response, status: int = 200) -> Any:
    """The response's JSON, once its status is the one expected."""
    assert response.status_code == status, response.text
    return response.json()
