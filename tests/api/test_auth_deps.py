"""The auth dependencies the other routers build on: optional and required actors, per-request caching, CSRF."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from salon.app.services import Services
from salon.app.sessions import AuthSession
from salon.web import auth
from salon.web.auth import CurrentActor, OptionalActor
from salon.web.errors import install_error_handlers
from tests.support.accounts import sign_up


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.state.services = services

    @app.get("/both")
    async def both(optional: OptionalActor, actor: CurrentActor) -> dict[str, Any]:
        return {"optional": optional.user_id if optional else None, "actor": actor.user_id}

    @app.api_route("/maybe", methods=["GET", "POST"])
    async def maybe(optional: OptionalActor) -> dict[str, Any]:
        return {"user_id": optional.user_id if optional else None}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as c:
        yield c


async def test_the_session_is_resolved_once_per_request(
    client: httpx.AsyncClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = await sign_up(services, "ada", kind="bearer")
    calls: list[str] = []
    real = auth.authenticate_session  # type: ignore[attr-defined]  # the name web.auth calls, patched below

    async def counting(services: Services, token: str, kind: Any = None) -> AuthSession | None:
        calls.append(token)
        return await real(services, token, kind)

    monkeypatch.setattr(auth, "authenticate_session", counting)
    response = await client.get("/both", headers={"Authorization": f"Bearer {signed.session.token}"})
    assert response.json() == {"optional": signed.user.id, "actor": signed.user.id}
    assert calls == [signed.session.token]


async def test_optional_actor(client: httpx.AsyncClient, services: Services) -> None:
    assert (await client.get("/maybe")).json() == {"user_id": None}
    assert (await client.get("/maybe", headers={"Authorization": "Bearer nope"})).json() == {"user_id": None}
    signed = await sign_up(services, "ada", kind="cookie")
    client.cookies.set("salon_session", signed.session.token)
    assert (await client.get("/maybe")).json() == {"user_id": signed.user.id}
    # A cookie session on an unsafe method is CSRF-checked even where login is optional.
    response = await client.post("/maybe")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    ok = await client.post("/maybe", headers={"X-CSRF-Token": signed.session.csrf_token})
    assert ok.json() == {"user_id": signed.user.id}
