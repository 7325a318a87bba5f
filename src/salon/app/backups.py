"""App layer: backups — one ``.tar.gz`` holding the database (SQLite online-backup copy or a ``pg_dump``), the
avatars and a manifest (format, versions, schema revision, every file's size and SHA-256); restoring one; the backup
taken before migrations; pruning to ``backup_keep``.

An archive is written under a temporary name beside its destination and renamed when complete, so a crash or a full
disk never leaves a half archive under a real name. A restore checks the whole archive (manifest, names, sizes,
checksums, schema revision) into a staging folder *before* it touches anything, and moves the current database and
avatars aside rather than deleting them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from salon.app.avatars import avatar_dir
from salon.app.datadir_lock import DataDirBusyError, lock_data_dir
from salon.app.settings import Settings
from salon.store import backup_db
from salon.store.database import Database
from salon.store.migrate import upgrade

FORMAT = "salon-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/salon.db"
PG_MEMBER = "database/salon.pgdump"
_MEMBER = re.compile(r"database/salon\.(db|pgdump)|avatars/[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
_CHUNK = 1 << 20
ARCHIVE_GLOB = "salon-backup-*.tar.gz"

Progress = Callable[[str], None]
log = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup or restore that cannot go on; ``code`` names the reason, ``message`` says it to the operator."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Restored:
    revision: str | None
    migrated: bool
    moved_aside: list[Path]


def _quiet(_text: str) -> None:
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _mib(size: int) -> str:
    return f"{size / 1048576:.1f} MiB" if size >= 1048576 else f"{size / 1024:.1f} KiB"


def _salon_version() -> str:
    try:
        return metadata.version("salon")
    except metadata.PackageNotFoundError:
        return "unknown"


def archive_name(now: datetime, tag: str = "") -> str:
    # Milliseconds in the name: two backups in one second still get two names, and names sort by time.
    return f"salon-backup-{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z{tag}.tar.gz"


def database_kind(settings: Settings) -> str:
    return "sqlite" if settings.db_url.startswith("sqlite") else "postgresql"


async def create_backup(
    settings: Settings, *, output: Path | None = None, progress: Progress = _quiet, tag: str = ""
) -> Path:
    """Write one archive (to ``output``, or a timestamped name in the backups folder, then prune it). The file work
    runs in a thread: the pre-migration backup runs on the app's event loop."""
    revision: str | None = None
    if database_kind(settings) == "postgresql":  # SQLite's is read from the snapshot itself, below
        db = Database(settings.db_url)
        try:
            revision = await backup_db.current_revision(db)
        finally:
            await db.dispose()
    return await asyncio.to_thread(_create, settings, output, progress, tag, revision)


def _create(settings: Settings, output: Path | None, progress: Progress, tag: str, pg_revision: str | None) -> Path:
    now = datetime.now(UTC)
    dest = output if output is not None else settings.backups_dir / archive_name(now, tag)
    dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    kind = database_kind(settings)
    staging = Path(tempfile.mkdtemp(prefix=".salon-backup-", dir=dest.parent))
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        if kind == "sqlite":
            revision, database = _snapshot_sqlite(settings, staging, progress)
        else:
            revision, database = pg_revision, (PG_MEMBER, staging / "salon.pgdump")
            progress("database: pg_dump --format=custom")
            try:
                backup_db.pg_dump(settings.db_url, database[1])
            except backup_db.BackupToolError as exc:
                raise BackupError("pg_dump_failed", str(exc)) from None
        progress(f"database: {_mib(database[1].stat().st_size)}")
        files = [database, *_copy_avatars(avatar_dir(settings), staging / "avatars", progress)]
        listed = [{"name": n, "size": p.stat().st_size, "sha256": _sha256(p)} for n, p in files]
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "salon_version": _salon_version(),
            "alembic_revision": revision,
            "database": kind,
            "created_at": now.isoformat(),
            "files": listed,
        }
        progress(f"writing {dest}")
        _write_tar(partial, manifest, files)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"backup written: {dest} ({_mib(dest.stat().st_size)})")
    if output is None:
        for old in prune(settings.backups_dir, settings.backup_keep):
            progress(f"removed old backup {old}")
    return dest


def _snapshot_sqlite(settings: Settings, staging: Path, progress: Progress) -> tuple[str | None, tuple[str, Path]]:
    source = backup_db.sqlite_path(settings.db_url)
    if not source.exists():
        raise BackupError("no_database", f"there is no database at {source}")
    snapshot = staging / "salon.db"
    step = {"last": -1}

    def pages(copied: int, total: int) -> None:  # a line per ~100 MB (25,000 pages of 4 KiB), and the last
        if copied == total or copied // 25_000 != step["last"]:
            step["last"] = copied // 25_000
            progress(f"database: {copied}/{total} pages")

    backup_db.snapshot_sqlite(source, snapshot, pages)
    return backup_db.sqlite_revision(snapshot), (SQLITE_MEMBER, snapshot)


def _copy_avatars(source: Path, target: Path, progress: Progress) -> list[tuple[str, Path]]:
    """Copy first, then hash and archive the copies: an avatar replaced meanwhile cannot break the checksums."""
    target.mkdir()
    copied: list[tuple[str, Path]] = []
    if source.is_dir():
        for path in sorted(source.iterdir()):
            if path.is_file() and _MEMBER.fullmatch(f"avatars/{path.name}"):
                with contextlib.suppress(FileNotFoundError):  # replaced by its member since the listing
                    shutil.copyfile(path, target / path.name)
                    copied.append((f"avatars/{path.name}", target / path.name))
    progress(f"avatars: {len(copied)} files, {_mib(sum(p.stat().st_size for _, p in copied))}")
    return copied


def _write_tar(path: Path, manifest: dict[str, Any], files: list[tuple[str, Path]]) -> None:
    # 0600: an archive holds password hashes and invite codes' hashes. Compression level 6 is gzip's own default
    # (tarfile's is 9, the slowest).
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(body))
            for name, source in files:
                tar.add(source, arcname=name, recursive=False)
        raw.flush()
        os.fsync(raw.fileno())


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest archives Salon named in ``folder`` (other files are left alone)."""
    archives = sorted(folder.glob(ARCHIVE_GLOB))
    removed = archives[: max(len(archives) - keep, 0)]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _foreign(why: str) -> BackupError:
    return BackupError("bad_archive", f"not a usable Salon backup: {why}; nothing was changed")


def _read_manifest(tar: tarfile.TarFile) -> tuple[tarfile.TarInfo, dict[str, Any], dict[str, dict[str, Any]]]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise _foreign(f"{MANIFEST} is not its first member")
    handle = tar.extractfile(first)
    assert handle is not None
    try:
        manifest = json.loads(handle.read(1 << 22))
    except ValueError:
        raise _foreign(f"{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _foreign(f"{MANIFEST} is not a Salon manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _foreign(f"archive format {manifest.get('format_version')!r}; this Salon reads {FORMAT_VERSION}")
    listed: dict[str, dict[str, Any]] = {}
    for entry in manifest.get("files", []):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not _MEMBER.fullmatch(name) or name in listed:
            raise _foreign(f"the manifest lists an unexpected file {name!r}")
        listed[name] = entry
    return first, manifest, listed


def verify_archive(archive: Path, into: Path) -> dict[str, Any]:
    """Check every member against the manifest while extracting into ``into``; the manifest when all is well."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            first, manifest, listed = _read_manifest(tar)
            seen: set[str] = set()
            for member in tar:  # iterating starts again from the first member
                if member is first:
                    continue
                entry = listed.get(member.name)
                if entry is None or member.name in seen or not member.isfile():
                    raise _foreign(f"unexpected member {member.name!r}")
                seen.add(member.name)
                target = into / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                digest, size = hashlib.sha256(), 0
                with target.open("wb") as out:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                if size != entry.get("size") or digest.hexdigest() != entry.get("sha256"):
                    raise _foreign(f"{member.name} does not match its checksum")
    except (OSError, EOFError, tarfile.TarError, zlib.error) as exc:
        raise _foreign(f"{archive} cannot be read ({exc})") from None
    missing = set(listed) - seen
    if missing:
        raise _foreign(f"files missing: {', '.join(sorted(missing))}")
    return manifest


async def restore_backup(settings: Settings, archive: Path, *, progress: Progress = _quiet) -> Restored:
    """Restore ``archive`` into the configured database and data folder (refused while ``salon serve`` runs)."""
    if not await asyncio.to_thread(archive.is_file):
        raise BackupError("no_archive", f"{archive} is not a file")
    try:
        lock = lock_data_dir(settings.data_dir, exclusive=True)
    except DataDirBusyError as exc:
        raise BackupError("serving", str(exc)) from None
    staging = Path(tempfile.mkdtemp(prefix=".salon-restore-", dir=settings.data_dir))
    try:
        progress(f"checking {archive}")
        manifest = await asyncio.to_thread(verify_archive, archive, staging)
        kind, revision = database_kind(settings), manifest.get("alembic_revision")
        if manifest.get("database") != kind:
            raise _foreign(f"it holds a {manifest.get('database')} database and this Salon uses {kind}")
        if not (revision is None or isinstance(revision, str)):
            raise _foreign("its manifest's alembic_revision is not a revision")
        if revision is not None and revision not in backup_db.known_revisions():
            raise BackupError(
                "newer_schema",
                f"the backup's schema ({revision}) is newer than this Salon knows: upgrade Salon first; nothing was "
                "changed",
            )
        member = staging / (SQLITE_MEMBER if kind == "sqlite" else PG_MEMBER)
        if not member.is_file():
            raise _foreign("it holds no database")
        try:
            if kind == "sqlite" and backup_db.sqlite_revision(member) != revision:
                raise _foreign("its database is not at the revision its manifest says")
        except ValueError as exc:
            raise _foreign(str(exc)) from None
        now = datetime.now(UTC)  # milliseconds: a second restore in the same second must not overwrite the first's
        suffix = f".before-restore-{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z"
        moved = await _swap_database(settings, member, suffix, progress)
        avatars = avatar_dir(settings)
        if avatars.exists():
            moved.append(avatars.rename(avatars.with_name(avatars.name + suffix)))
        restored_avatars = staging / "avatars"
        if restored_avatars.is_dir():
            restored_avatars.rename(avatars)
        else:
            avatars.mkdir()
        for path in moved:
            progress(f"kept the previous data as {path}")
        migrated = revision != backup_db.head_revision()
        if migrated:
            progress(f"applying migrations from {revision}")
        db = Database(settings.db_url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()
        return Restored(revision=revision, migrated=migrated, moved_aside=moved)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        lock.release()


async def _swap_database(settings: Settings, member: Path, suffix: str, progress: Progress) -> list[Path]:
    if database_kind(settings) == "sqlite":
        path = backup_db.sqlite_path(settings.db_url)
        moved = backup_db.move_sqlite_aside(path, suffix)
        await asyncio.to_thread(shutil.move, member, path)  # the database may be on another filesystem
        progress(f"database restored to {path}")
        return moved
    aside = settings.data_dir / f"salon.pgdump{suffix}"
    try:
        progress(f"saving the current database to {aside}")
        backup_db.pg_dump(settings.db_url, aside)
        db = Database(settings.db_url)
        try:
            await backup_db.drop_all_tables(db)
        finally:
            await db.dispose()
        progress("pg_restore --clean --if-exists")
        backup_db.pg_restore(settings.db_url, member)
    except backup_db.BackupToolError as exc:
        raise BackupError("pg_restore_failed", f"{exc} (the previous database is in {aside})") from None
    return [aside]


async def backup_before_migrations(settings: Settings, db: Database) -> Path | None:
    """Before pending migrations touch a database that has data, take a backup; None when there is nothing to
    keep (a fresh database), nothing pending, or a revision this code does not know (``upgrade`` says so)."""
    revision = await backup_db.current_revision(db)
    if revision is None or revision == backup_db.head_revision() or revision not in backup_db.known_revisions():
        return None
    try:
        path = await create_backup(settings, tag="-pre-migration")
    except (BackupError, OSError) as exc:  # no migration without its backup: the operator fixes the folder first
        why = exc.message if isinstance(exc, BackupError) else str(exc)
        raise BackupError(
            "backup_failed", f"the backup before migrations from {revision} failed ({why}); nothing was migrated"
        ) from None
    log.warning("Backup before migrations from %s: %s", revision, path)
    return path
