"""Store layer: the database half of backups — a consistent copy out (SQLite's online backup API, or ``pg_dump``),
a copy back in (a file swap, or ``pg_restore``), and which schema revision a database or a copy is at.

SQLite is copied with ``sqlite3.Connection.backup`` rather than as a file: the copy is consistent while ``salon
serve`` writes (WAL), which a file copy is not. PostgreSQL goes through ``pg_dump --format=custom`` and ``pg_restore
--clean --if-exists`` (Debian's postgresql-client). They reach the database the app's URL names with all it says:
host, port, user and password, and the connection options in its query (``?sslmode=require``, asyncpg's ``?ssl=``,
``?host=/run/postgresql`` for a Unix socket, ``sslrootcert``...), each as libpq's own environment variable
(``PGSSLMODE``...). The password travels in ``PGPASSWORD``, never on a command line (``ps`` shows that to every
user); the command line holds only the database's name, quoted as a libpq connection string.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Final

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


# libpq's connection parameters and the environment variables it reads them from (libpq-envars). A URL's query
# option of one of these names reaches pg_dump / pg_restore; asyncpg's and SQLAlchemy's own options (e.g.
# prepared_statement_cache_size) concern no server and are left out.
LIBPQ_ENV: Final = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "channel_binding": "PGCHANNELBINDING",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR",
    "sslsni": "PGSSLSNI",
    "sslcompression": "PGSSLCOMPRESSION",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "requirepeer": "PGREQUIREPEER",
    "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "client_encoding": "PGCLIENTENCODING",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}
# asyncpg's ``ssl`` option: libpq's sslmode names, or a boolean.
_ASYNCPG_SSL: Final = {
    "true": "require",
    "1": "require",
    "yes": "require",
    "false": "disable",
    "0": "disable",
    "no": "disable",
}


def pg_connection(url: str) -> tuple[dict[str, str], str]:
    """The environment variables (on top of this process's) and the ``--dbname`` connection string that make
    pg_dump / pg_restore connect where ``url`` does. The password is only ever in the variables."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        raise ValueError("not a PostgreSQL database URL")
    found: dict[str, str] = {}
    for key, value in parsed.query.items():
        values = [value] if isinstance(value, str) else list(value)  # a repeated key: libpq takes a list
        if key == "ssl" and "sslmode" not in parsed.query:
            found["sslmode"] = _ASYNCPG_SSL.get(values[-1].lower(), values[-1])
        elif key in ("host", "port"):
            found[key] = ",".join(values)
        elif key in LIBPQ_ENV:
            found[key] = values[-1]
    if "host" in found and "port" not in found and parsed.port is None:
        # asyncpg's multi-host form, ?host=h1:5432&host=h2:5433: libpq wants the ports in a list of their own.
        hosts = [_split_host(part) for part in found["host"].split(",")]
        if any(port for _, port in hosts):
            found["host"] = ",".join(host for host, _ in hosts)
            found["port"] = ",".join(port or "5432" for _, port in hosts)
    own: list[tuple[str, str | int | None]] = [("host", parsed.host), ("port", parsed.port), ("user", parsed.username)]
    for part, given in own:
        if given:
            found[part] = str(given)  # the URL's own parts win over its query
    if parsed.password:
        found["password"] = str(parsed.password)
    env = dict(os.environ)
    env.update({LIBPQ_ENV[key]: value for key, value in found.items()})
    return env, _conninfo_dbname(parsed.database)


def _split_host(part: str) -> tuple[str, str]:
    if part.startswith("/") or part.count(":") != 1:  # a socket directory, or a bare IPv6 address
        return part, ""
    host, _, port = part.partition(":")
    return host, port


def _conninfo_dbname(name: str) -> str:
    # Quoted in a connection string of its own: given bare, a name holding "=" would be read as one.
    return "dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _run(args: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise BackupToolError(f"{args[0]} is not installed (Debian: apt install postgresql-client)") from None
    if done.returncode != 0:
        raise BackupToolError(f"{args[0]} failed: {done.stderr.strip() or done.returncode}")


def pg_dump(url: str, dest: Path) -> None:
    env, dbname = pg_connection(url)
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dest}", f"--dbname={dbname}"], env)


def pg_restore(url: str, source: Path) -> None:
    env, dbname = pg_connection(url)
    _run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", f"--dbname={dbname}", str(source)],
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
