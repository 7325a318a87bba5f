"""CLI layer: ``salon front-door-config`` — prints the HAProxy configuration that spreads HTTP and WebSocket
connections over several ``salon serve`` instances (app/front_door_config.py; docs/DEPLOYMENT.md, "Several
instances behind a front door")."""

from __future__ import annotations

from typing import Annotated

import typer

from salon.app.front_door_config import (
    DEFAULT_BIND,
    DEFAULT_CHECK_INTERVAL_MS,
    DEFAULT_MAXCONN,
    DEFAULT_STATS,
    FrontDoorConfigError,
    front_door,
    render,
)


def front_door_config(
    instance: Annotated[
        list[str],
        typer.Option("--instance", help="HOST:PORT of one `salon serve` (repeat for each instance)."),
    ],
    bind: Annotated[
        str, typer.Option("--bind", help="Where the front door listens (nginx's upstream: SALON_PORT there).")
    ] = DEFAULT_BIND,
    stats: Annotated[
        str, typer.Option("--stats", help="The loopback listener of the stats page (/) and /healthz.")
    ] = DEFAULT_STATS,
    check_interval_ms: Annotated[
        int,
        typer.Option(
            "--check-interval-ms", min=100, max=60_000, help="How often each instance's /readyz is asked (ms)."
        ),
    ] = DEFAULT_CHECK_INTERVAL_MS,
    maxconn: Annotated[
        int, typer.Option("--maxconn", min=100, max=1_000_000, help="Connections the front door holds at once.")
    ] = DEFAULT_MAXCONN,
    run_as: Annotated[
        str,
        typer.Option("--run-as", help="User HAProxy drops to, chrooted ('' : stay the user who starts it)."),
    ] = "haproxy",
) -> None:
    """Print haproxy.cfg for the given instances: HTTP and WebSockets balanced by least connections, each instance
    checked on /readyz and taken out when it fails, the client's address forwarded. Save as
    /etc/haproxy/haproxy.cfg."""
    try:
        door = front_door(
            instance, bind=bind, stats=stats, check_interval_ms=check_interval_ms, maxconn=maxconn,
            run_as=run_as or None,
        )  # fmt: skip
    except FrontDoorConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(render(door), nl=False)
