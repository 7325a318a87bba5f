"""Test helpers: members made through the real use cases (operator invite → sign-up), and their actors."""

from __future__ import annotations

from salon.app.accounts import SignedIn, sign_up_with_invite
from salon.app.invites import create_invite, create_operator_invite
from salon.app.services import Services
from salon.app.sessions import Actor, SessionKind

PASSWORD = "a fine long passphrase"


def actor_of(signed: SignedIn) -> Actor:
    user = signed.user
    return Actor(
        user_id=user.id, username=user.username, is_admin=user.is_admin, session_hash=signed.session.token_hash
    )


async def sign_up(
    services: Services,
    username: str,
    *,
    admin: bool = False,
    invited_by: Actor | None = None,
    password: str = PASSWORD,
    kind: SessionKind = "bearer",
) -> SignedIn:
    """A new member: invited by ``invited_by`` (spending their quota), else by the operator."""
    if invited_by is None:
        code = (await create_operator_invite(services, grants_admin=admin)).code
    else:
        code = (await create_invite(services, invited_by)).code
    return await sign_up_with_invite(
        services, code=code, username=username, display_name=username.title(), password=password, kind=kind
    )


async def member(services: Services, username: str, *, admin: bool = False, invited_by: Actor | None = None) -> Actor:
    """A new member's actor (their bearer session)."""
    return actor_of(await sign_up(services, username, admin=admin, invited_by=invited_by))


async def sign_up_code(services: Services, code: str, username: str, kind: SessionKind = "bearer") -> SignedIn:
    """Redeem ``code`` as a new member ``username``."""
    return await sign_up_with_invite(
        services, code=code, username=username, display_name=username.title(), password=PASSWORD, kind=kind
    )
