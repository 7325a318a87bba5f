"""The throwaway PostgreSQL server starts, serves, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest

from .postgres import PostgresServer, create_database, drop_database, throwaway_postgres

pytestmark = pytest.mark.postgres


def _process_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


async def _fetch(server: PostgresServer, sql: str, database: str | None = None) -> object:
    conn = await asyncpg.connect(server.url("postgresql", database=database))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _check_server(server: PostgresServer) -> None:
    assert await _fetch(server, "SELECT 1") == 1
    assert await _fetch(server, "SELECT current_database()") == "salon_test"
    assert await _fetch(server, "SHOW listen_addresses") == "127.0.0.1"
    assert await _fetch(server, "SHOW fsync") == "off"
    assert await _fetch(server, "SHOW max_connections") == "200"
    assert await _fetch(server, "SHOW server_encoding") == "UTF8"


async def _check_database_roundtrip(server: PostgresServer, name: str) -> None:
    assert await _fetch(server, "SELECT current_database()", database=name) == name
    # drop_database must work even with a session still connected (WITH (FORCE)).
    conn = await asyncpg.connect(server.url("postgresql", database=name))
    try:
        await asyncio.to_thread(drop_database, server, name)
    finally:
        conn.terminate()
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await _fetch(server, "SELECT 1", database=name)


def test_throwaway_postgres_lifecycle() -> None:
    with throwaway_postgres() as server:
        base_dir, pid = server.base_dir, server.pid
        assert base_dir.is_dir()
        assert _process_alive(pid)
        assert server.host == "127.0.0.1"
        assert server.user == "salon"
        assert server.database == "salon_test"
        assert server.url() == (f"postgresql+asyncpg://salon:{server.password}@127.0.0.1:{server.port}/salon_test")
        asyncio.run(_check_server(server))

        create_database(server, "salon_test_extra")
        asyncio.run(_check_database_roundtrip(server, "salon_test_extra"))
        drop_database(server, "salon_test_extra")  # IF EXISTS: idempotent

    assert not _process_alive(pid)
    assert not base_dir.exists()


def _start_then_fail(started: list[PostgresServer]) -> None:
    with throwaway_postgres() as server:
        started.append(server)
        raise RuntimeError("boom")


def test_throwaway_postgres_cleans_up_when_body_raises() -> None:
    started: list[PostgresServer] = []
    with pytest.raises(RuntimeError, match="boom"):
        _start_then_fail(started)
    [server] = started
    assert not _process_alive(server.pid)
    assert not server.base_dir.exists()
