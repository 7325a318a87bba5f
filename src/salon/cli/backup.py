"""CLI layer: ``salon backup`` and ``salon restore`` (app/backups.py does the work; docs/DEPLOYMENT.md section 6)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from salon.app.backups import BackupError, create_backup, restore_backup
from salon.app.settings import Settings


def _say(text: str) -> None:
    typer.echo(text, err=True)


def backup(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Archive to write (default: the backups folder).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default ./data).")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL.")] = None,
) -> None:
    """Write one archive: the database (consistent while serving), the avatars and a manifest with checksums."""
    from salon.cli.main import load_settings

    settings = load_settings(data_dir=data_dir, database_url=database_url)
    try:
        path = asyncio.run(create_backup(settings, output=output, progress=_say))
    except BackupError as exc:
        typer.echo(f"error: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # the destination cannot be written (a folder, no space, no permission)
        typer.echo(f"error: {exc} (write_failed); no archive was written", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(path))


def restore(
    archive: Annotated[Path, typer.Argument(help="A salon-backup-*.tar.gz archive.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default ./data).")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL.")] = None,
) -> None:
    """Replace the database and avatars with a backup's (the current ones are kept aside); `salon serve` must be
    stopped. A backup from an older schema is migrated; one from a newer schema is refused."""
    from salon.cli.main import load_settings

    settings: Settings = load_settings(data_dir=data_dir, database_url=database_url)
    if not yes:
        typer.confirm(f"Replace the database and avatars of {settings.data_dir} with {archive}?", abort=True)
    try:
        done = asyncio.run(restore_backup(settings, archive, progress=_say))
    except BackupError as exc:
        typer.echo(f"error: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(1) from None
    schema = f"migrated from {done.revision}" if done.migrated else "schema up to date"
    typer.echo(f"Restored {archive} ({schema}).")


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
