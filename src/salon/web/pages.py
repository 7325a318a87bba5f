"""Web layer: the few HTML pages the server has before the web app exists — the welcome page and the sign-up page
that an invite link opens. Plain files, our own code, no build step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)

_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the invite code is in the URL: never leak it to another site
}


@router.get("/")
async def welcome() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=_HEADERS)


@router.get("/invite/{code}")
async def invite(code: Annotated[str, PathParam(max_length=200)]) -> FileResponse:
    return FileResponse(STATIC / "invite.html", headers=_HEADERS)
