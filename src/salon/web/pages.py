"""Web layer: the web app's pages. Every screen of the app is the same HTML shell (``static/index.html``) that loads
the ES modules under ``static/app/``; the browser's router picks the screen from the path. Plain files, our own
code, no build step. The shell is served with a strict Content-Security-Policy: scripts, styles and connections
only from this origin, no inline code, never framed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


def content_security_policy(stream_origins: list[str] | tuple[str, ...] = ()) -> str:
    """The pages' policy; ``stream_origins`` are the broadcast workers listeners fetch audio from (their only
    other connections)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            " ".join(["connect-src 'self'", *stream_origins]),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


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
    "/invite/{segment}",
    "/room/{segment}",
    "/u/{segment}",
    "/events/{segment}",
    "/events/{segment}/edit",
]


async def _shell(request: Request) -> FileResponse:
    origins: list[str] = getattr(request.app.state, "stream_origins", [])
    headers = (
        PAGE_HEADERS if not origins else {**PAGE_HEADERS, "Content-Security-Policy": content_security_policy(origins)}
    )
    return FileResponse(STATIC / "index.html", headers=headers)


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
