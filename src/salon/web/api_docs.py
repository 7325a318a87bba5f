"""Web layer: the interactive API docs at ``/api/v1/docs`` — Swagger UI, served from this origin under the web app's
strict Content-Security-Policy.

FastAPI's own docs page loads Swagger UI from a public CDN (no integrity check) and starts it with an inline script,
which the app's policy forbids. Here Swagger UI's files come from the ``fastapi-offline`` package (a pinned
dependency that ships Swagger UI's dist build; no third-party code in this repository), only the two files the page
needs are served, and the page is ours: no inline code, started by ``static/api_docs.js``."""

from __future__ import annotations

import inspect
from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from salon.domain.api_paths import API_PREFIX
from salon.web.pages import PAGE_HEADERS

DOCS_PATH = f"{API_PREFIX}/docs"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
SWAGGER_UI = Path(inspect.getfile(fastapi_offline)).parent / "static"
_ASSETS: dict[str, str] = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Salon API</title>
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{DOCS_PATH}/swagger-ui.css">
<script src="{DOCS_PATH}/swagger-ui-bundle.js" defer></script>
<script src="/static/api_docs.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(OPENAPI_PATH)}"></div>
<noscript>The API docs need JavaScript; the document itself is at {escape(OPENAPI_PATH)}.</noscript>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
async def docs_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers=PAGE_HEADERS)


@router.get(DOCS_PATH + "/{name}")
async def docs_asset(name: str) -> FileResponse:
    """Only the files the page loads; the package's other files (Redoc, a favicon) are not served."""
    if name not in _ASSETS:
        raise HTTPException(404, "Not Found")
    return FileResponse(SWAGGER_UI / name, media_type=_ASSETS[name], headers={"Cache-Control": "no-cache"})


def install_api_docs(app: FastAPI) -> None:
    """The docs page and its two assets; the app is built with FastAPI's own docs off (``docs_url=None``)."""
    app.include_router(router)
