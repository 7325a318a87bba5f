"""Fixtures for the in-process HTTP tests: the app with ready-made services, and a client with its own cookies.

Every test here also runs under a log check: a client, however hostile, must never make the server log an ERROR or a
traceback (a client mistake is an error *answer*, never a server fault). A test that breaks the server on purpose
says so with ``@pytest.mark.server_fault``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from salon.app.services import Services
from salon.app.settings import Settings
from tests.support.api import app_for, client_for
from tests.support.logcheck import server_faults_logged


@pytest.fixture(autouse=True)
def no_server_fault_logged(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test when anything logged an ERROR or a traceback while it ran (fixtures included)."""
    with server_faults_logged() as faults:
        yield
    if faults and request.node.get_closest_marker("server_fault") is None:
        shown = "\n".join(faults[:3]) + (f"\n... and {len(faults) - 3} more" if len(faults) > 3 else "")
        pytest.fail(f"the server logged {len(faults)} fault(s) a client could cause:\n{shown}", pytrace=False)


@pytest.fixture
def app(settings: Settings, services: Services) -> FastAPI:
    return app_for(settings, services)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c
