"""Arriving and growing, on both engines: the invite check names the inviter, sign-up follows the inviter,
"followed you" with its bounds (once per pair ever, 20 an hour), topics of interest and their validation, the
people offered to follow, and migration 0007 going up and down."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from salon.app import accounts, invites, onboarding, social, topics
from salon.app.fakes import FakeClock
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.new_followers import FOLLOWED_YOU, PER_HOUR
from salon.domain.rooms import RoomType
from salon.store.database import Database
from salon.store.migrate import alembic_config, upgrade
from tests.support.accounts import actor_of, member, sign_up, sign_up_code
from tests.support.notices import told

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


def room(title: str) -> NewRoom:
    return NewRoom(title=title, description="", topics=[], type=RoomType.OPEN)


def card(who: Any) -> dict[str, Any]:
    return {"id": who.user_id, "username": who.username, "display_name": who.username.title(), "avatar_url": None}


async def test_the_invite_check_names_the_inviter_and_says_nothing_of_a_dead_code(services: Services) -> None:
    ada = await member(services, "ada")
    new = await invites.create_invite(services, ada)
    found = await invites.invite_check(services, new.code)
    assert found.valid
    assert found.invited_by is not None
    assert (found.invited_by.id, found.invited_by.username) == (ada.user_id, "ada")
    operator = await invites.create_operator_invite(services)
    assert await invites.invite_check(services, operator.code) == invites.InviteCheck(True, None)
    await sign_up_code(services, new.code, "bob")
    assert await invites.invite_check(services, new.code) == invites.InviteCheck(False, None)
    assert await invites.invite_check(services, "no-such-code") == invites.InviteCheck(False, None)


async def test_sign_up_follows_the_inviter_who_hears_followed_you(services: Services) -> None:
    ada = await member(services, "ada")
    bob = actor_of(await sign_up(services, "bob", invited_by=ada))
    me = await accounts.get_me(services, bob)
    assert me.social.following_count == 1
    relation = await social.unfollow(services, bob, ada.user_id)  # it was there to undo
    assert relation.follows_you is False
    assert relation.followed_by_you is False
    assert await told(services, ada.user_id, FOLLOWED_YOU) == [(FOLLOWED_YOU, {"user": card(bob)})]
    # The profile says who invited whom, to anyone; the operator's members were invited by nobody.
    carl = await member(services, "carl")
    seen = await accounts.get_profile(services, carl, bob.user_id)
    assert seen.invited_by is not None
    assert seen.invited_by.id == ada.user_id
    assert (await accounts.get_profile(services, bob, ada.user_id)).invited_by is None
    assert (await accounts.get_me(services, carl)).social.following_count == 0
    assert await told(services, carl.user_id, FOLLOWED_YOU) == []


async def test_followed_you_once_per_pair_ever(services: Services) -> None:
    ada, bob = await member(services, "ada"), await member(services, "bob")
    await social.follow(services, bob, ada.user_id)
    await social.follow(services, bob, ada.user_id)  # following twice
    await social.unfollow(services, bob, ada.user_id)
    await social.follow(services, bob, ada.user_id)  # and again after unfollowing
    assert await told(services, ada.user_id, FOLLOWED_YOU) == [(FOLLOWED_YOU, {"user": card(bob)})]
    await social.follow(services, ada, bob.user_id)  # following back tells the other side, once
    assert await told(services, bob.user_id, FOLLOWED_YOU) == [(FOLLOWED_YOU, {"user": card(ada)})]


async def test_followed_you_at_most_20_an_hour_per_member(services: Services, clock: FakeClock) -> None:
    star = await member(services, "star")
    fans = [await member(services, f"fan{i}") for i in range(PER_HOUR + 2)]
    for fan in fans:
        await social.follow(services, fan, star.user_id)
    assert len(await told(services, star.user_id, FOLLOWED_YOU)) == PER_HOUR
    clock.advance(3601)
    late = await member(services, "late")
    await social.follow(services, late, star.user_id)
    notes = await told(services, star.user_id, FOLLOWED_YOU)
    assert len(notes) == PER_HOUR + 1
    assert notes[-1] == (FOLLOWED_YOU, {"user": card(late)})
    # The two left out in the full hour were not told about; a refollow now may tell, being the first time.
    await social.unfollow(services, fans[-1], star.user_id)
    await social.follow(services, fans[-1], star.user_id)
    assert (await told(services, star.user_id, FOLLOWED_YOU))[-1] == (FOLLOWED_YOU, {"user": card(fans[-1])})


async def test_topics_are_checked_kept_in_order_and_shown_on_the_profile(services: Services) -> None:
    ada, bob = await member(services, "ada"), await member(services, "bob")
    assert await topics.my_topics(services, ada) == []
    assert await topics.set_my_topics(services, ada, ["jazz", "books", "jazz", "tech"]) == ["jazz", "books", "tech"]
    assert await topics.my_topics(services, ada) == ["jazz", "books", "tech"]
    assert (await accounts.get_profile(services, bob, ada.user_id)).topics == ["jazz", "books", "tech"]
    for bad in (["jazz", "knitting"], ["music", "jazz", "books", "writing", "tech", "design"]):
        with pytest.raises(DomainError) as exc:
            await topics.set_my_topics(services, ada, bad)
        assert (exc.value.code, exc.value.data["field"]) == (ErrorCode.INVALID_INPUT, "topics")
    assert await topics.my_topics(services, ada) == ["jazz", "books", "tech"]  # a refusal changes nothing
    assert await topics.set_my_topics(services, ada, []) == []
    assert await topics.my_topics(services, ada) == []


async def test_people_to_follow_start_with_the_inviter_then_whom_they_follow_then_active_members(
    services: Services,
) -> None:
    ada = await member(services, "ada")
    friend, _other, opener, blocker = [await member(services, n) for n in ("friend", "other", "opener", "blocker")]
    await social.follow(services, ada, friend.user_id)
    await create_room(services, opener.user_id, room("Open talk"))
    bob = actor_of(await sign_up(services, "bob", invited_by=ada))
    await social.block(services, blocker, bob.user_id)
    await create_room(services, blocker.user_id, room("Hidden from bob"))
    found = await onboarding.people_to_follow(services, bob)
    ordered = [(s.suggestion.user.username, s.suggestion.reason, s.followed_by_you) for s in found]
    assert ordered[:3] == [
        ("ada", "inviter", True),
        ("friend", "followed_by_inviter", False),
        ("opener", "active", False),
    ]
    names = [name for name, _, _ in ordered]
    assert "bob" not in names
    assert "blocker" not in names
    assert len(names) == len(set(names))
    assert "other" not in names  # never opened a room, nobody follows them


async def test_migration_0007_goes_down_and_up(database: Database) -> None:
    def tables(connection: Connection) -> set[str]:
        return set(inspect(connection).get_table_names())

    def downgrade(connection: Connection) -> None:
        cfg = alembic_config(database.url)
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0006")

    async with database.engine.begin() as conn:
        assert "member_topics" in await conn.run_sync(tables)
        await conn.run_sync(downgrade)
    async with database.engine.connect() as conn:
        assert "member_topics" not in await conn.run_sync(tables)
    await upgrade(database)
    async with database.engine.connect() as conn:
        assert "member_topics" in await conn.run_sync(tables)
