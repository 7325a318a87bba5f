"""The follow graph and blocking against the real database (SQLite and PostgreSQL): follow/unfollow, block/unblock
and their effects, paged lists in a stable order, profile counts and "followed by people you follow", and what
follows and blocks do to which rooms a member can find and join."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from salon.app import accounts, social, stage
from salon.app.fakes import FakeClock
from salon.app.rooms import NewRoom, create_room, get_snapshot, list_live_rooms
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.paging import PAGE_MAX
from salon.domain.rooms import RoomType
from salon.store.tables import blocks, follows, users
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def person(services: Services, username: str, *, admin: bool = False) -> Actor:
    user_id = await add_member(services, username, admin=admin)
    return Actor(user_id=user_id, username=username, is_admin=admin, session_hash="")


async def disable(services: Services, who: Actor) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(users.update().where(users.c.id == who.user_id).values(disabled_at=services.clock.now()))


async def graph(services: Services) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    async with services.db.read() as conn:
        f = {(r[0], r[1]) for r in await conn.execute(select(follows.c.follower_id, follows.c.followee_id))}
        b = {(r[0], r[1]) for r in await conn.execute(select(blocks.c.blocker_id, blocks.c.blocked_id))}
    return f, b


async def refused(services: Services, code: ErrorCode, action: Callable[[], Awaitable[object]]) -> DomainError:
    """The action is refused with ``code`` and changes nothing."""
    before = await graph(services)
    with pytest.raises(DomainError) as caught:
        await action()
    assert caught.value.code is code
    assert await graph(services) == before
    return caught.value


def usernames(page: social.Page) -> list[str]:
    return [e.user.username for e in page.entries]


# --- follow / unfollow -----------------------------------------------------------------------------------------


async def test_following_and_unfollowing_are_idempotent(services: Services) -> None:
    ada, bob = await person(services, "ada"), await person(services, "bob")
    first = await social.follow(services, ada, bob.user_id)
    again = await social.follow(services, ada, bob.user_id)
    assert first == again == social.Relation(bob.user_id, True, False, False, 1)
    assert (await graph(services))[0] == {(ada.user_id, bob.user_id)}
    back = await social.follow(services, bob, ada.user_id)
    assert back == social.Relation(ada.user_id, True, True, False, 1)
    gone = await social.unfollow(services, ada, bob.user_id)
    assert gone == social.Relation(bob.user_id, False, True, False, 0)
    assert await social.unfollow(services, ada, bob.user_id) == gone
    assert (await graph(services))[0] == {(bob.user_id, ada.user_id)}


async def test_nobody_follows_themself_an_unknown_or_a_disabled_member(services: Services) -> None:
    ada, bob = await person(services, "ada"), await person(services, "bob")
    await disable(services, bob)
    await refused(services, ErrorCode.SELF_TARGET, lambda: social.follow(services, ada, ada.user_id))
    await refused(services, ErrorCode.NOT_FOUND, lambda: social.follow(services, ada, "nobody"))
    await refused(services, ErrorCode.NOT_FOUND, lambda: social.follow(services, ada, bob.user_id))
    await refused(services, ErrorCode.NOT_FOUND, lambda: social.unfollow(services, ada, "nobody"))
    await refused(services, ErrorCode.NOT_FOUND, lambda: social.block(services, ada, "nobody"))
    await refused(services, ErrorCode.NOT_FOUND, lambda: social.unblock(services, ada, "nobody"))
    await refused(services, ErrorCode.SELF_TARGET, lambda: social.block(services, ada, ada.user_id))


# --- block / unblock -------------------------------------------------------------------------------------------


async def test_blocking_ends_follows_both_ways_and_stops_following_until_unblocked(services: Services) -> None:
    ada, bob, cy = await person(services, "ada"), await person(services, "bob"), await person(services, "cy")
    await social.follow(services, ada, bob.user_id)
    await social.follow(services, bob, ada.user_id)
    await social.follow(services, bob, cy.user_id)
    relation = await social.block(services, ada, bob.user_id)
    assert relation == social.Relation(bob.user_id, False, False, True, 0)
    assert await social.block(services, ada, bob.user_id) == relation  # idempotent
    assert await graph(services) == ({(bob.user_id, cy.user_id)}, {(ada.user_id, bob.user_id)})

    err = await refused(services, ErrorCode.BLOCKED, lambda: social.follow(services, bob, ada.user_id))
    assert err.message == "This member blocked you."
    await refused(services, ErrorCode.UNBLOCK_FIRST, lambda: social.follow(services, ada, bob.user_id))

    assert await social.unblock(services, ada, bob.user_id) == social.Relation(bob.user_id, False, False, False, 0)
    assert await social.unblock(services, ada, bob.user_id) == social.Relation(bob.user_id, False, False, False, 0)
    assert (await social.follow(services, bob, ada.user_id)).followed_by_you
    assert (await social.follow(services, ada, bob.user_id)).follows_you


async def test_blocks_in_both_directions_stand_on_their_own(services: Services) -> None:
    ada, bob = await person(services, "ada"), await person(services, "bob")
    await social.block(services, ada, bob.user_id)
    await social.block(services, bob, ada.user_id)
    await social.unblock(services, ada, bob.user_id)
    await refused(services, ErrorCode.BLOCKED, lambda: social.follow(services, ada, bob.user_id))
    await refused(services, ErrorCode.UNBLOCK_FIRST, lambda: social.follow(services, bob, ada.user_id))


async def test_a_disabled_member_can_be_blocked_and_my_blocks_are_only_mine(
    services: Services, clock: FakeClock
) -> None:
    ada, bob, cy, dee = [await person(services, n) for n in ("ada", "bob", "cy", "dee")]
    await social.block(services, ada, bob.user_id)
    clock.advance(1)
    await social.block(services, ada, cy.user_id)
    await social.block(services, dee, ada.user_id)
    mine = await social.list_my_blocks(services, ada)
    assert usernames(mine) == ["cy", "bob"]  # most recent first
    assert mine.entries[0].since == services.clock.now()
    assert mine.next_cursor is None
    assert usernames(await social.list_my_blocks(services, dee)) == ["ada"]
    assert usernames(await social.list_my_blocks(services, bob)) == []
    await disable(services, cy)
    assert usernames(await social.list_my_blocks(services, ada)) == ["bob"]  # disabled members are not listed
    await social.block(services, dee, cy.user_id)  # blocking a disabled member is allowed: it stands if they return
    assert (await graph(services))[1] >= {(dee.user_id, cy.user_id)}


async def test_concurrent_follows_and_a_racing_block_leave_no_follow_across_the_block(services: Services) -> None:
    for round_ in range(8):
        ada, bob = await person(services, f"ada{round_}"), await person(services, f"bob{round_}")
        results = await asyncio.gather(
            social.follow(services, bob, ada.user_id),
            social.block(services, ada, bob.user_id),
            social.follow(services, bob, ada.user_id),
            return_exceptions=True,
        )
        for r in results:  # each follow ran wholly before the block (and was undone) or after it (and was refused)
            assert not isinstance(r, BaseException) or (isinstance(r, DomainError) and r.code is ErrorCode.BLOCKED), r
        follows_now, blocks_now = await graph(services)
        assert (bob.user_id, ada.user_id) not in follows_now
        assert (ada.user_id, bob.user_id) in blocks_now


# --- lists -----------------------------------------------------------------------------------------------------


async def test_followers_and_following_are_paged_newest_first_in_a_stable_order(
    services: Services, clock: FakeClock
) -> None:
    star = await person(services, "star")
    fans = [await person(services, f"fan{i}") for i in range(7)]
    for i, fan in enumerate(fans):
        if i != 3:  # fan2 and fan3 follow at the same instant: the user id breaks the tie
            clock.advance(1)
        await social.follow(services, fan, star.user_id)
    same_time = sorted([fans[2], fans[3]], key=lambda a: a.user_id, reverse=True)
    expected = ["fan6", "fan5", "fan4", *(a.username for a in same_time), "fan1", "fan0"]

    seen: list[str] = []
    page = await social.list_followers(services, star, star.user_id, limit=2)
    pages = 1
    while True:
        seen += usernames(page)
        if page.next_cursor is None:
            break
        if pages == 2:  # a newcomer between pages neither shifts nor repeats what comes next
            newcomer = await person(services, "newcomer")
            clock.advance(1)
            await social.follow(services, newcomer, star.user_id)
        page = await social.list_followers(services, star, star.user_id, cursor=page.next_cursor, limit=2)
        pages += 1
    assert seen == expected
    assert pages == 4
    assert usernames(await social.list_followers(services, star, star.user_id))[:2] == ["newcomer", "fan6"]

    full = await social.list_followers(services, star, star.user_id, limit=8)
    assert len(full.entries) == 8
    assert full.next_cursor is None  # exactly a page: no empty page after it

    for fan in fans[:3]:
        clock.advance(1)
        await social.follow(services, star, fan.user_id)
    following = await social.list_following(services, fans[0], star.user_id)
    assert usernames(following) == ["fan2", "fan1", "fan0"]
    assert [e.followed_by_viewer for e in following.entries] == [False, False, False]
    followers_as_fan0 = await social.list_followers(services, fans[0], star.user_id, limit=PAGE_MAX)
    assert {e.user.username for e in followers_as_fan0.entries if e.followed_by_viewer} == set()
    await social.follow(services, fans[0], fans[5].user_id)
    followers_as_fan0 = await social.list_followers(services, fans[0], star.user_id, limit=PAGE_MAX)
    assert {e.user.username for e in followers_as_fan0.entries if e.followed_by_viewer} == {"fan5"}


async def test_disabled_members_leave_lists_and_counts(services: Services) -> None:
    ada, bob, cy = await person(services, "ada"), await person(services, "bob"), await person(services, "cy")
    await social.follow(services, bob, ada.user_id)
    await social.follow(services, cy, ada.user_id)
    await social.follow(services, ada, cy.user_id)
    await disable(services, cy)
    assert usernames(await social.list_followers(services, bob, ada.user_id)) == ["bob"]
    assert usernames(await social.list_following(services, bob, ada.user_id)) == []
    profile = await accounts.get_profile(services, bob, ada.user_id)
    assert (profile.social.followers_count, profile.social.following_count) == (1, 0)
    await refused(services, ErrorCode.NOT_FOUND, lambda: social.list_followers(services, ada, cy.user_id))
    await refused(services, ErrorCode.NOT_FOUND, lambda: social.list_following(services, ada, "nobody"))


async def test_a_member_who_blocked_you_does_not_show_you_their_lists(services: Services) -> None:
    ada, bob = await person(services, "ada"), await person(services, "bob")
    await social.block(services, ada, bob.user_id)
    await refused(services, ErrorCode.BLOCKED, lambda: social.list_followers(services, bob, ada.user_id))
    await refused(services, ErrorCode.BLOCKED, lambda: social.list_following(services, bob, ada.user_id))
    assert usernames(await social.list_followers(services, ada, bob.user_id)) == []  # the blocker still may


async def test_a_bad_cursor_or_page_size_is_invalid_input(services: Services) -> None:
    ada = await person(services, "ada")
    for call in (
        lambda: social.list_followers(services, ada, ada.user_id, cursor="garbage"),
        lambda: social.list_following(services, ada, ada.user_id, limit=0),
        lambda: social.list_my_blocks(services, ada, limit=PAGE_MAX + 1),
    ):
        await refused(services, ErrorCode.INVALID_INPUT, call)


# --- profiles --------------------------------------------------------------------------------------------------


async def test_profiles_count_follows_and_show_followers_you_know(services: Services, clock: FakeClock) -> None:
    me, star = await person(services, "me"), await person(services, "star")
    friends = [await person(services, f"friend{i}") for i in range(5)]
    stranger = await person(services, "stranger")
    for i, friend in enumerate(friends):
        await social.follow(services, me, friend.user_id)
        if i < 4:
            clock.advance(1)
            await social.follow(services, friend, star.user_id)
    await social.follow(services, stranger, star.user_id)
    await social.follow(services, star, me.user_id)

    seen = (await accounts.get_profile(services, me, star.user_id)).social
    assert (seen.followers_count, seen.following_count) == (5, 1)
    assert (seen.followed_by_you, seen.follows_you, seen.blocked_by_you) == (False, True, False)
    assert seen.known_followers is not None
    assert seen.known_followers.count == 4
    assert [u.username for u in seen.known_followers.users] == ["friend3", "friend2", "friend1"]

    await disable(services, friends[3])
    known = (await accounts.get_profile(services, me, star.user_id)).social.known_followers
    assert known is not None
    assert (known.count, [u.username for u in known.users]) == (3, ["friend2", "friend1", "friend0"])

    mine = (await accounts.get_me(services, me)).social
    assert (mine.followers_count, mine.following_count) == (1, 4)  # friend3 is disabled
    assert (mine.followed_by_you, mine.follows_you, mine.blocked_by_you, mine.known_followers) == (
        None,
        None,
        None,
        None,
    )
    nobody_known = (await accounts.get_profile(services, friends[4], me.user_id)).social.known_followers
    assert nobody_known == social.KnownFollowers(0, [])  # friend4 follows nobody who follows me
    via_star = (await accounts.get_profile(services, stranger, me.user_id)).social.known_followers
    assert via_star is not None
    assert (via_star.count, [u.username for u in via_star.users]) == (1, ["star"])

    await social.block(services, me, star.user_id)
    blocked = (await accounts.get_profile(services, me, star.user_id)).social
    assert (blocked.followed_by_you, blocked.follows_you, blocked.blocked_by_you) == (False, False, True)


# --- rooms: social rooms and blocks ----------------------------------------------------------------------------


async def _room(services: Services, host: Actor, kind: RoomType) -> str:
    return str((await create_room(services, host.user_id, NewRoom("Talk", "", [], kind)))["room"]["id"])


async def _listed(services: Services, viewer: Actor) -> set[str]:
    return {r["room"]["id"] for r in await list_live_rooms(services, viewer.user_id)}


async def _hidden(services: Services, viewer: Actor, room_id: str) -> None:
    """The room is as good as absent for ``viewer``: not listed, not found, cannot be joined."""
    assert room_id not in await _listed(services, viewer)
    for action in (
        lambda: get_snapshot(services, viewer.user_id, room_id),
        lambda: stage.join(services, viewer.user_id, room_id),
    ):
        with pytest.raises(DomainError) as caught:
            await action()
        assert caught.value.code is ErrorCode.NOT_FOUND


async def _visible(services: Services, viewer: Actor, room_id: str) -> None:
    assert room_id in await _listed(services, viewer)
    assert (await get_snapshot(services, viewer.user_id, room_id))["room"]["id"] == room_id


async def test_a_social_room_is_hidden_from_members_who_follow_none_of_its_moderators(services: Services) -> None:
    host, fan, root = (
        await person(services, "host"),
        await person(services, "fan"),
        await person(services, "root", admin=True),
    )
    room_id = await _room(services, host, RoomType.SOCIAL)
    await social.follow(services, host, fan.user_id)  # being followed by the host is not following them
    await _hidden(services, fan, room_id)
    await _visible(services, root, room_id)  # admins see every room
    await stage.join(services, root.user_id, room_id)


async def test_following_a_moderator_opens_a_social_room(services: Services) -> None:
    host, fan, speaker_fan = [await person(services, n) for n in ("host", "fan", "speakerfan")]
    spk = await person(services, "spk")
    room_id = await _room(services, host, RoomType.SOCIAL)
    await social.follow(services, spk, host.user_id)
    await stage.join(services, spk.user_id, room_id)
    await stage.invite_up(services, host.user_id, room_id, spk.user_id)
    await stage.accept_stage_invite(services, spk.user_id, room_id)
    await social.follow(services, speaker_fan, spk.user_id)
    await _hidden(services, speaker_fan, room_id)  # following a speaker is not enough: a moderator decides

    await social.follow(services, fan, host.user_id)
    await _visible(services, fan, room_id)
    await stage.join(services, fan.user_id, room_id)
    await social.unfollow(services, fan, host.user_id)
    await _visible(services, fan, room_id)  # already inside: unfollowing does not throw anyone out
    await stage.leave(services, fan.user_id, room_id)
    await _hidden(services, fan, room_id)


async def test_an_invitation_up_opens_a_social_room(services: Services) -> None:
    host, guest = await person(services, "host"), await person(services, "guest")
    room_id = await _room(services, host, RoomType.SOCIAL)
    await stage.invite_up(services, host.user_id, room_id, guest.user_id)
    await _visible(services, guest, room_id)
    await stage.join(services, guest.user_id, room_id)


@pytest.mark.parametrize("kind", [RoomType.OPEN, RoomType.SOCIAL])
async def test_someone_a_moderator_blocked_cannot_find_or_join_the_room(services: Services, kind: RoomType) -> None:
    host, pest, spk = await person(services, "host"), await person(services, "pest"), await person(services, "spk")
    room_id = await _room(services, host, kind)
    await social.follow(services, pest, spk.user_id)
    await social.follow(services, spk, host.user_id)
    await stage.join(services, spk.user_id, room_id)
    await stage.invite_up(services, host.user_id, room_id, spk.user_id)
    await stage.accept_stage_invite(services, spk.user_id, room_id)
    await stage.set_moderator(services, host.user_id, room_id, spk.user_id, True)
    if kind is RoomType.OPEN:
        await _visible(services, pest, room_id)
    await social.block(services, spk, pest.user_id)  # one moderator's block is enough
    await _hidden(services, pest, room_id)
    await social.unblock(services, spk, pest.user_id)
    await social.follow(services, pest, host.user_id)
    await _visible(services, pest, room_id)


async def test_a_block_by_a_speaker_hides_nothing_and_a_block_leaves_those_inside_in(services: Services) -> None:
    host, spk, pest = await person(services, "host"), await person(services, "spk"), await person(services, "pest")
    room_id = await _room(services, host, RoomType.OPEN)
    await stage.join(services, spk.user_id, room_id)
    await stage.invite_up(services, host.user_id, room_id, spk.user_id)
    await stage.accept_stage_invite(services, spk.user_id, room_id)
    await social.block(services, spk, pest.user_id)
    await _visible(services, pest, room_id)
    await stage.join(services, pest.user_id, room_id)
    await social.block(services, host, pest.user_id)
    await _visible(services, pest, room_id)  # the moderator may remove them; the block alone does not
    await stage.leave(services, pest.user_id, room_id)
    await _hidden(services, pest, room_id)


async def test_counts_match_the_follows_table(services: Services) -> None:
    ada = await person(services, "ada")
    others = [await person(services, f"p{i}") for i in range(4)]
    for other in others:
        await social.follow(services, other, ada.user_id)
    await social.block(services, ada, others[0].user_id)
    async with services.db.read() as conn:
        stored = (await conn.execute(select(func.count()).where(follows.c.followee_id == ada.user_id))).scalar_one()
    assert (await accounts.get_me(services, ada)).social.followers_count == stored == 3
