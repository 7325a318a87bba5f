"""Observability through the real Janus adapter (:class:`JanusMedia`, against the in-memory Janus of
tests/support/fake_janus.py): ``/metrics`` reports its own event losses (app/media_health.py → web/metrics.py), with
a session queue small enough that one long-poll answer overflows it; an HTTP request's id reaches Janus at the head
of every transaction the request caused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from salon.adapters.janus.media import JanusMedia
from salon.app.services import Services
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.store.database import Database
from salon.store.migrate import upgrade
from salon.web.hub import Hub
from tests.support.api import BASE, app_for
from tests.support.fake_janus import ADMIN_KEY, FakeJanus
from tests.support.people import add_member
from tests.support.services import make_services

URL = "http://127.0.0.1:8088/janus"
DROPPED = "salon_janus_events_dropped_total"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite only: nothing here depends on the engine."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'salon.db'}")
    await upgrade(db)
    yield db
    await db.dispose()


@pytest.fixture
async def janus_media() -> AsyncIterator[tuple[FakeJanus, JanusMedia]]:
    janus = FakeJanus()
    async with (
        janus.client() as client,
        JanusMedia(URL, janus.api_secret, ADMIN_KEY, http_client=client, session_queue=2) as media,
    ):
        yield janus, media


@pytest.fixture
def services(tmp_path: Path, database: Database, janus_media: tuple[FakeJanus, JanusMedia]) -> Services:
    settings = Settings(data_dir=tmp_path / "data", dev=True, secret_key="x" * 40)
    return make_services(settings, database, bus=Hub(settings), media=janus_media[1])


@pytest.fixture
async def site(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = app_for(services.settings, services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


async def dropped(site: httpx.AsyncClient) -> dict[str, float]:
    response = await site.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        sample.labels["queue"]: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == DROPPED and sample.labels["node"] == URL
    }


async def test_events_the_adapter_fell_behind_on_are_counted_per_node(
    site: httpx.AsyncClient, janus_media: tuple[FakeJanus, JanusMedia]
) -> None:
    janus, _media = janus_media
    assert await dropped(site) == {"session": 0, "app": 0}
    [session] = janus.sessions.values()
    for _ in range(6):  # one long-poll answer of 6 events for a queue of 2
        janus.push(session.id, {"janus": "media", "sender": 1, "type": "audio", "receiving": True})
    async with asyncio.timeout(2):
        while (found := await dropped(site))["session"] == 0:  # noqa: ASYNC110 - counted by another task's poll
            await asyncio.sleep(0.01)
    assert found == {"session": 4, "app": 0}


async def test_the_janus_requests_an_http_request_causes_carry_its_request_id(
    site: httpx.AsyncClient, services: Services, janus_media: tuple[FakeJanus, JanusMedia]
) -> None:
    janus, _media = janus_media
    user_id = await add_member(services, "ada")
    async with services.db.transaction() as conn:
        session = await create_session(services, conn, user_id, "bearer")
    before = len(janus.requests)
    headers = {"Authorization": f"Bearer {session.token}", "X-Request-ID": "from-the-proxy-42"}
    response = await site.post("/api/v1/rooms", json={"title": "Late jazz"}, headers=headers)
    assert response.status_code == 201, response.text
    caused = janus.requests[before:]
    # Opening a room: an AudioBridge stage and a Streaming mountpoint, each created by a plugin message.
    assert {body["body"]["request"] for body in caused if body["janus"] == "message"} >= {"create"}
    assert [r["transaction"] for r in caused if not r["transaction"].startswith("from-the-proxy-42/")] == []
