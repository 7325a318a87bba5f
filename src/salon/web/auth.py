"""Web layer: who is calling — the session from ``Authorization: Bearer`` or the ``salon_session`` cookie.

Bearer tokens (API clients) need no CSRF defence: a browser never adds that header on its own. Cookie sessions
(browsers) must send the session's CSRF token in ``X-CSRF-Token`` with every unsafe method. A token only works
through the channel it was issued for (a cookie session as a cookie, a bearer session as a header), so a token
planted in a cookie cannot turn into a CSRF-free session. WebSockets take either; the WS layer checks Origin.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Response, WebSocket
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from salon.app.sessions import Actor, AuthSession, NewSession, authenticate_session
from salon.app.settings import Settings
from salon.domain.errors import ErrorCode, refuse
from salon.web.deps import get_services

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Actor",
    "CurrentActor",
    "CurrentSession",
    "OptionalActor",
    "clear_session_cookie",
    "current_actor",
    "current_session",
    "optional_actor",
    "optional_session",
    "set_session_cookie",
    "websocket_actor",
]

SESSION_COOKIE = "salon_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_STATE_KEY = "salon_auth"

# The schemes as the OpenAPI document names them. They only describe: they never refuse (auto_error=False) and what
# they read is not used; _resolve below authenticates. web/openapi.py writes which combinations an operation takes.
BEARER_SCHEME = HTTPBearer(
    scheme_name="bearer",
    description="A session token: log in or sign up with `mode: bearer` (API clients; no CSRF token).",
    auto_error=False,
)
COOKIE_SCHEME = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session_cookie",
    description=f"The browser's session (log in with `mode: cookie`); unsafe methods also need `{CSRF_HEADER}`.",
    auto_error=False,
)
CSRF_SCHEME = APIKeyHeader(
    name=CSRF_HEADER,
    scheme_name="csrf_token",
    description="The `csrf_token` of a cookie session, with every unsafe method (POST, PUT, PATCH, DELETE).",
    auto_error=False,
)


def _described(
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
    _cookie: Annotated[str | None, Depends(COOKIE_SCHEME)],
    _csrf: Annotated[str | None, Depends(CSRF_SCHEME)],
) -> None:
    """Names the session schemes in the OpenAPI document for every operation that needs a session."""


Described = Annotated[None, Depends(_described)]


def _bearer_token(conn: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header; "" for a malformed header (which never falls back)."""
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _resolve(conn: HTTPConnection) -> AuthSession | None:
    services = get_services(conn)
    token = _bearer_token(conn)
    if token is not None:
        return await authenticate_session(services, token, "bearer") if token else None
    cookie = conn.cookies.get(SESSION_COOKIE)
    return await authenticate_session(services, cookie, "cookie") if cookie else None


def _check_csrf(request: Request, session: AuthSession) -> None:
    if session.kind != "cookie" or request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise refuse(ErrorCode.CSRF_FAILED, f"Missing or wrong {CSRF_HEADER} header; reload the page.")


async def optional_session(request: Request) -> AuthSession | None:
    """The request's session, resolved once per request; CSRF-checked for cookie sessions on unsafe methods."""
    if hasattr(request.state, _STATE_KEY):
        session: AuthSession | None = getattr(request.state, _STATE_KEY)
    else:
        session = await _resolve(request)
        setattr(request.state, _STATE_KEY, session)
    if session is not None:
        _check_csrf(request, session)
    return session


async def current_session(request: Request, _schemes: Described = None) -> AuthSession:
    session = await optional_session(request)
    if session is None:
        raise refuse(ErrorCode.NOT_AUTHENTICATED, "Log in first.")
    return session


async def optional_actor(request: Request) -> Actor | None:
    session = await optional_session(request)
    return session.actor if session else None


async def current_actor(request: Request, _schemes: Described = None) -> Actor:
    return (await current_session(request)).actor


async def websocket_actor(websocket: WebSocket) -> Actor | None:
    """The actor of a WebSocket handshake (cookie or bearer), or None; no CSRF here: the WS layer checks Origin."""
    session = await _resolve(websocket)
    return session.actor if session else None


CurrentActor = Annotated[Actor, Depends(current_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]
CurrentSession = Annotated[AuthSession, Depends(current_session)]


def set_session_cookie(response: Response, settings: Settings, session: NewSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=settings.session_days * 86_400,
        path="/",
        secure=settings.https,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.https, httponly=True, samesite="lax")
