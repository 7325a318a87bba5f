"""App layer: the nginx configuration that puts HTTPS in front of ``salon serve`` (docs/DEPLOYMENT.md, section 2),
made from the same settings the server runs with, so its ports and broadcast workers' names cannot drift from them.

The text is an http-context snippet (Debian's nginx includes /etc/nginx/conf.d/*.conf there): a port-80 server that
answers certbot's challenges and sends everything else to https, and the TLS server, which passes the app (its
WebSockets included) to ``salon serve`` and ``/broadcast/<name>/`` to each managed broadcast worker unbuffered —
the URL ``salon serve`` gives listeners when its public URL is https (adapters/janus/runtime.worker_plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from salon.app.settings import Settings

ACME_WEBROOT = Path("/var/www/html")  # Debian nginx's default site serves it: certbot --webroot's first run works
LETSENCRYPT = Path("/etc/letsencrypt/live")
# Longer than any quiet stretch a live connection has: nginx's default 60 s would cut a WebSocket or a stream
# whose room is silent (the app pings every few seconds, but a broadcast stream only carries what the room sends).
LONG_TIMEOUT = "1h"
# An avatar upload is multipart: the file plus a few hundred bytes of form; room for that above the file limit.
FORM_OVERHEAD_BYTES = 64 * 1024


class ProxyConfigError(ValueError):
    """The settings cannot be put behind the proxy as they are; the message says what to set."""


@dataclass(frozen=True)
class ProxyTarget:
    """What the snippet needs: the public name and HTTPS port, the certificate, and where Salon listens."""

    domain: str
    https_port: int
    cert: Path
    key: Path
    app: str  # host:port of salon serve
    workers: tuple[tuple[str, str], ...]  # (name, host:port) of each managed broadcast worker
    max_body_bytes: int
    http_port: int | None = 80  # the redirect and certbot's challenges; None: no port-80 server
    webroot: Path = ACME_WEBROOT  # certbot's -w: port 80 answers /.well-known/acme-challenge/ from it
    ipv6: bool = True  # also listen on [::]: nginx refuses to start where the kernel has no IPv6 at all


def target(
    settings: Settings,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    http_port: int | None = 80,
    webroot: Path = ACME_WEBROOT,
    ipv6: bool = True,
) -> ProxyTarget:
    """The proxy's target from the settings ``salon serve`` runs with; certbot's paths unless ``cert``/``key``."""
    url = urlsplit(settings.public_url)
    if url.scheme != "https" or not url.hostname or url.path.strip("/"):
        raise ProxyConfigError(
            f"SALON_PUBLIC_URL is {settings.public_url!r}: set it to the https URL people open, e.g. "
            "https://salon.example (cookies, Origin checks and HSTS follow it)"
        )
    if not settings.trusted_proxies:
        raise ProxyConfigError(
            "SALON_TRUSTED_PROXIES is empty: set it to the proxy's address as salon serve sees it (127.0.0.1 when "
            "nginx runs on the same server), or every member shares the proxy's address in rate limits"
        )
    workers: tuple[tuple[str, str], ...] = ()
    if settings.audience_tier == "broadcast" and settings.managed_janus and settings.broadcast_workers > 0:
        if settings.broadcast_public_url or settings.broadcast_tls_cert is not None:
            raise ProxyConfigError(
                "SALON_BROADCAST_PUBLIC_URL or SALON_BROADCAST_TLS_CERT is set: listeners would not reach the "
                "workers through the proxy; unset them (the proxy serves /broadcast/<name>/)"
            )
        if settings.broadcast_port == 0:
            raise ProxyConfigError(
                "SALON_BROADCAST_PORT is 0 (any free port): set the first broadcast worker's port, e.g. 8100, so "
                f"the proxy knows where the {settings.broadcast_workers} worker(s) listen (that port and the next)"
            )
        if settings.broadcast_port + settings.broadcast_workers - 1 > 65535:
            raise ProxyConfigError("SALON_BROADCAST_PORT + SALON_BROADCAST_WORKERS runs past port 65535")
        host = _loopback_if_any(settings.host)
        workers = tuple((f"w{i}", f"{host}:{settings.broadcast_port + i}") for i in range(settings.broadcast_workers))
    domain = url.hostname
    return ProxyTarget(
        domain=domain,
        https_port=url.port or 443,
        cert=cert or LETSENCRYPT / domain / "fullchain.pem",
        key=key or LETSENCRYPT / domain / "privkey.pem",
        app=f"{_loopback_if_any(settings.host)}:{settings.port}",
        workers=workers,
        max_body_bytes=settings.avatar_max_bytes + FORM_OVERHEAD_BYTES,
        http_port=http_port,
        webroot=webroot,
        ipv6=ipv6,
    )


def _loopback_if_any(host: str) -> str:
    """Where the proxy connects to a server listening on ``host`` (all interfaces: its loopback)."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - an address we connect to, not one we bind
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _proxied(upstream: str, *, stream: bool) -> list[str]:
    # proxy_set_header in a location replaces every one inherited from the server block: each location says all.
    lines = [
        f"proxy_pass {upstream};",
        "proxy_http_version 1.1;",
        "proxy_set_header Host $host;",
        # Appended, not replaced: salon serve takes the right-most address its SALON_TRUSTED_PROXIES did not write.
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
    ]
    if stream:
        lines += [
            'proxy_set_header Connection "";',
            "proxy_buffering off;  # each audio chunk goes out as the worker writes it",
            "proxy_cache off;",
        ]
    else:
        lines += [
            "proxy_set_header Upgrade $http_upgrade;  # WebSockets",
            "proxy_set_header Connection $salon_connection_upgrade;",
        ]
    lines += [f"proxy_read_timeout {LONG_TIMEOUT};", f"proxy_send_timeout {LONG_TIMEOUT};"]
    return lines


def render(t: ProxyTarget) -> str:
    """The nginx snippet for ``t``."""
    name = t.domain
    site = name if t.https_port == 443 else f"{name}:{t.https_port}"
    out = [
        f"# Salon behind nginx, for https://{site}: `salon proxy-config` printed this from Salon's settings.",
        "# Put it in /etc/nginx/conf.d/salon.conf (an http-context file), then `nginx -t && systemctl reload nginx`.",
        "# Run `salon proxy-config` again whenever SALON_PORT, SALON_BROADCAST_PORT or SALON_BROADCAST_WORKERS change.",
        "",
        "# A WebSocket handshake asks to upgrade the connection; any other request closes it when done.",
        "map $http_upgrade $salon_connection_upgrade {",
        "    default upgrade;",
        "    '' close;",
        "}",
        "",
    ]
    if t.http_port is not None:
        out += [
            "# Port 80: certbot's renewals (--webroot) and a redirect to https for everything else.",
            "server {",
            f"    listen {t.http_port};",
            *([f"    listen [::]:{t.http_port};"] if t.ipv6 else []),
            f"    server_name {name};",
            f"    location /.well-known/acme-challenge/ {{ root {t.webroot}; }}",
            f"    location / {{ return 301 https://{site}$request_uri; }}",
            "}",
            "",
        ]
    out += [
        "server {",
        f"    listen {t.https_port} ssl http2;",
        *([f"    listen [::]:{t.https_port} ssl http2;"] if t.ipv6 else []),
        f"    server_name {name};",
        f"    ssl_certificate {t.cert};",
        f"    ssl_certificate_key {t.key};",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_session_cache shared:salon_tls:10m;",
        "    ssl_session_timeout 1d;",
        "    # HSTS, Secure cookies and the Origin checks come from Salon itself (SALON_PUBLIC_URL is https).",
        f"    client_max_body_size {t.max_body_bytes};  # the avatar limit (SALON_AVATAR_MAX_BYTES) and a form",
        "",
        "    # The web app, its API and its WebSockets.",
        "    location / {",
        *(f"        {line}" for line in _proxied(f"http://{t.app}", stream=False)),
        "    }",
    ]
    for worker, address in t.workers:
        out += [
            "",
            f"    # Broadcast worker {worker}: the room's audio as one long response per listener.",
            f"    location /broadcast/{worker}/ {{",
            *(f"        {line}" for line in _proxied(f"http://{address}/", stream=True)),
            "    }",
        ]
    out += ["}", ""]
    return "\n".join(out)
