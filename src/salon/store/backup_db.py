"""Store layer: the database half of backups — a consistent copy out (SQLite's online backup API, or ``pg_dump``),
a copy back in (a file swap, or ``pg_restore``), and which schema revision a database or a copy is at.

SQLite is copied with ``sqlite3.Connection.backup`` rather than as a file: the copy is consistent while ``salon
serve`` writes (WAL), which a file copy is not. PostgreSQL goes through ``pg_dump --format=custom`` and ``pg_restore
--clean --if-exists`` (Debian's postgresql-client); the password travels in ``PGPASSWORD``, never on a command line.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection, make_url

from salon.store.database import Database
from salon.store.migrate import alembic_config

PAGES_PER_STEP = 4096  # SQLite pages copied between progress reports (and lock releases)
SQLITE_EXTRAS = ("-wal", "-shm", "-journal")  # files that belong to a SQLite database and move with it


class BackupToolError(RuntimeError):
    """pg_dump or pg_restore failed (or is missing); the message holds what it said."""


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {rev.revision for rev in script.walk_revisions()}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None  # the package ships its migrations
    return head


async def current_revision(db: Database) -> str | None:
    """The revision the database is at; None for a database no migration has touched (a fresh one)."""

    def _read(connection: Connection) -> str | None:
        if "alembic_version" not in inspect(connection).get_table_names():
            return None
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_read)


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        raise ValueError(f"not a SQLite database file: {parsed.render_as_string(hide_password=True)}")
    return Path(parsed.database)


def snapshot_sqlite(source: Path, dest: Path, progress: Callable[[int, int], None]) -> None:
    """Copy a live SQLite database page by page; ``progress(copied, total)`` after each step."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out, pages=PAGES_PER_STEP, progress=lambda _s, left, total: progress(total - left, total))
        finally:
            out.close()
    finally:
        src.close()


def sqlite_revision(path: Path) -> str | None:
    """The revision of a SQLite file read directly (a snapshot, before it becomes the database)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()
        if found is None:
            return None
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"not a SQLite database: {exc}") from None
    finally:
        con.close()


def move_sqlite_aside(path: Path, suffix: str) -> list[Path]:
    """Rename the database and its WAL/SHM files (a WAL left behind would be replayed into the restored file)."""
    moved: list[Path] = []
    for extra in ("", *SQLITE_EXTRAS):
        part = path.with_name(path.name + extra)
        if part.exists():
            target = part.with_name(part.name + suffix)
            part.rename(target)
            moved.append(target)
    return moved


def _pg_env(url: str) -> tuple[dict[str, str], str]:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        raise ValueError("not a PostgreSQL database URL")
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", None if parsed.port is None else str(parsed.port)),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
    ):
        if value:
            env[var] = str(value)
    return env, parsed.database


def _run(args: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise BackupToolError(f"{args[0]} is not installed (Debian: apt install postgresql-client)") from None
    if done.returncode != 0:
        raise BackupToolError(f"{args[0]} failed: {done.stderr.strip() or done.returncode}")


def pg_dump(url: str, dest: Path) -> None:
    env, database = _pg_env(url)
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dest}", database], env)


def pg_restore(url: str, source: Path) -> None:
    env, database = _pg_env(url)
    _run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", f"--dbname={database}", str(source)],
        env,
    )


async def drop_all_tables(db: Database) -> None:
    """Empty a PostgreSQL database before ``pg_restore``: tables a newer schema added would otherwise stay and make
    the migrations after the restore fail (the caller has dumped the database first)."""

    def _drop(connection: Connection) -> None:
        meta = MetaData()
        meta.reflect(connection)
        meta.drop_all(connection)

    async with db.engine.begin() as conn:
        await conn.run_sync(_drop)
