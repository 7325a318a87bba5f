"""App layer: the database schema's state for the operator's checks (``salon doctor``), through the store."""

from __future__ import annotations

from salon.app.settings import Settings
from salon.store.schema_state import SchemaState, schema_state

__all__ = ["SchemaState", "database_schema"]


async def database_schema(settings: Settings) -> SchemaState:
    return await schema_state(settings.db_url)
