"""App layer: the follow graph and blocking — follow, unfollow, block, unblock, the lists, and the social part of a
profile (counts, how the viewer and the member relate, followers the viewer knows).

Follows and blocks are between enabled members; following or blocking twice, and undoing what is not there, are
not errors. A new follow tells the followed member (``followed_you``, bounded: ``app/new_followers.py``).
Blocking ends follows both ways; the rooms a blocker moderates hide from the blocked member through
``Access.blocked_by_a_moderator`` (``domain/rooms.can_see``), read from the same ``blocks`` table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.new_followers import tell_followed
from salon.app.notifications import publish
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.accounts import UserSummary
from salon.domain.errors import ErrorCode, refuse
from salon.domain.paging import PAGE_DEFAULT, Cursor, check_page_size, decode_cursor, encode_cursor
from salon.domain.social import KNOWN_FOLLOWERS_SHOWN, Entry, check_block, check_follow, check_lists_visible
from salon.store import repo_accounts, repo_social


@dataclass(frozen=True)
class KnownFollowers:
    """Followers of a member whom the viewer follows: how many, and up to three of them (most recent first)."""

    count: int
    users: list[UserSummary]


@dataclass(frozen=True)
class ProfileSocial:
    """The social part of a profile. Relation fields are None on your own profile."""

    followers_count: int
    following_count: int
    followed_by_you: bool | None
    follows_you: bool | None
    blocked_by_you: bool | None
    known_followers: KnownFollowers | None


@dataclass(frozen=True)
class Relation:
    """How the actor and another member stand after a follow, unfollow, block or unblock."""

    user_id: str
    followed_by_you: bool
    follows_you: bool
    blocked_by_you: bool
    followers_count: int


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    next_cursor: str | None


async def profile_social(conn: AsyncConnection, user_id: str, viewer_id: str | None) -> ProfileSocial:
    followers_count = await repo_social.count_followers(conn, user_id)
    following_count = await repo_social.count_following(conn, user_id)
    if viewer_id is None or viewer_id == user_id:
        return ProfileSocial(followers_count, following_count, None, None, None, None)
    count, known = await repo_social.known_followers(conn, user_id, viewer_id, KNOWN_FOLLOWERS_SHOWN)
    return ProfileSocial(
        followers_count=followers_count,
        following_count=following_count,
        followed_by_you=await repo_social.is_following(conn, viewer_id, user_id),
        follows_you=await repo_social.is_following(conn, user_id, viewer_id),
        blocked_by_you=await repo_social.has_blocked(conn, viewer_id, user_id),
        known_followers=KnownFollowers(count, known),
    )


async def _require_member(conn: AsyncConnection, user_id: str, *, enabled: bool = True) -> None:
    user = await repo_accounts.get_user(conn, user_id)
    if user is None or (enabled and user.disabled_at is not None):
        raise refuse(ErrorCode.NOT_FOUND, "No such member.")


async def _relation(conn: AsyncConnection, actor_id: str, user_id: str) -> Relation:
    return Relation(
        user_id=user_id,
        followed_by_you=await repo_social.is_following(conn, actor_id, user_id),
        follows_you=await repo_social.is_following(conn, user_id, actor_id),
        blocked_by_you=await repo_social.has_blocked(conn, actor_id, user_id),
        followers_count=await repo_social.count_followers(conn, user_id),
    )


async def follow(services: Services, actor: Actor, user_id: str) -> Relation:
    """Follow an enabled member; ``blocked`` if they blocked you, ``unblock_first`` if you blocked them."""
    async with services.db.transaction() as conn:
        await _require_member(conn, user_id)
        await repo_social.lock_pair(conn, actor.user_id, user_id)
        check_follow(
            actor.user_id,
            user_id,
            blocked_by_them=await repo_social.has_blocked(conn, user_id, actor.user_id),
            blocked_by_me=await repo_social.has_blocked(conn, actor.user_id, user_id),
        )
        added = await repo_social.add_follow(conn, actor.user_id, user_id, services.clock.now())
        notes = await tell_followed(services, conn, actor.user_id, user_id, new_follow=added)
        relation = await _relation(conn, actor.user_id, user_id)
    await publish(services, notes)
    return relation


async def unfollow(services: Services, actor: Actor, user_id: str) -> Relation:
    async with services.db.transaction() as conn:
        await _require_member(conn, user_id, enabled=False)
        await repo_social.remove_follow(conn, actor.user_id, user_id)
        return await _relation(conn, actor.user_id, user_id)


async def block(services: Services, actor: Actor, user_id: str) -> Relation:
    """Block a member (a disabled one too: the block stands if they come back). Follows end both ways."""
    check_block(actor.user_id, user_id)
    async with services.db.transaction() as conn:
        await _require_member(conn, user_id, enabled=False)
        await repo_social.lock_pair(conn, actor.user_id, user_id)
        await repo_social.add_block(conn, actor.user_id, user_id, services.clock.now())
        return await _relation(conn, actor.user_id, user_id)


async def unblock(services: Services, actor: Actor, user_id: str) -> Relation:
    async with services.db.transaction() as conn:
        await _require_member(conn, user_id, enabled=False)
        await repo_social.remove_block(conn, actor.user_id, user_id)
        return await _relation(conn, actor.user_id, user_id)


def _page(entries: list[Entry], limit: int) -> Page:
    if len(entries) <= limit:
        return Page(entries, None)
    last = entries[limit - 1]
    return Page(entries[:limit], encode_cursor(Cursor(last.since, last.user.id)))


def _cursor(text: str | None) -> Cursor | None:
    return None if text is None else decode_cursor(text)


async def _list(
    services: Services, actor: Actor, user_id: str, cursor: str | None, limit: int, *, followers: bool
) -> Page:
    limit = check_page_size(limit)
    after = _cursor(cursor)
    async with services.db.read() as conn:
        await _require_member(conn, user_id)
        check_lists_visible(blocked_by_owner=await repo_social.has_blocked(conn, user_id, actor.user_id))
        read = repo_social.followers if followers else repo_social.following
        return _page(await read(conn, user_id, actor.user_id, after, limit + 1), limit)


async def list_followers(
    services: Services, actor: Actor, user_id: str, *, cursor: str | None = None, limit: int = PAGE_DEFAULT
) -> Page:
    """Who follows a member, newest first (enabled members only)."""
    return await _list(services, actor, user_id, cursor, limit, followers=True)


async def list_following(
    services: Services, actor: Actor, user_id: str, *, cursor: str | None = None, limit: int = PAGE_DEFAULT
) -> Page:
    """Whom a member follows, newest first (enabled members only)."""
    return await _list(services, actor, user_id, cursor, limit, followers=False)


async def list_my_blocks(
    services: Services, actor: Actor, *, cursor: str | None = None, limit: int = PAGE_DEFAULT
) -> Page:
    """The members I blocked, most recent first. Nobody else's."""
    limit = check_page_size(limit)
    after = _cursor(cursor)
    async with services.db.read() as conn:
        return _page(await repo_social.blocked_by(conn, actor.user_id, after, limit + 1), limit)
