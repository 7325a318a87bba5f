"""CLI layer: ``salon proxy-config`` — prints the nginx configuration for HTTPS in front of ``salon serve``, made
from the same ``SALON_*`` settings the server runs with (app/proxy_config.py; docs/DEPLOYMENT.md, section 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from salon.app.proxy_config import ACME_WEBROOT, ProxyConfigError, render, target

CertPath = Annotated[
    Path | None,
    typer.Option(
        "--cert", help="PEM certificate chain (default: certbot's /etc/letsencrypt/live/<domain>/fullchain.pem)."
    ),
]
KeyPath = Annotated[
    Path | None,
    typer.Option("--key", help="PEM private key (default: certbot's /etc/letsencrypt/live/<domain>/privkey.pem)."),
]


def proxy_config(
    cert: CertPath = None,
    key: KeyPath = None,
    http_port: Annotated[
        int, typer.Option("--http-port", min=0, max=65535, help="Port of the redirect to https (0: none).")
    ] = 80,
    webroot: Annotated[
        Path,
        typer.Option("--webroot", help="Folder given to certbot --webroot -w: port 80 serves its challenges."),
    ] = ACME_WEBROOT,
) -> None:
    """Print the nginx server blocks for SALON_PUBLIC_URL (https): TLS, the app with its WebSockets, and each
    broadcast worker's stream under /broadcast/<name>/ unbuffered. Save as /etc/nginx/conf.d/salon.conf."""
    from salon.cli.main import load_settings  # main registers this command: imported here, not at the top

    try:
        text = render(target(load_settings(), cert=cert, key=key, http_port=http_port or None, webroot=webroot))
    except ProxyConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(text, nl=False)
