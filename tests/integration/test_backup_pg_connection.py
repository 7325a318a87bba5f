"""pg_dump and pg_restore connect where the app's PostgreSQL URL says, with all it says (store/backup_db.py): its
query options (``sslmode``, asyncpg's ``ssl``, ``host``/``port`` in the query, a Unix socket folder) and a database
name libpq could misread, against the throwaway PostgreSQL server of tests/support/postgres.py; the password is never
on a command line. That server has no TLS: an option requiring it must make the dump fail, which shows it arrived."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from salon.store.backup_db import BackupToolError, pg_dump, pg_restore
from tests.conftest import TEMPLATE
from tests.support.postgres import PostgresServer, create_database, drop_database

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers

# A name with a quote and an "=": given as it is to --dbname, libpq would read it as a connection string.
ODD_NAME = "salon b'up=copy"


@pytest.fixture
def argv_seen(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command line backup_db runs (the real run still happens)."""
    seen: list[list[str]] = []
    real_run = subprocess.run

    def recording(args: list[str], *rest: Any, **kw: Any) -> Any:
        seen.append(list(args))
        return real_run(args, *rest, **kw)

    monkeypatch.setattr(subprocess, "run", recording)  # backup_db calls subprocess.run through the module
    return seen


@pytest.fixture
def databases(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A migrated database with an odd name to dump, and an empty one to restore into."""
    source, target = ODD_NAME, "salon_restore_target"
    create_database(postgres_server, source, template=TEMPLATE)
    create_database(postgres_server, target)
    yield source, target
    drop_database(postgres_server, source)
    drop_database(postgres_server, target)


def url(pg: PostgresServer, database: str, query: str = "", *, netloc: str | None = None) -> str:
    where = f"@{pg.host}:{pg.port}" if netloc is None else netloc
    credentials = f"{quote(pg.user, safe='')}:{quote(pg.password, safe='')}"
    return f"postgresql+asyncpg://{credentials}{where}/{quote(database, safe='')}{query}"


def tables_of(pg: PostgresServer, database: str) -> set[str]:
    done = subprocess.run(
        [str(pg.bindir / "psql"), "-At", "-c", "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"],
        env={
            "PGHOST": pg.host,
            "PGPORT": str(pg.port),
            "PGUSER": pg.user,
            "PGPASSWORD": pg.password,
            "PGDATABASE": database,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.split())


def test_a_dump_and_restore_with_query_options_and_an_odd_name_keep_the_password_off_the_command_line(
    postgres_server: PostgresServer, databases: tuple[str, str], argv_seen: list[list[str]], tmp_path: Path
) -> None:
    source, target = databases
    dump = tmp_path / "salon.pgdump"
    options = "?sslmode=disable&application_name=salon-backup&prepared_statement_cache_size=0"
    pg_dump(url(postgres_server, source, options), dump)
    pg_restore(url(postgres_server, target, "?ssl=false"), dump)
    assert [args[0] for args in argv_seen] == ["pg_dump", "pg_restore"]
    for args in argv_seen:
        assert not any(postgres_server.password in arg for arg in args), args
    assert "alembic_version" in tables_of(postgres_server, target)
    assert tables_of(postgres_server, target) == tables_of(postgres_server, source)


@pytest.mark.parametrize("query", ["?sslmode=require", "?ssl=require", "?ssl=true", "?sslmode=verify-full"])
def test_an_ssl_option_reaches_pg_dump(
    postgres_server: PostgresServer, databases: tuple[str, str], tmp_path: Path, query: str
) -> None:
    """The server speaks no TLS: pg_dump refusing to go on without it is the proof that it was asked for it."""
    with pytest.raises(BackupToolError, match="SSL"):
        pg_dump(url(postgres_server, databases[0], query), tmp_path / "salon.pgdump")


@pytest.mark.parametrize("where", ["tcp", "socket", "host:port"])
def test_the_host_and_port_may_come_in_the_query(
    postgres_server: PostgresServer, databases: tuple[str, str], tmp_path: Path, where: str
) -> None:
    pg = postgres_server
    query = {
        "tcp": f"?host={pg.host}&port={pg.port}",
        # The server's Unix socket is in its own folder (tests/support/postgres.py): libpq's ?host=/folder.
        "socket": f"?host={quote(str(pg.base_dir), safe='')}&port={pg.port}",
        "host:port": f"?host={pg.host}:{pg.port}",  # asyncpg's multi-host form
    }[where]
    dump = tmp_path / "salon.pgdump"
    pg_dump(url(pg, databases[0], query, netloc="@"), dump)
    assert dump.stat().st_size > 0
