"""The operator's view of a running instance: ``/healthz`` and ``/readyz``, ``/metrics`` (parsed with the Prometheus
text parser, its counters moving with real traffic, access refused outside the allowed networks or without the
token) and the request id (echoed in ``X-Request-ID``, carried into JSON log lines, a WebSocket op's media call's
included). In-process through httpx, plus one uvicorn server in the test's loop for the WebSocket traffic."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from salon.adapters.null_media import NullMedia
from salon.app.fakes import FakeMedia
from salon.app.ports import Jsep
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.cli.logs import JsonFormatter
from salon.domain.rooms import RoomType
from salon.store.database import Database
from salon.store.migrate import upgrade
from salon.web.hub import Hub
from tests.support.api import BASE, app_for, assert_error
from tests.support.live_server import serve
from tests.support.people import add_member
from tests.support.services import make_services

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite only: nothing here depends on the engine, and the engines have their own tests."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'salon.db'}")
    await upgrade(db)
    yield db
    await db.dispose()


def settings_with(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", dev=True, secret_key="x" * 40, **changes)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_with(tmp_path, ws_messages_per_second=5)


@pytest.fixture
def services(database: Database, settings: Settings) -> Services:
    return make_services(settings, database, bus=Hub(settings))


@pytest.fixture
async def site(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client at the site's root (the operator's endpoints are outside /api/v1)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        yield client


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and labels (the parser rejects anything not in the format)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


# --- health ----------------------------------------------------------------------------------------------------------


async def test_healthz_answers_without_a_session(site: httpx.AsyncClient) -> None:
    response = await site.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_is_ready_when_the_database_and_the_media_plane_answer(site: httpx.AsyncClient) -> None:
    response = await site.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}


async def test_readyz_names_a_media_plane_that_is_down(site: httpx.AsyncClient, services: Services) -> None:
    assert isinstance(services.media, FakeMedia)
    services.media.up = False
    body = assert_error(await site.get("/readyz"), 503, "not_ready")
    assert set(body["data"]["checks"]) == {"media"}
    assert "Janus" in body["data"]["checks"]["media"]
    services.media.up = True
    assert (await site.get("/readyz")).status_code == 200


async def test_readyz_is_not_ready_without_a_media_plane(settings: Settings, database: Database) -> None:
    app = app_for(settings, make_services(settings, database, bus=Hub(settings), media=NullMedia()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        body = assert_error(await client.get("/readyz"), 503, "not_ready")
    assert body["data"]["checks"] == {"media": "this process has no media plane"}


async def test_readyz_names_a_database_that_does_not_answer(settings: Settings) -> None:
    gone = Database("postgresql+asyncpg://salon:salon@127.0.0.1:1/salon")  # a database server that is down
    app = app_for(settings, make_services(settings, gone, bus=Hub(settings)))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
            body = assert_error(await client.get("/readyz"), 503, "not_ready")
            assert (await client.get("/healthz")).status_code == 200, "liveness does not touch the database"
    finally:
        await gone.dispose()
    assert set(body["data"]["checks"]) == {"database"}
    assert body["data"]["checks"]["database"].startswith("the database does not answer")


async def test_the_operators_endpoints_are_not_in_the_api_document(site: httpx.AsyncClient) -> None:
    paths = (await site.get("/api/v1/openapi.json")).json()["paths"]
    assert not {p for p in paths if p.rstrip("/").rsplit("/", 1)[-1] in {"healthz", "readyz", "metrics"}}


# --- metrics ---------------------------------------------------------------------------------------------------------


async def test_requests_are_counted_by_route_template_and_status(site: httpx.AsyncClient) -> None:
    for room_id in ("r1", "r2", "r3"):
        assert (await site.get(f"/api/v1/rooms/{room_id}")).status_code == 401
    assert (await site.get("/no/such/page/at/all")).status_code == 404
    found = await scrape(site)
    route = "/api/v1/rooms/{room_id}"
    assert value(found, "salon_http_requests_total", method="GET", route=route, status="401") == 3
    assert not [k for k in found if ("route", "/api/v1/rooms/r1") in k[1]], "never the raw path"
    assert value(found, "salon_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert value(found, "salon_http_request_duration_seconds_count", method="GET", route=route) == 3
    assert value(found, "salon_rooms_live") == 0
    assert value(found, "salon_janus_up", node="fake") == 1
    assert value(found, "salon_websocket_connections") == 0
    # The scrape itself is counted once it has answered: the next scrape sees it.
    again = await scrape(site)
    assert value(again, "salon_http_requests_total", method="GET", route="/metrics", status="200") == 1


async def test_a_rate_limit_refusal_is_counted(site: httpx.AsyncClient) -> None:
    before = value(await scrape(site), "salon_rate_limit_refusals_total", limit="waitlist")
    statuses = [
        (await site.post("/api/v1/waitlist", json={"name": "Ann", "contact": "ann@example.org"})).status_code
        for _ in range(21)
    ]
    assert statuses.count(429) == 1
    after = value(await scrape(site), "salon_rate_limit_refusals_total", limit="waitlist")
    assert after - before == 1


async def test_metrics_are_refused_outside_the_allowed_networks(tmp_path: Path, database: Database) -> None:
    settings = settings_with(tmp_path, trusted_proxies="127.0.0.1", metrics_allow="10.0.0.0/8")
    app = app_for(settings, make_services(settings, database, bus=Hub(settings)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        for forwarded in ("203.0.113.9", "10.0.0.7, 203.0.113.9"):  # the client is the last untrusted hop
            response = await client.get("/metrics", headers={"X-Forwarded-For": forwarded})
            assert_error(response, 403, "not_allowed")
        assert_error(await client.get("/metrics"), 403, "not_allowed")  # the proxy itself is not in 10/8
        await scrape(client, **{"X-Forwarded-For": "10.0.0.7"})


async def test_metrics_ask_for_the_token_when_one_is_set(tmp_path: Path, database: Database) -> None:
    settings = settings_with(tmp_path, metrics_token="s3cret-scrape-token")
    app = app_for(settings, make_services(settings, database, bus=Hub(settings)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-scrape-token"}):
            assert_error(await client.get("/metrics", headers=headers), 403, "not_allowed")
        await scrape(client, Authorization="Bearer s3cret-scrape-token")


def test_the_allowed_networks_setting_is_checked(tmp_path: Path) -> None:
    assert [str(n) for n in settings_with(tmp_path).metrics_allow] == ["127.0.0.0/8", "::1/128"]
    with pytest.raises(ValueError, match="SALON_METRICS_ALLOW"):
        settings_with(tmp_path, metrics_allow="10.0.0.5/8")


# --- request ids and JSON logs ---------------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the root logger writes meanwhile, through the JSON formatter ``salon serve`` uses."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in ("salon.access", "tests.logging_media")]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def log_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_a_request_id_is_kept_or_made_and_carried_into_json_logs(
    tmp_path: Path, database: Database, json_log: io.StringIO
) -> None:
    settings = settings_with(tmp_path, log_format="json")
    app = app_for(settings, make_services(settings, database, bus=Hub(settings)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        kept = await client.get("/healthz", headers={"X-Request-ID": "lb-4711.a"})
        replaced = await client.get("/healthz", headers={"X-Request-ID": "two words;" + "x" * 70})
        made = await client.get("/api/v1/rooms/abc")
    assert kept.headers["x-request-id"] == "lb-4711.a"
    assert re.fullmatch("[0-9a-f]{16}", replaced.headers["x-request-id"]), "not kept: made anew"
    assert re.fullmatch("[0-9a-f]{16}", made.headers["x-request-id"])
    access = [line for line in log_lines(json_log) if line["logger"] == "salon.access"]
    assert [line["request_id"] for line in access] == [r.headers["x-request-id"] for r in (kept, replaced, made)]
    assert access[2]["message"].startswith("GET /api/v1/rooms/{room_id} 401 ")
    assert {"time", "level", "logger", "message", "request_id"} <= set(access[0])


@pytest.mark.server_fault
async def test_a_server_fault_is_logged_with_its_request_id(app: FastAPI, json_log: io.StringIO) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug on our side")

    app.add_api_route("/broken-on-purpose", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # the server answers, then re-raises
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        response = await client.get("/broken-on-purpose", headers={"X-Request-ID": "fault-1"})
        assert_error(response, 500, "internal")
        found = await scrape(client)
    (error,) = [line for line in log_lines(json_log) if line["level"] == "ERROR"]
    assert error["request_id"] == "fault-1"
    assert "RuntimeError: a bug on our side" in error["exception"]
    labels = {"method": "GET", "route": "/broken-on-purpose", "status": "500"}
    assert value(found, "salon_http_requests_total", **labels) == 1


@pytest.mark.server_fault
async def test_a_server_fault_answers_with_the_request_id_of_its_log_lines(
    tmp_path: Path, database: Database, json_log: io.StringIO
) -> None:
    settings = settings_with(tmp_path, log_format="json", public_url="https://salon.example")
    app = app_for(settings, make_services(settings, database, bus=Hub(settings)))

    async def broken() -> None:
        raise RuntimeError("another bug on our side")

    app.add_api_route("/broken-on-purpose", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        response = await client.get("/broken-on-purpose")  # no id sent: the server makes one
    assert_error(response, 500, "internal")
    made = response.headers["x-request-id"]
    assert re.fullmatch("[0-9a-f]{16}", made)
    lines = log_lines(json_log)
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    (access,) = [line for line in lines if line["logger"] == "salon.access"]
    assert error["request_id"] == access["request_id"] == made
    assert access["message"].startswith("GET /broken-on-purpose 500 ")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["strict-transport-security"].startswith("max-age=")


# --- over a real socket: WebSocket connections, events fanned out, a media call's log ----------------------------


async def member(services: Services, name: str) -> tuple[str, dict[str, str]]:
    """A member and the bearer header of a session of theirs."""
    user_id = await add_member(services, name)
    async with services.db.transaction() as conn:
        session = await create_session(services, conn, user_id, "bearer")
    return user_id, {"Authorization": f"Bearer {session.token}"}


class LoggingMedia(FakeMedia):
    """FakeMedia that logs in its media call, as the Janus adapter does."""

    async def open_listen(self, room_id: str, user_id: str) -> Jsep:
        logging.getLogger("tests.logging_media").info("opening a listen connection in %s", room_id)
        return await super().open_listen(room_id, user_id)


async def test_websocket_traffic_moves_the_metrics_and_ops_carry_request_ids(
    settings: Settings, database: Database, json_log: io.StringIO
) -> None:
    services = make_services(settings, database, bus=Hub(settings), media=LoggingMedia())
    mod, mod_auth = await member(services, "mod")
    _bob, bob_auth = await member(services, "bob")
    room_id = (await create_room(services, mod, NewRoom("Live", "", [], RoomType.OPEN)))["room"]["id"]
    async with serve(services) as port:
        url = f"ws://127.0.0.1:{port}/api/v1/ws"
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as site,
            connect(url, additional_headers=mod_auth, proxy=None) as mod_ws,
            connect(url, additional_headers={**bob_auth, "X-Request-ID": "ws-bob"}, proxy=None) as bob_ws,
        ):
            before = await scrape(site)
            await mod_ws.recv()  # hello
            await bob_ws.recv()
            await mod_ws.send(json.dumps({"op": "subscribe", "ref": 1, "data": {"room_id": room_id}}))
            await until(mod_ws, lambda f: f.get("type") == "reply")
            await bob_ws.send(json.dumps({"op": "join", "ref": 1, "data": {"room_id": room_id}}))
            await until(bob_ws, lambda f: f.get("type") == "reply")
            await until(mod_ws, lambda f: f.get("type") == "event")  # bob's joining, fanned out to mod
            await mod_ws.send(json.dumps({"op": "hallway_watch", "ref": 2, "data": {}}))
            await until(mod_ws, lambda f: f.get("ref") == 2)
            await bob_ws.send(json.dumps({"op": "media_listen", "ref": 2, "data": {"room_id": room_id}}))
            assert (await until(bob_ws, lambda f: f.get("ref") == 2))["type"] == "reply"
            for ref in range(3, 3 + settings.ws_messages_per_second + 2):  # past the per-second limit
                await bob_ws.send(json.dumps({"op": "ping", "ref": ref, "data": {}}))
            await until(bob_ws, lambda f: f.get("type") == "error")
            after = await scrape(site)

    assert value(before, "salon_websocket_connections") == 2
    assert value(after, "salon_websocket_connections") == 2
    assert value(after, "salon_rooms_live") == 1
    published = "salon_room_events_published_total"
    assert value(after, published) - value(before, published) >= 1
    fanned = "salon_room_event_frames_fanned_out_total"
    assert value(after, fanned) - value(before, fanned) >= 1
    assert value(after, "salon_rate_limit_refusals_total", limit="ws_message") >= 1
    assert value(after, "salon_hallway_watchers") == 1  # the moderator's hallway (the served app runs no ticker)
    assert after[("salon_hallway_frames_total", frozenset())] == 0
    media_lines = [line for line in log_lines(json_log) if line["logger"] == "tests.logging_media"]
    assert [line["request_id"] for line in media_lines] == ["ws-bob-2"]  # bob's second op on that connection


async def until(ws: Any, wanted: Any) -> dict[str, Any]:
    """The next frame ``wanted`` accepts (others are skipped)."""
    async with asyncio.timeout(5):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if wanted(frame):
                return frame
