"""Store layer: where a database's schema stands against the migrations this code ships (``salon doctor``).

Read-only: it opens a connection and reads Alembic's version table, never creates or upgrades anything (a SQLite
file that does not exist is reported as such, not created by connecting to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

from salon.store.database import Database
from salon.store.migrate import alembic_config


@dataclass(frozen=True)
class SchemaState:
    """``exists``: the database is there (a SQLite file may not be yet); ``current``: its revision (None: empty);
    ``head``: the newest revision this code knows; ``known``: whether ``current`` is one of this code's."""

    exists: bool
    current: str | None
    head: str
    known: bool


async def schema_state(url: str) -> SchemaState:
    """The schema's revision against this code's head; raises what the driver raises when the database cannot be
    reached (the caller reports it)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_current_head()
    assert head is not None, "the migrations have one head"
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():  # noqa: ASYNC240 - one stat
        return SchemaState(exists=False, current=None, head=head, known=True)
    db = Database(url)
    try:

        def read(connection: Connection) -> str | None:
            return MigrationContext.configure(connection).get_current_revision()

        async with db.engine.connect() as conn:
            current = await conn.run_sync(read)
    finally:
        await db.dispose()
    known = current is None or _known(script, current)
    return SchemaState(exists=True, current=current, head=head, known=known)


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic's ResolutionError/CommandError: a revision from newer code
        return False
