"""Shared fixtures: a migrated database on each engine, and the wiring with fakes for clock, bus and media.

``SALON_TEST_BACKENDS`` (default ``sqlite,postgres``) picks the engines the database-backed tests run on. There is
no silent skip: when PostgreSQL is asked for and cannot start, the tests that need it fail with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from salon.app.fakes import FakeClock
from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from salon.store.migrate import upgrade
from tests.support.postgres import PostgresServer, create_database, drop_database, throwaway_postgres
from tests.support.services import make_services

BACKENDS = [b.strip() for b in os.environ.get("SALON_TEST_BACKENDS", "sqlite,postgres").split(",") if b.strip()]
_counter = itertools.count()
TEMPLATE = "salon_template"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with throwaway_postgres() as server:
        create_database(server, TEMPLATE)
        db = Database(server.url(database=TEMPLATE))

        async def _migrate() -> None:
            await upgrade(db)
            await db.dispose()

        asyncio.run(_migrate())
        yield server


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'salon.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t{os.getpid()}_{next(_counter)}"
    create_database(server, name, template=TEMPLATE)
    yield server.url(database=name)
    drop_database(server, name)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    if db.is_sqlite:
        await upgrade(db)
    yield db
    await db.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", dev=True, secret_key="x" * 40, audience_batch_threshold=5, ws_queue_size=64
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(database: Database, settings: Settings, clock: FakeClock) -> Services:
    return make_services(settings, database, clock=clock)
