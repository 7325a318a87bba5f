"""CLI layer: the ``salon`` command (Typer). Settings come from flags, then ``SALON_*`` variables.

Whatever came from the database or from a member is printed through :func:`shown` (``domain/text.printable``):
text stored before today's rules may hold ESC, BEL or an override, and a terminal would act on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from salon.app import accounts, invites, moderation
from salon.app import rooms as room_cases
from salon.app.backups import BackupError
from salon.app.datadir_lock import DataDirBusyError, lock_data_dir
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.app.settings import Settings
from salon.cli.backup import register as register_backup_commands
from salon.cli.doctor import doctor
from salon.cli.front_door import front_door_config
from salon.cli.logs import configure_logging, uvicorn_log_options
from salon.cli.proxy import proxy_config
from salon.cli.runtime import run_server, tune_gc
from salon.domain.api_paths import API_PREFIX
from salon.domain.errors import DomainError
from salon.domain.paging import PAGE_MAX
from salon.domain.text import printable as shown

T = TypeVar("T")

app = typer.Typer(help="Salon: self-hosted live audio rooms.", no_args_is_help=True, add_completion=False)
invite_app = typer.Typer(help="Invites.", no_args_is_help=True)
user_app = typer.Typer(help="Members.", no_args_is_help=True)
room_app = typer.Typer(help="Rooms.", no_args_is_help=True)
report_app = typer.Typer(help="Reports members sent about members and rooms.", no_args_is_help=True)
app.add_typer(invite_app, name="invite")
app.add_typer(user_app, name="user")
app.add_typer(room_app, name="room")
app.add_typer(report_app, name="report")
app.command("proxy-config")(proxy_config)
app.command("front-door-config")(front_door_config)
app.command()(doctor)  # cli/doctor.py
register_backup_commands(app)

# The operator at the console acts with admin rights; it is not a member and has no session.
OPERATOR = Actor(user_id="", username="operator", is_admin=True, session_hash="")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (default ./data; SALON_DATA_DIR).")]
DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: SQLite in data dir).")
]


def load_settings(**overrides: Any) -> Settings:
    """Validate configuration once; a mistake stops here with a readable message."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = [
            f"  {shown('.'.join(str(p) for p in e['loc'])) or 'settings'}: {shown(e['msg'])}" for e in exc.errors()
        ]
        typer.echo("Invalid configuration:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from None


def run_with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` with the services. With ``SALON_REDIS_URL`` its events (a room ended, a member disabled) go out
    on the event bus, so running instances act on them at once."""
    from salon.web.app import build_services
    from salon.web.bus import start_bus, stop_bus

    async def _main() -> T:
        try:
            services = await build_services(settings)
        except BackupError as exc:  # the backup before migrations failed: nothing was migrated (app/backups.py)
            typer.echo(f"error: {exc.message} ({exc.code})", err=True)
            raise typer.Exit(1) from None
        try:
            await start_bus(services)
            return await work(services)
        except DomainError as exc:
            typer.echo(f"error: {shown(exc.message)} ({exc.code})", err=True)
            raise typer.Exit(1) from None
        finally:
            await stop_bus(services)
            await services.limits.aclose()
            if services.audience_pace is not None:
                await services.audience_pace.close()
            await services.db.dispose()

    return asyncio.run(_main())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    public_url: Annotated[str | None, typer.Option(help="The URL people open (links, cookies, Origin).")] = None,
    dev: Annotated[bool | None, typer.Option("--dev/--no-dev", help="Development mode.")] = None,
) -> None:
    """Serve Salon: apply migrations, print an admin invite on an empty database, listen. SIGTERM stops it cleanly
    (exit status 0)."""
    from salon.web.app import create_app
    from salon.web.ws_server import UVICORN_WS_OPTIONS

    settings = load_settings(
        host=host, port=port, data_dir=data_dir, database_url=database_url, public_url=public_url, dev=dev
    )
    try:  # held shared while serving: `salon restore` needs it exclusive (app/datadir_lock.py)
        serving = lock_data_dir(settings.data_dir, exclusive=False)
    except DataDirBusyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    configure_logging(settings.log_format)  # SALON_LOG_FORMAT: text or json (cli/logs.py)

    async def bootstrap(services: Services) -> str | None:
        if await accounts.list_users(services):
            return None
        return (await invites.create_operator_invite(services, grants_admin=True)).link

    link = run_with_services(settings, bootstrap)
    typer.echo(f"Salon is serving on {settings.public_url}  (API docs: {settings.public_url}{API_PREFIX}/docs)")
    if link:
        typer.echo(f"No members yet. Open this one-time admin invite to create the first account:\n\n  {link}\n")
    app = create_app(settings)
    tune_gc()
    run_server(app, settings.host, settings.port, **uvicorn_log_options(settings.log_format), **UVICORN_WS_OPTIONS)
    serving.release()


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply database migrations (serve does this too)."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)

    async def done(_services: Services) -> None:
        return None

    run_with_services(settings, done)
    typer.echo("Database is up to date.")


@app.command("broadcast-secret")
def broadcast_secret(data_dir: DataDir = None) -> None:
    """Print the secret a broadcast worker on another box needs (its SALON_BROADCAST_SECRET): derived from Salon's
    own secret key, so it opens the broadcast tier's tickets and control API and nothing else."""
    from salon.adapters.janus.runtime import broadcast_secret as derive

    typer.echo(derive(load_settings(data_dir=data_dir)))


@invite_app.command("create")
def invite_create(
    admin: Annotated[bool, typer.Option("--admin", help="The new account will be an admin.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a one-time invite link (an operator invite: it spends nobody's quota)."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    new = run_with_services(settings, lambda s: invites.create_operator_invite(s, grants_admin=admin))
    typer.echo(new.link)
    typer.echo(f"(single use, expires {new.expires_at:%Y-%m-%d %H:%M} UTC)", err=True)


@user_app.command("list")
def user_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List members: id, username, admin, invites left, disabled."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    users = run_with_services(settings, accounts.list_users)
    typer.echo(f"{'id':<18} {'username':<20} {'admin':<5} {'invites':>7}  status")
    for u in users:
        status = "disabled" if u.disabled_at else "active"
        admin = "yes" if u.is_admin else "no"
        typer.echo(f"{shown(u.id):<18} {shown(u.username):<20} {admin:<5} {u.invites_left:>7}  {status}")


@user_app.command("disable")
def user_disable(username: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Disable a member: sessions end and log-ins are refused."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)

    async def work(services: Services) -> str:
        users = await accounts.list_users(services)
        match = [u for u in users if u.username.casefold() == username.casefold()]
        if not match:
            typer.echo(f"error: no member called {shown(username)}", err=True)
            raise typer.Exit(1)
        await accounts.disable_user(services, OPERATOR, match[0].id)
        return match[0].username

    name = run_with_services(settings, work)
    typer.echo(f"{shown(name)} is disabled. Their sessions have ended.")


@room_app.command("list")
def room_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List live rooms."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    rooms = run_with_services(settings, room_cases.list_rooms_for_operator)
    typer.echo(f"{'id':<18} {'type':<7} {'people':>6}  title")
    for r in rooms:
        typer.echo(f"{shown(r['id']):<18} {shown(r['type']):<7} {r['people']:>6}  {shown(r['title'])}")


@room_app.command("end")
def room_end(room_id: str, data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """End a live room."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    run_with_services(settings, lambda s: room_cases.end_room_as_operator(s, room_id))
    typer.echo(f"Room {shown(room_id)} has ended.")


@report_app.command("list")
def report_list(
    limit: Annotated[int, typer.Option("--limit", min=1, max=PAGE_MAX, help="How many, newest first.")] = 50,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List reports, newest first: when, reason, who reported, whom or which room, details."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    page = run_with_services(settings, lambda s: moderation.list_reports(s, OPERATOR, None, limit))
    if not page.items:
        typer.echo("No reports.")
        return
    typer.echo(f"{'when (UTC)':<16}  {'reason':<14} {'reporter':<20} {'about':<40} details")
    for r in page.items:
        if r.target_user is not None:
            about = f"@{shown(r.target_user.username)} ({shown(r.target_user.user_id)})"
        else:
            assert r.target_room is not None
            about = f"room '{shown(r.target_room.title)}' ({shown(r.target_room.id)})"
        details = " ".join(r.details.split())
        details = shown(details if len(details) <= 60 else details[:59] + "…")
        when = f"{r.created_at:%Y-%m-%d %H:%M}"
        typer.echo(f"{when:<16}  {r.reason.value:<14} @{shown(r.reporter.username):<19} {about:<40} {details}")
    if page.next_cursor is not None:
        typer.echo(f"(the {limit} newest; --limit up to {PAGE_MAX} shows more)", err=True)


def main() -> None:
    app()
