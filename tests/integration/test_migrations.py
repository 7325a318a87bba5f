"""The migrations build exactly the schema ``store/tables.py`` declares, on every engine: a table or index
added to one and not the other fails here."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from salon.store.database import Database
from salon.store.tables import metadata

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def test_migrated_schema_matches_the_declared_tables(database: Database) -> None:
    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []
