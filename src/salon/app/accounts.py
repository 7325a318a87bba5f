"""App layer: members — sign up with an invite, log in and out, profiles, and disabling an account.

No answer tells whether an account exists: a failed log-in is always ``bad_credentials`` with one message, whether
the user is unknown, disabled or the password wrong, and an unknown user costs the same argon2 time (a dummy
verification). Failed log-ins are limited so that guessing stays bounded while nobody can lock the owner out
(``log_in``; the rule is recorded in docs/ARCHITECTURE.md, Security).

Signing up with a member's invite tells that member (``invite_redeemed``); an operator's invite tells nobody. When
the invite was a nomination off the waitlist, the new member's first notification says who nominated them
(``nominated``): before signing up they had no account to be told in. The new member follows their inviter from
the start (as Clubhouse did), which tells the inviter ``followed_you`` like any follow (bounded:
``app/new_followers.py``); an operator's invite has no inviter, so nobody is followed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app import admin
from salon.app.devices import Device, issue_device_token, read_device_token
from salon.app.invites import find_invite
from salon.app.new_followers import tell_followed
from salon.app.notifications import notify, publish
from salon.app.passwords import dummy_verify, hash_password, is_common, needs_rehash, verify_password
from salon.app.ratelimit import address_bucket
from salon.app.services import Services
from salon.app.sessions import (
    Actor,
    NewSession,
    SessionKind,
    create_session,
    end_session,
    end_user_sessions,
)
from salon.app.social import ProfileSocial, profile_social
from salon.domain.accounts import (
    USERNAME_RE,
    Invite,
    UserSummary,
    check_bio,
    check_display_name,
    check_password,
    check_redeemable,
    check_username,
    username_key,
)
from salon.domain.api_paths import avatar_url
from salon.domain.errors import DomainError, ErrorCode, refuse
from salon.domain.notifications import NotificationRecord
from salon.domain.rooms import Profile as Card
from salon.domain.rooms import profile_data
from salon.store import repo_accounts as repo
from salon.store import repo_invites, repo_social, repo_topics
from salon.store.repo_accounts import UserRecord

BAD_CREDENTIALS_MESSAGE = "Wrong username or password."
# notification kinds
INVITE_REDEEMED = "invite_redeemed"  # to the inviter: data {invite_id, user: the new member's card, nominated}
NOMINATED = "nominated"  # to the new member: data {by: the nominator's card}


@dataclass(frozen=True)
class Profile:
    """A member as someone sees them. Fields only some viewers may see are None for the others."""

    id: str
    username: str
    display_name: str
    bio: str
    avatar: str | None
    created_at: datetime
    is_admin: bool
    invited_by: UserSummary | None  # shown to everyone (Clubhouse's "nominated by"); None for the first admin
    topics: list[str]  # topics of interest (domain/topics.py), in the order picked
    invites_left: int | None  # shown to the member themself
    disabled: bool | None  # shown to admins
    social: ProfileSocial  # counts for everyone; how the viewer relates to them on others' profiles


@dataclass(frozen=True)
class SignedIn:
    user: Profile
    session: NewSession
    device_token: str  # for the client to show at its next log-in (app/devices.py)


async def _profile(conn: AsyncConnection, user: UserRecord, viewer: Actor | None) -> Profile:
    is_self = viewer is not None and viewer.user_id == user.id
    is_admin = viewer is not None and viewer.is_admin
    return Profile(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        avatar=user.avatar,
        created_at=user.created_at,
        is_admin=user.is_admin,
        invited_by=await repo.get_summary(conn, user.invited_by),
        topics=await repo_topics.get_topics(conn, user.id),
        invites_left=user.invites_left if is_self else None,
        disabled=(user.disabled_at is not None) if is_admin else None,
        social=await profile_social(conn, user.id, viewer.user_id if viewer is not None else None),
    )


def _self(user: UserRecord, session_hash: str = "") -> Actor:
    return Actor(user_id=user.id, username=user.username, is_admin=user.is_admin, session_hash=session_hash)


async def sign_up_with_invite(
    services: Services, *, code: str, username: str, display_name: str, password: str, kind: SessionKind
) -> SignedIn:
    """Redeem an invite: create the member and their first session. Exactly one account per invite."""
    check_username(username)
    display_name = check_display_name(display_name)
    check_password(password, is_common=is_common(password), username=username)
    invite = check_redeemable(await find_invite(services, code), services.clock.now())
    quota = (await admin.instance_settings(services)).invites_per_member  # an admin may change it live
    async with services.db.read() as conn:
        if await repo.get_user_by_username(conn, username) is not None:
            raise refuse(ErrorCode.USERNAME_TAKEN, "That username is taken; pick another.", field="username")
    password_hash = await hash_password(password)  # slow: outside the write transaction
    user_id = services.ids.new_id()
    async with services.db.transaction() as conn:
        now = services.clock.now()
        await repo.insert_user(
            conn,
            user_id=user_id,
            username=username,
            display_name=display_name,
            password_hash=password_hash,
            is_admin=invite.grants_admin,
            invites_left=quota,
            invited_by=invite.created_by,
            now=now,
        )
        # The conditional update decides: of concurrent redemptions, one claims the invite, the rest roll back.
        if not await repo_invites.claim_invite(conn, invite.id, user_id, now):
            check_redeemable(None, now)  # raises the one "invite not valid" refusal; the block rolls back
        session = await create_session(services, conn, user_id, kind)
        user = await repo.get_user(conn, user_id)
        assert user is not None
        notes = await _tell_about_redemption(services, conn, invite, user)
        notes += await _follow_inviter(services, conn, invite, user_id)
        profile = await _profile(conn, user, _self(user))
    await publish(services, notes)
    return SignedIn(profile, session, _device_token(services, user_id, None))


def _card(summary: UserSummary) -> dict[str, object]:
    return profile_data(Card(summary.id, summary.username, summary.display_name, avatar_url(summary.avatar)))


async def _tell_about_redemption(
    services: Services, conn: AsyncConnection, invite: Invite, user: UserRecord
) -> list[NotificationRecord]:
    """Inside the sign-up transaction: the inviter hears who joined; a nominee hears who nominated them."""
    inviter = await repo.get_summary(conn, invite.created_by)
    if inviter is None:  # an operator's invite (the CLI): nobody to tell
        return []
    new_member = _card(UserSummary(user.id, user.username, user.display_name, user.avatar))
    nominated = invite.waitlist_id is not None
    data = {"invite_id": invite.id, "user": new_member, "nominated": nominated}
    notes = await notify(services, conn, [inviter.id], INVITE_REDEEMED, data)
    if nominated:
        notes += await notify(services, conn, [user.id], NOMINATED, {"by": _card(inviter)})
    return notes


async def _follow_inviter(
    services: Services, conn: AsyncConnection, invite: Invite, user_id: str
) -> list[NotificationRecord]:
    """Inside the sign-up transaction: the new member follows whoever invited them (nobody for an operator's
    invite). A brand-new account has no blocks, so the follow rule has nothing to refuse."""
    if invite.created_by is None:
        return []
    await repo_social.lock_pair(conn, user_id, invite.created_by)
    added = await repo_social.add_follow(conn, user_id, invite.created_by, services.clock.now())
    return await tell_followed(services, conn, user_id, invite.created_by, new_follow=added)


def _device_token(services: Services, user_id: str, known: Device | None) -> str:
    """A fresh token for this device: the same device id when it was already known, else a new one."""
    device = known if known is not None else Device(user_id, services.ids.new_id())
    return issue_device_token(services.secret, device, services.clock.now())


async def _count_failure(services: Services, pair: str, account: str, address: str) -> None:
    limits = services.limits
    await limits.login_pair.fail(pair, services.clock.now())
    for limit, key in [(limits.login_account, account), (limits.failed_login, address)]:
        with contextlib.suppress(DomainError):  # already full: the next attempt is refused by the check
            await limits.hit(limit, key)


async def log_in(
    services: Services,
    *,
    username: str,
    password: str,
    kind: SessionKind,
    client_ip: str,
    device_token: str | None = None,
) -> SignedIn:
    """Check the password, within the log-in limits; only failed attempts count towards them.

    - The pair (account, client) is locked after a few failures, for a time that doubles with each further one;
      the client is the device when the caller shows a token of a device of this account, else the address.
    - The account refuses unknown devices past a ceiling of failures from all addresses together; the address
      refuses past its failures across all accounts. A known device passes both: it only ever meets its own lock.

    Everything is keyed on the username as typed (normalised), never on whether the account exists.
    """
    account = f"user:{username_key(username)[:64]}"
    address = f"ip:{address_bucket(client_ip)}"
    limits = services.limits
    user = None
    if USERNAME_RE.fullmatch(username):
        async with services.db.read() as conn:
            user = await repo.get_user_by_username(conn, username)
    device = read_device_token(services.secret, device_token, services.clock.now())
    known = device if device is not None and user is not None and device.user_id == user.id else None
    pair = f"{account}|" + (f"device:{known.device_id}" if known is not None else address)
    await limits.login_pair.check(pair, services.clock.now())
    if known is None:
        await limits.check(limits.login_account, account)
        await limits.check(limits.failed_login, address)
    if user is None:
        await dummy_verify(password)
        ok = False
    else:
        ok = await verify_password(user.password_hash, password) and user.disabled_at is None
    if user is None or not ok:
        await _count_failure(services, pair, account, address)
        raise refuse(ErrorCode.BAD_CREDENTIALS, BAD_CREDENTIALS_MESSAGE)
    await limits.login_pair.succeed(pair)
    new_hash = await hash_password(password) if needs_rehash(user.password_hash) else None
    async with services.db.transaction() as conn:
        await repo.delete_expired_sessions(conn, services.clock.now(), user.id)
        if new_hash is not None:
            await repo.update_user(conn, user.id, password_hash=new_hash)
        session = await create_session(services, conn, user.id, kind)
        profile = await _profile(conn, user, _self(user))
    return SignedIn(profile, session, _device_token(services, user.id, known))


async def log_out(services: Services, actor: Actor) -> None:
    """End this session, and the WebSockets it opened."""
    await end_session(services, actor.session_hash, "logged_out")


async def log_out_everywhere(services: Services, actor: Actor) -> int:
    """End every session of the actor (all devices); how many ended."""
    return await end_user_sessions(services, actor.user_id, "logged_out")


async def get_me(services: Services, actor: Actor) -> Profile:
    async with services.db.read() as conn:
        user = await repo.get_user(conn, actor.user_id)
        if user is None:
            raise refuse(ErrorCode.NOT_AUTHENTICATED, "Log in first.")
        return await _profile(conn, user, actor)


async def get_profile(services: Services, actor: Actor, user_id: str) -> Profile:
    async with services.db.read() as conn:
        user = await repo.get_user(conn, user_id)
        if user is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such member.")
        return await _profile(conn, user, actor)


async def get_profile_by_username(services: Services, actor: Actor, username: str) -> Profile:
    async with services.db.read() as conn:
        user = await repo.get_user_by_username(conn, username) if USERNAME_RE.fullmatch(username) else None
        if user is None:
            raise refuse(ErrorCode.NOT_FOUND, "No such member.")
        return await _profile(conn, user, actor)


async def update_profile(
    services: Services, actor: Actor, *, display_name: str | None = None, bio: str | None = None
) -> Profile:
    values: dict[str, str] = {}
    if display_name is not None:
        values["display_name"] = check_display_name(display_name)
    if bio is not None:
        values["bio"] = check_bio(bio)
    async with services.db.transaction() as conn:
        if values:
            await repo.update_user(conn, actor.user_id, **values)
        user = await repo.get_user(conn, actor.user_id)
        if user is None:
            raise refuse(ErrorCode.NOT_AUTHENTICATED, "Log in first.")
        return await _profile(conn, user, actor)


async def disable_user(services: Services, actor: Actor, user_id: str) -> None:
    """An admin disables a member: their sessions end and their WebSockets close at once; log-ins are refused
    (``app/admin.py``, which logs it)."""
    await admin.disable_member(services, actor, user_id)


async def enable_user(services: Services, actor: Actor, user_id: str) -> None:
    await admin.enable_member(services, actor, user_id)


async def list_users(services: Services) -> list[UserRecord]:
    """Every account, oldest first (for the operator's CLI)."""
    async with services.db.read() as conn:
        return await repo.list_users(conn)
