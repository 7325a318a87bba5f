"""Store layer: apply Alembic migrations to a database (``salon migrate``, and ``salon serve`` at start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from salon.store.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``, on the engine's own connection (works for SQLite and PostgreSQL)."""

    def _upgrade(connection: Connection) -> None:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def current_tables(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: sorted(inspect(c).get_table_names()))
