"""The API documents itself: an OpenAPI document and interactive docs, with the one error shape described."""

from __future__ import annotations

import httpx

from salon.app.services import Services
from salon.app.settings import Settings
from tests.support.api import app_for


async def test_openapi_and_interactive_docs_are_served(settings: Settings, services: Services) -> None:
    app = app_for(settings, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
        spec = (await http.get("/api/v1/openapi.json")).json()
        docs = await http.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    paths = spec["paths"]
    for path in ("/api/v1/rooms", "/api/v1/rooms/{room_id}/hand/raise", "/api/v1/auth/signup", "/api/v1/invites"):
        assert path in paths
    raise_hand = paths["/api/v1/rooms/{room_id}/hand/raise"]["post"]
    assert raise_hand["summary"] == "Raise your hand"
    error = raise_hand["responses"]["4XX"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorOut"}
    assert spec["components"]["schemas"]["ErrorOut"]["required"] == ["code", "message", "data"]
    assert spec["components"]["schemas"]["SnapshotOut"]["required"] == [
        "room",
        "seq",
        "stage",
        "audience",
        "listener_count",
    ]
