"""App layer: sessions — creating them, authenticating a token, ending them.

A session token is ``ids.new_secret()`` (256 random bits). The database keeps only HMAC-SHA256(secret key, token):
a leaked database does not give usable tokens, and without the server's secret it does not even let one test
guesses. Kinds: ``cookie`` (browser; unsafe requests need the session's CSRF token) and ``bearer`` (API clients).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.services import Services
from salon.domain.errors import ErrorCode, refuse
from salon.store import repo_accounts as repo

SessionKind = Literal["cookie", "bearer"]
SESSION_KINDS: tuple[SessionKind, ...] = ("cookie", "bearer")
# Our tokens are 43 characters; anything much longer is not one of ours and is not worth hashing.
TOKEN_MAX = 128


@dataclass(frozen=True)
class Actor:
    """Who is making a request: an authenticated, enabled member and the session they used."""

    user_id: str
    username: str
    is_admin: bool
    session_hash: str


@dataclass(frozen=True)
class AuthSession:
    """An authenticated session: the actor plus what the web layer needs (kind, CSRF token)."""

    actor: Actor
    kind: SessionKind
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class NewSession:
    """A session just created. ``token`` exists only here: the database keeps its hash."""

    token: str
    token_hash: str
    kind: SessionKind
    csrf_token: str
    expires_at: datetime


def hash_token(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


async def create_session(services: Services, conn: AsyncConnection, user_id: str, kind: SessionKind) -> NewSession:
    """Start a session for ``user_id`` inside the caller's write transaction."""
    if kind not in SESSION_KINDS:
        raise ValueError(f"unknown session kind {kind!r}")
    now = services.clock.now()
    token = services.ids.new_secret()
    session = NewSession(
        token=token,
        token_hash=hash_token(services.secret, token),
        kind=kind,
        csrf_token=services.ids.new_secret(),
        expires_at=now + timedelta(days=services.settings.session_days),
    )
    await repo.insert_session(
        conn,
        token_hash=session.token_hash,
        user_id=user_id,
        kind=kind,
        csrf_token=session.csrf_token,
        now=now,
        expires_at=session.expires_at,
    )
    return session


async def authenticate_session(services: Services, token: str, kind: SessionKind | None = None) -> AuthSession | None:
    """The live session for ``token`` (of ``kind`` when given); None when unknown, expired, or the user is disabled."""
    if not token or len(token) > TOKEN_MAX:
        return None
    async with services.db.read() as conn:
        record = await repo.find_session(conn, hash_token(services.secret, token), services.clock.now())
    if record is None or record.kind not in SESSION_KINDS or (kind is not None and record.kind != kind):
        return None
    actor = Actor(
        user_id=record.user_id, username=record.username, is_admin=record.is_admin, session_hash=record.token_hash
    )
    session_kind: SessionKind = "cookie" if record.kind == "cookie" else "bearer"
    return AuthSession(actor=actor, kind=session_kind, csrf_token=record.csrf_token, expires_at=record.expires_at)


async def authenticate(services: Services, token: str) -> Actor | None:
    """The actor behind a session token of any kind, or None."""
    session = await authenticate_session(services, token)
    return session.actor if session else None


async def end_session(services: Services, token_hash: str, reason: str = "logged_out") -> None:
    """End one session and close the WebSockets it opened (after the commit)."""
    async with services.db.transaction() as conn:
        await repo.delete_session(conn, token_hash)
    await services.bus.close_sessions([token_hash], reason)


async def end_user_sessions(services: Services, user_id: str, reason: str = "logged_out") -> int:
    """End every session of a member and close their WebSockets; how many sessions ended."""
    async with services.db.transaction() as conn:
        hashes = await repo.delete_user_sessions(conn, user_id)
    if hashes:
        await services.bus.close_sessions(hashes, reason)
    return len(hashes)


async def purge_expired(services: Services) -> int:
    """Delete expired sessions (housekeeping; authentication already ignores them)."""
    async with services.db.transaction() as conn:
        return await repo.delete_expired_sessions(conn, services.clock.now())


def require_admin(actor: Actor) -> None:
    """Refuse unless the actor is an admin (use cases call this before any admin-only change)."""
    if not actor.is_admin:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only an admin can do this.")


async def standing_sessions(services: Services, token_hashes: list[str]) -> set[str]:
    """Which of these sessions still stand. Sessions can end outside this process (``salon user disable`` from the
    console, another instance, expiry), so the WebSocket layer asks this periodically."""
    async with services.db.read() as conn:
        return await repo.live_session_hashes(conn, token_hashes, services.clock.now())
