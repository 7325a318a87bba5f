"""``salon backup`` / ``salon restore`` and the backup taken before migrations (SQLite, and PostgreSQL through the
throwaway server of tests/support/postgres.py via the ``db_url`` fixture)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from typer.testing import CliRunner

from salon.app import avatars
from salon.app.backups import MANIFEST, SQLITE_MEMBER, create_backup
from salon.app.datadir_lock import lock_data_dir
from salon.app.invites import create_invite
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.app.settings import Settings
from salon.cli.main import app
from salon.domain.rooms import RoomType
from salon.store import backup_db, tables
from salon.store.database import Database
from salon.store.migrate import upgrade
from salon.web.app import build_services
from tests.support.accounts import member
from tests.support.api import png_bytes

runner = CliRunner()
SECRET = "k" * 40
SNAPSHOT_TABLES = (tables.users, tables.rooms, tables.invites)


def settings_for(data_dir: Path, db_url: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=db_url, secret_key=SECRET)


def cli(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args), env={"SALON_SECRET_KEY": SECRET})
    assert result.exit_code == code, result.output
    return result


def with_services(settings: Settings, work: Any) -> Any:
    async def main() -> Any:
        services = await build_services(settings)
        try:
            return await work(services)
        finally:
            await services.db.dispose()

    return asyncio.run(main())


async def seed(services: Services) -> None:
    ada = await member(services, "ada")
    bob = await member(services, "bob", invited_by=ada)
    await avatars.set_avatar(services, ada, png_bytes())
    await avatars.set_avatar(services, bob, png_bytes((32, 32)))
    await create_invite(services, ada)  # one left unused
    await create_room(services, ada.user_id, NewRoom("Late jazz", "", ["jazz"], RoomType.OPEN))


async def state(services: Services) -> dict[str, Any]:
    async with services.db.read() as conn:
        rows: dict[str, Any] = {
            t.name: sorted(map(tuple, (await conn.execute(select(t))).all()), key=repr) for t in SNAPSHOT_TABLES
        }
    folder = avatars.avatar_dir(services.settings)
    rows["avatar_files"] = {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}
    return rows


def where(result: Any) -> Path:
    return Path(result.stdout.strip().splitlines()[-1])


def test_backup_wipe_restore_gives_back_members_rooms_invites_and_avatars(tmp_path: Path, db_url: str) -> None:
    data_dir = tmp_path / "data"
    settings = settings_for(data_dir, db_url)
    with_services(settings, seed)
    before = with_services(settings, state)
    assert len(before["users"]) == 2
    assert len(before["rooms"]) == 1
    assert len(before["invites"]) >= 3
    assert len(before["avatar_files"]) == 2

    made = cli("backup", "--data-dir", str(data_dir), "--database-url", db_url)
    archive = where(made)
    assert archive.parent == data_dir / "backups"
    assert archive.name.startswith("salon-backup-")
    assert "avatars: 2 files" in made.output
    assert archive.stat().st_mode & 0o077 == 0  # password hashes inside: the owner's eyes only
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
    assert manifest["alembic_revision"] == backup_db.head_revision()
    assert manifest["database"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
    assert {f["name"].split("/")[0] for f in manifest["files"]} == {"database", "avatars"}

    async def wipe(services: Services) -> None:  # everything gone, and a newcomer who was not in the backup
        async with services.db.transaction() as conn:
            for table in (tables.participants, tables.rooms, tables.sessions, tables.invites, tables.users):
                await conn.execute(table.delete())
        await member(services, "zed")

    with_services(settings, wipe)
    for path in avatars.avatar_dir(settings).iterdir():
        path.unlink()
    assert with_services(settings, state) != before

    restored = cli("restore", str(archive), "--yes", "--data-dir", str(data_dir), "--database-url", db_url)
    assert "schema up to date" in restored.stdout
    assert with_services(settings, state) == before
    # SQLite's file (here beside the data folder) is renamed; PostgreSQL's is dumped into the data folder first.
    kept = [p for p in (*data_dir.iterdir(), *tmp_path.iterdir()) if ".before-restore-" in p.name]
    assert sorted(p.name.split(".before-restore-")[0] for p in kept) == (
        ["avatars", "salon.db"] if db_url.startswith("sqlite") else ["avatars", "salon.pgdump"]
    )
    assert all(f"kept the previous data as {p}" in restored.output for p in kept)


def test_a_backup_taken_while_the_app_writes_holds_what_was_committed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=SECRET)

    async def work(services: Services) -> Path:
        await member(services, "ada")
        async with services.db.transaction() as conn:  # an open write transaction on the live database
            await conn.execute(text("UPDATE users SET username = 'uncommitted'"))
            return await create_backup(settings)

    archive = with_services(settings, work)
    out = tmp_path / "out"
    with tarfile.open(archive) as tar:
        (out / "database").mkdir(parents=True)
        (out / SQLITE_MEMBER).write_bytes(tar.extractfile(SQLITE_MEMBER).read())  # type: ignore[union-attr]
    con = sqlite3.connect(out / SQLITE_MEMBER)
    assert con.execute("SELECT username FROM users").fetchall() == [("ada",)]
    con.close()


def _fingerprint(data_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and "backups" not in p.parts and p.name != "salon.lock"
    }


def _rewrite(archive: Path, dest: Path, change: Any, skip: frozenset[str] | set[str] = frozenset()) -> None:
    with tarfile.open(archive) as src, tarfile.open(dest, "w:gz") as out:
        for info in src:
            if info.name in skip:
                continue
            body = src.extractfile(info).read()  # type: ignore[union-attr]
            body = change(info.name, body)
            info.size = len(body)
            out.addfile(info, io.BytesIO(body))


def test_a_corrupt_or_foreign_archive_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, secret_key=SECRET)
    with_services(settings, seed)
    archive = where(cli("backup", "--data-dir", str(data_dir)))
    with_services(settings, lambda s: member(s, "carol"))  # the state a bad restore must not touch
    before = _fingerprint(data_dir)

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    tampered = tmp_path / "tampered.tar.gz"
    _rewrite(archive, tampered, lambda name, body: body + b"x" if name.startswith("avatars/") else body)
    newer = tmp_path / "newer.tar.gz"

    def future(name: str, body: bytes) -> bytes:
        if name != MANIFEST:
            return body
        manifest = json.loads(body)
        manifest["alembic_revision"] = "9999"
        return json.dumps(manifest).encode()

    _rewrite(archive, newer, future)
    no_database = tmp_path / "no-database.tar.gz"

    def without_database(name: str, body: bytes) -> bytes:
        if name == MANIFEST:
            manifest = json.loads(body)
            manifest["files"] = [f for f in manifest["files"] if f["name"] != SQLITE_MEMBER]
            return json.dumps(manifest).encode()
        return b"" if name == SQLITE_MEMBER else body

    _rewrite(archive, no_database, without_database, skip={SQLITE_MEMBER})
    not_sqlite = tmp_path / "not-sqlite.tar.gz"

    def garbage_database(name: str, body: bytes) -> bytes:  # consistent checksums, but not a database
        if name == MANIFEST:
            manifest = json.loads(body)
            for f in manifest["files"]:
                if f["name"] == SQLITE_MEMBER:
                    f["size"], f["sha256"] = 5, hashlib.sha256(b"hello").hexdigest()
            return json.dumps(manifest).encode()
        return b"hello" if name == SQLITE_MEMBER else body

    _rewrite(archive, not_sqlite, garbage_database)
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        tar.add(__file__, arcname="../etc/passwd")
    for bad, why in (
        (truncated, "cannot be read"),
        (tampered, "does not match its checksum"),
        (newer, "newer than this Salon knows"),
        (foreign, "manifest.json is not its first member"),
        (no_database, "it holds no database"),
        (not_sqlite, "not a SQLite database"),
        (tmp_path / "missing.tar.gz", "is not a file"),
    ):
        result = cli("restore", str(bad), "--yes", "--data-dir", str(data_dir), code=1)
        assert why in result.output
        assert _fingerprint(data_dir) == before
        assert not [p for p in data_dir.iterdir() if "restore" in p.name]


def test_restore_is_refused_while_a_server_holds_the_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, secret_key=SECRET)
    with_services(settings, seed)
    archive = where(cli("backup", "--data-dir", str(data_dir)))
    holder = subprocess.Popen(  # another process holding the lock the way `salon serve` does
        [sys.executable, "-c", "import sys; from salon.app.datadir_lock import lock_data_dir as l; from pathlib "
         f"import Path; l(Path({str(data_dir)!r}), exclusive=False); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        result = cli("restore", str(archive), "--yes", "--data-dir", str(data_dir), code=1)
        assert "a salon serve is running" in result.output
    finally:
        holder.communicate(b"", timeout=10)
    before = _fingerprint(data_dir)
    declined = runner.invoke(
        app, ["restore", str(archive), "--data-dir", str(data_dir)], input="n\n", env={"SALON_SECRET_KEY": SECRET}
    )
    assert declined.exit_code == 1
    assert "Aborted" in declined.output
    assert _fingerprint(data_dir) == before
    cli("restore", str(archive), "--yes", "--data-dir", str(data_dir))  # the server gone, it goes through


def test_serve_takes_the_lock_and_will_not_start_during_a_restore(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    restoring = lock_data_dir(data_dir, exclusive=True)
    try:
        result = cli("serve", "--data-dir", str(data_dir), "--port", "1", code=1)
        assert f"a salon restore is replacing {data_dir}" in result.output
    finally:
        restoring.release()


def test_migrations_are_preceded_by_a_backup_only_when_a_database_has_something_pending(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    cli("migrate", "--data-dir", str(fresh))
    assert not (fresh / "backups").exists()  # nothing to keep on a fresh database

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    older = "0003"

    async def at_older_revision() -> None:
        db = Database(f"sqlite+aiosqlite:///{data_dir / 'salon.db'}")
        await upgrade(db, older)
        await db.dispose()

    asyncio.run(at_older_revision())
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    failed = runner.invoke(
        app,
        ["migrate", "--data-dir", str(data_dir)],
        env={"SALON_SECRET_KEY": SECRET, "SALON_BACKUP_DIR": str(blocked)},
    )
    assert failed.exit_code == 1
    assert f"the backup before migrations from {older} failed" in failed.output
    assert backup_db.sqlite_revision(data_dir / "salon.db") == older  # no migration without its backup
    result = subprocess.run(  # a process of its own: what the operator sees on the terminal, not pytest's capture
        [sys.executable, "-c", "from salon.cli.main import main; main()", "migrate", "--data-dir", str(data_dir)],
        env={**os.environ, "SALON_SECRET_KEY": SECRET}, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    made = sorted((data_dir / "backups").glob("*.tar.gz"))
    assert len(made) == 1
    assert made[0].name.endswith("-pre-migration.tar.gz")
    assert f"Backup before migrations from {older}: {made[0]}" in result.stderr
    with tarfile.open(made[0]) as tar:
        assert json.loads(tar.extractfile(MANIFEST).read())["alembic_revision"] == older  # type: ignore[union-attr]
    cli("migrate", "--data-dir", str(data_dir))
    assert sorted((data_dir / "backups").glob("*.tar.gz")) == made  # none pending: no new backup

    restored = cli("restore", str(made[0]), "--yes", "--data-dir", str(data_dir))  # an older schema: migrated
    assert f"migrated from {older}" in restored.stdout
    assert backup_db.sqlite_revision(data_dir / "salon.db") == backup_db.head_revision()


def test_the_backups_folder_keeps_the_newest_n(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cli("migrate", "--data-dir", str(data_dir))
    mine = data_dir / "backups" / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("not an archive: left alone")
    made = []
    for _ in range(4):
        made.append(where(runner.invoke(app, ["backup", "--data-dir", str(data_dir)], env={
            "SALON_SECRET_KEY": SECRET, "SALON_BACKUP_KEEP": "2"})))  # fmt: skip
    assert sorted((data_dir / "backups").glob("*.tar.gz")) == made[-2:]
    assert mine.exists()
    assert not list((data_dir / "backups").glob(".*"))  # no partial archive or staging folder left behind

    failed = cli("backup", "--data-dir", str(data_dir), "--output", str(data_dir / "backups"), code=1)
    assert "no archive was written" in failed.output  # the destination is a folder: a clear error, not a traceback
    assert not list((data_dir / "backups").glob(".*"))
