"""Web layer: the web app's pages. Every screen of the app is the same HTML shell (``static/index.html``) that loads
the ES modules under ``static/app/``; the browser's router picks the screen from the path. Plain files, our own
code, no build step. The shell is served with a strict Content-Security-Policy: scripts, styles and connections
only from this origin, no inline code, never framed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


def content_security_policy(connect_origins: Sequence[str] = ()) -> str:
    """The pages' policy. ``connect_origins`` (``https://host[:port]``, e.g. the broadcast nodes listeners stream
    from) may also be fetched; nothing else is loosened. The broadcast player's AudioWorklet is a script from this
    origin, so ``script-src 'self'`` already covers it."""
    connect = " ".join(["'self'", *(_origin(origin) for origin in connect_origins)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _origin(origin: str) -> str:
    """``origin`` if it is exactly a scheme, a host and maybe a port: anything more (a path, a wildcard, a quote or a
    semicolon) would widen or break the policy."""
    parts = urlsplit(origin)
    try:
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError:
        parts = parts._replace(netloc="")
    plain = bool(parts.hostname) and all(c.isalnum() or c in ".-:[]" for c in parts.netloc)
    if parts.scheme not in ("https", "http") or not plain or parts.path or parts.query or parts.fragment:
        raise ValueError(f"not an origin for connect-src: {origin!r} (want http(s)://host[:port])")
    return f"{parts.scheme}://{parts.netloc.lower()}"


CONTENT_SECURITY_POLICY = content_security_policy()
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # invite codes and room ids are in URLs: never leak them to another site
    # The microphone is for this origin only; nothing else is ever asked for.
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=(), payment=()",
    "Cache-Control": "no-cache",
}

# The app's screens (static/app/main.js ROUTES); anything else is a 404 from the server. ``{segment}`` is one path
# segment (an invite code, a room id, a username, an event id), at most 200 characters.
_SHELL_PATHS = [
    "/",
    "/welcome",
    "/search",
    "/invites",
    "/waitlist",
    "/events",
    "/events/new",
    "/notifications",
    "/settings",
    "/start",
    "/admin",
    "/admin/{segment}",
    "/invite/{segment}",
    "/room/{segment}",
    "/u/{segment}",
    "/events/{segment}",
    "/events/{segment}/edit",
]


async def _shell(request: Request) -> FileResponse:
    # The broadcast workers' origins are known once they listen (web/app.py's lifespan puts them on the app).
    origins: list[str] = getattr(request.app.state, "stream_origins", [])
    policy = content_security_policy(origins) if origins else CONTENT_SECURITY_POLICY
    return FileResponse(STATIC / "index.html", headers={**PAGE_HEADERS, "Content-Security-Policy": policy})


async def _shell_of(request: Request, segment: Annotated[str, PathParam(min_length=1, max_length=200)]) -> FileResponse:
    return await _shell(request)


for _path in _SHELL_PATHS:
    router.add_api_route(_path, _shell_of if "{segment}" in _path else _shell, methods=["GET"])


@router.get("/manifest.webmanifest")
async def manifest() -> JSONResponse:
    """What makes the app installable: name, icon, colours, start page."""
    return JSONResponse(
        {
            "name": "Salon",
            "short_name": "Salon",
            "description": "Live audio rooms",
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "background_color": "#f6f3ee",
            "theme_color": "#f6f3ee",
            "icons": [{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
        },
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )
