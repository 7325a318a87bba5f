"""Shared fixtures: a migrated database on each engine, and the wiring with fakes for clock, bus and media.

``SALON_TEST_BACKENDS`` (default ``sqlite,postgres``) picks the engines the database-backed tests run on. There is
no silent skip: when PostgreSQL is asked for and cannot start, the tests that need it fail with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from salon.app import passwords
from salon.app.fakes import FakeClock
from salon.app.services import Services
from salon.app.settings import Settings
from salon.store.database import Database
from salon.store.migrate import upgrade
from tests.support.postgres import PostgresServer, create_database, drop_database, throwaway_postgres
from tests.support.services import make_services

# The suites that run in-process (no engine, port or timing of their own): `make test` runs every test marked
# ``parallel`` on two pytest-xdist workers, the rest one at a time. Other modules opt in with
# ``pytestmark = pytest.mark.parallel``.
IN_PROCESS = [Path(__file__).parent / name for name in ("unit", "api", "cli")]
BACKENDS = [b.strip() for b in os.environ.get("SALON_TEST_BACKENDS", "sqlite,postgres").split(",") if b.strip()]
_counter = itertools.count()
TEMPLATE = "salon_template"
SQLITE_PREFIX = "sqlite+aiosqlite:///"


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.path.is_relative_to(suite) for suite in IN_PROCESS):
            item.add_marker(pytest.mark.parallel)


# argon2id at its production cost (19 MiB, 2 passes: ~45 ms a hash or verification, more on a loaded machine) is
# paid at every sign-up, log-in and password change a test makes in-process; at argon2's least cost it is ~0.1 ms.
# The tests of the hashing itself (its parameters, the upgrade of an old hash, the dummy verification's timing) say
# ``@pytest.mark.real_password_hashing``. A server a test starts as its own process hashes at the real cost.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.node.get_closest_marker("real_password_hashing") is None:
        monkeypatch.setattr(passwords, "_hasher", CHEAP_HASHER)
    passwords._dummy_hash.cache_clear()  # made with the hasher of the test that first needed it
    yield
    passwords._dummy_hash.cache_clear()


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run: each test copies it (milliseconds) instead of migrating (~0.2 s)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "salon.db"
    db = Database(f"sqlite+aiosqlite:///{path}")

    async def _migrate() -> None:
        await upgrade(db)
        await db.dispose()  # the last connection closing checkpoints the WAL into the file

    asyncio.run(_migrate())
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        request.getfixturevalue("sqlite_template")  # made here, outside any running event loop
        yield f"{SQLITE_PREFIX}{tmp_path / 'salon.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t{os.getpid()}_{next(_counter)}"
    create_database(server, name, template=TEMPLATE)
    yield server.url(database=name)
    drop_database(server, name)


@pytest.fixture
async def database(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    if db_url.startswith(SQLITE_PREFIX):
        shutil.copyfile(request.getfixturevalue("sqlite_template"), db_url.removeprefix(SQLITE_PREFIX))
    db = Database(db_url)
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
