"""The client's address through the real app: X-Forwarded-For counts only from a configured proxy. The
forged-header tests run a real uvicorn server, configured as ``salon serve`` configures it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from salon.app.fakes import FakeClock
from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from tests.support.api import API, app_for, assert_error, client_for
from tests.support.live_server import serve
from tests.support.services import make_services

WAITLIST_PER_HOUR = 20


@asynccontextmanager
async def live_client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app served by uvicorn on 127.0.0.1, as ``salon serve`` runs it."""
    async with serve(services) as port:
        base = f"http://127.0.0.1:{port}{API}"
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as client:
            yield client


async def test_a_forged_forwarded_for_does_not_change_the_waitlist_address(services: Services) -> None:
    async with live_client(services) as client:
        for i in range(WAITLIST_PER_HOUR):
            forged = {"X-Forwarded-For": f"198.51.100.{i}"}
            body = {"name": f"N{i}", "contact": f"n{i}@example.org"}
            assert (await client.post("/waitlist", json=body, headers=forged)).status_code == 202
        forged = {"X-Forwarded-For": "198.51.100.200"}
        body = {"name": "Last", "contact": "last@example.org"}
        assert_error(await client.post("/waitlist", json=body, headers=forged), 429, "rate_limited")


async def test_behind_a_trusted_proxy_each_client_has_its_own_buckets(
    database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    # The in-process transport's peer is 127.0.0.1: here, the proxy.
    settings = Settings.model_validate(
        {"data_dir": tmp_path / "data", "dev": True, "secret_key": "x" * 40, "trusted_proxies": "127.0.0.1"}
    )
    services = make_services(settings, database, clock=clock)
    async with client_for(app_for(settings, services)) as client:
        one = {"X-Forwarded-For": "203.0.113.1"}
        two = {"X-Forwarded-For": "203.0.113.2"}
        for i in range(WAITLIST_PER_HOUR):
            body = {"name": f"N{i}", "contact": f"n{i}@example.org"}
            assert (await client.post("/waitlist", json=body, headers=one)).status_code == 202
        last = {"name": "Last", "contact": "last@example.org"}
        assert_error(await client.post("/waitlist", json=last, headers=one), 429, "rate_limited")
        assert (await client.post("/waitlist", json=last, headers=two)).status_code == 202
