"""Fixtures for the in-process HTTP tests: the app with ready-made services, and a client with its own cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from salon.app.services import Services
from salon.app.settings import Settings
from tests.support.api import app_for, client_for


@pytest.fixture
def app(settings: Settings, services: Services) -> FastAPI:
    return app_for(settings, services)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c
