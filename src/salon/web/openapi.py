"""Web layer: the OpenAPI document, completed with what route declarations cannot say by themselves.

- How a caller authenticates. Every operation that needs a session depends on web/auth.py's described schemes, so
  FastAPI lists ``bearer``, ``session_cookie`` and ``csrf_token`` on it, each alone. The truth is narrower, and is
  written here: a bearer token, or the session cookie — with the CSRF header for an unsafe method.
- Limits this deployment's settings set: a room's ``capacity`` is at most ``settings.room_capacity``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from salon.app.settings import Settings
from salon.web.auth import BEARER_SCHEME, COOKIE_SCHEME, CSRF_SCHEME, SAFE_METHODS

BEARER, COOKIE, CSRF = BEARER_SCHEME.scheme_name, COOKIE_SCHEME.scheme_name, CSRF_SCHEME.scheme_name


def session_security(method: str) -> list[dict[str, list[str]]]:
    """What an operation that needs a session takes (any one of the list; every scheme of an entry)."""
    if method.upper() in SAFE_METHODS:
        return [{BEARER: []}, {COOKIE: []}]
    return [{BEARER: []}, {COOKIE: [], CSRF: []}]


def _set_maximum(schema: dict[str, Any], maximum: int) -> None:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "integer":
            branch["maximum"] = maximum


def complete(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Each operation's exact security, and the settings' limits, in a document FastAPI generated."""
    for operations in document["paths"].values():
        for method, operation in operations.items():
            if any(BEARER in requirement for requirement in operation.get("security", [])):
                operation["security"] = session_security(method)
    _set_maximum(document["components"]["schemas"]["CreateRoom"]["properties"]["capacity"], settings.room_capacity)
    return document


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve the completed document (built once, on first request, as FastAPI does)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate(), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
