"""Notifications about people one follows and about one's invites, against the real database (SQLite and
PostgreSQL): ``followed_started_room`` and ``followed_speaking`` reach exactly the followers who may see the room,
once per followed member per room and at most ``PER_HOUR`` an hour; ``invite_redeemed`` and ``nominated`` arrive
once with the sign-up that causes them. Each is written in its cause's transaction (a failure leaves none)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event

from salon.app import invites, scheduled_events, social, stage, waitlist
from salon.app.accounts import INVITE_REDEEMED, NOMINATED, disable_user
from salon.app.fakes import FakeClock
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.notices import PER_HOUR, SPEAKING, STARTED_ROOM, WINDOW
from salon.domain.rooms import RoomType
from salon.store import repo_follow_notices, repo_rooms
from tests.support.accounts import member, sign_up_code
from tests.support.notices import as_actor, told
from tests.support.people import add_member
from tests.support.scheduled_events import schedule

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def open_room(services: Services, mod: str, kind: RoomType = RoomType.OPEN, title: str = "Talk") -> str:
    return str((await create_room(services, mod, NewRoom(title, "", [], kind)))["room"]["id"])


async def follow(services: Services, follower: str, *followees: str) -> None:
    for followee in followees:
        await social.follow(services, as_actor(follower), followee)


async def on_stage(services: Services, mod: str, room: str, who: str) -> None:
    """``who``, in the room, accepts the moderator's invitation up."""
    await stage.invite_up(services, mod, room, who)
    await stage.accept_stage_invite(services, who, room)


def about(kind: str, room: str, title: str, user_id: str, username: str) -> tuple[str, dict[str, Any]]:
    card = {"id": user_id, "username": username, "display_name": username.title(), "avatar_url": None}
    return kind, {"room_id": room, "title": title, "user": card}


# --- started a room ----------------------------------------------------------------------------------------------


async def test_followers_hear_once_that_someone_they_follow_opened_an_open_room(services: Services) -> None:
    ada, fan, fan2, other = [await add_member(services, n) for n in ("ada", "fan", "fan2", "other")]
    await follow(services, fan, ada)
    await follow(services, fan2, ada)
    room = await open_room(services, ada, title="Jazz")
    for who in (fan, fan2):
        assert await told(services, who) == [about(STARTED_ROOM, room, "Jazz", ada, "ada")]
    assert await told(services, other) == []
    assert await told(services, ada, STARTED_ROOM) == []  # (she heard "followed you" twice: test_onboarding.py)


async def test_a_social_room_is_announced_to_the_moderators_followers_and_a_closed_one_to_nobody(
    services: Services,
) -> None:
    ada, fan = await add_member(services, "ada"), await add_member(services, "fan")
    root = await add_member(services, "root", admin=True)
    await follow(services, fan, ada)
    await follow(services, root, ada)
    social_room = await open_room(services, ada, RoomType.SOCIAL)
    await open_room(services, ada, RoomType.CLOSED)
    assert [n[1]["room_id"] for n in await told(services, fan)] == [social_room]
    # An admin may look into any room, but hears about rooms as a member would.
    assert [n[1]["room_id"] for n in await told(services, root)] == [social_room]


async def test_a_started_event_tells_the_hosts_other_followers_and_not_its_list_twice(
    services: Services, clock: FakeClock
) -> None:
    ada, bob = await add_member(services, "ada"), await add_member(services, "bob")
    rsvped, fan, bob_fan = [await add_member(services, n) for n in ("rsvped", "fan", "bobfan")]
    await follow(services, rsvped, ada)
    await follow(services, fan, ada)
    await follow(services, bob_fan, bob)
    event = (await schedule(services, as_actor(ada), in_minutes=10, cohosts=[bob])).event
    await scheduled_events.set_rsvp(services, as_actor(rsvped), event.id, True)
    room = (await scheduled_events.start_event(services, as_actor(ada), event.id)).event.room_id
    assert room is not None
    assert [kind for kind, _ in await told(services, rsvped)] == ["event_started"]
    assert await told(services, fan) == [about(STARTED_ROOM, room, event.title, ada, "ada")]
    # The co-host takes their place on stage as a moderator: their followers hear they are speaking.
    await stage.join(services, bob, room)
    assert await told(services, bob_fan) == [about(SPEAKING, room, event.title, bob, "bob")]


# --- speaking ----------------------------------------------------------------------------------------------------


async def test_followers_hear_when_someone_they_follow_comes_on_stage_once_per_room(services: Services) -> None:
    ada, bob, fan = [await add_member(services, n) for n in ("ada", "bob", "fan")]
    await follow(services, fan, bob)
    room = await open_room(services, ada, title="Jazz")
    await stage.join(services, bob, room)
    assert await told(services, fan) == [], "listening is not speaking"
    await on_stage(services, ada, room, bob)
    assert await told(services, fan) == [about(SPEAKING, room, "Jazz", bob, "bob")]
    # Down, up again; out, back in straight onto the stage: still the one notice for this room.
    await stage.move_to_audience(services, ada, room, bob)
    await on_stage(services, ada, room, bob)
    await stage.leave(services, bob, room)
    await stage.invite_up(services, ada, room, bob)
    await stage.join(services, bob, room)
    assert len(await told(services, fan)) == 1
    # Another room is another notice.
    elsewhere = await open_room(services, ada, title="Blues")
    await stage.invite_up(services, ada, elsewhere, bob)
    await stage.join(services, bob, elsewhere)
    assert await told(services, fan) == [
        about(SPEAKING, room, "Jazz", bob, "bob"),
        about(SPEAKING, elsewhere, "Blues", bob, "bob"),
    ]


async def test_one_notice_per_followed_member_per_room_whatever_the_kind(services: Services) -> None:
    ada, bob, fan = [await add_member(services, n) for n in ("ada", "bob", "fan")]
    await follow(services, fan, ada, bob)
    room = await open_room(services, ada)
    await stage.join(services, bob, room)
    await on_stage(services, ada, room, bob)
    # ada, who opened the room, steps down and comes back up: her followers heard about her in this room already.
    await stage.set_moderator(services, ada, room, bob, True)
    await stage.move_to_audience(services, ada, room, ada)
    await on_stage(services, bob, room, ada)
    assert [(k, d["user"]["id"]) for k, d in await told(services, fan)] == [(STARTED_ROOM, ada), (SPEAKING, bob)]


async def test_nobody_hears_about_a_room_they_may_not_see_or_are_in(services: Services) -> None:
    ada, bob = await add_member(services, "ada"), await add_member(services, "bob")
    inside, outsider, let_in, blocked, removed = [
        await add_member(services, n) for n in ("inside", "outsider", "letin", "blocked", "removed")
    ]
    fans = (inside, outsider, let_in, blocked, removed)
    for fan in fans:
        await follow(services, fan, bob)
    closed = await open_room(services, ada, RoomType.CLOSED)
    for fan in (inside, let_in, blocked, removed):
        await stage.let_in(services, ada, closed, fan)
    await stage.join(services, inside, closed)
    await stage.join(services, removed, closed)
    await stage.remove(services, ada, closed, removed)
    await social.block(services, as_actor(ada), blocked)  # the room's moderator blocked them
    await stage.let_in(services, ada, closed, bob)
    await stage.join(services, bob, closed)
    await on_stage(services, ada, closed, bob)
    assert {fan: len(await told(services, fan)) for fan in fans} == {
        inside: 0,
        outsider: 0,
        let_in: 1,
        blocked: 0,
        removed: 0,
    }


async def test_a_social_room_is_told_only_to_those_who_may_see_it(services: Services) -> None:
    ada, bob = await add_member(services, "ada"), await add_member(services, "bob")
    only_bob, both = await add_member(services, "onlybob"), await add_member(services, "both")
    await follow(services, only_bob, bob)
    await follow(services, both, bob, ada)
    room = await open_room(services, ada, RoomType.SOCIAL)
    await follow(services, bob, ada)
    await stage.join(services, bob, room)
    await on_stage(services, ada, room, bob)
    assert await told(services, only_bob) == []
    assert [(k, d["user"]["id"]) for k, d in await told(services, both)] == [(STARTED_ROOM, ada), (SPEAKING, bob)]


async def test_disabled_followers_hear_nothing(services: Services) -> None:
    root = await member(services, "root", admin=True)
    ada, fan = await add_member(services, "ada"), await add_member(services, "fan")
    await follow(services, fan, ada)
    await disable_user(services, root, fan)
    await open_room(services, ada)
    assert await told(services, fan) == []


# --- the hourly bound --------------------------------------------------------------------------------------------


async def test_nobody_gets_more_than_per_hour_follow_notices_an_hour(services: Services, clock: FakeClock) -> None:
    fan = await add_member(services, "fan")
    hosts = [await add_member(services, f"host{i}") for i in range(PER_HOUR + 2)]
    await follow(services, fan, *hosts)
    for host in hosts[: PER_HOUR + 1]:
        clock.advance(60)
        await open_room(services, host)
    assert len(await told(services, fan)) == PER_HOUR
    # Speaking counts against the same hour.
    bob = hosts[-1]
    room = await open_room(services, hosts[0])
    await stage.join(services, bob, room)
    await on_stage(services, hosts[0], room, bob)
    assert len(await told(services, fan)) == PER_HOUR
    # The window slides: an hour after the first one, there is room for one more.
    clock.advance(3600 - PER_HOUR * 60)
    await stage.move_to_audience(services, bob, room, bob)
    await on_stage(services, hosts[0], room, bob)
    assert await told(services, fan, SPEAKING) == [about(SPEAKING, room, "Talk", bob, "host6")]
    assert len(await told(services, fan)) == PER_HOUR + 1


async def test_the_hourly_bound_holds_when_rooms_open_at_once(services: Services) -> None:
    # Each room opens in its own transaction on its own connection: on PostgreSQL they run side by side, and only
    # the follow-notice lock (repo_follow_notices.lock) keeps them from all reading the count before any wrote.
    fan = await add_member(services, "fan")
    hosts = [await add_member(services, f"host{i}") for i in range(2 * PER_HOUR)]
    await follow(services, fan, *hosts)
    await asyncio.gather(*(open_room(services, host) for host in hosts))
    assert len(await told(services, fan)) == PER_HOUR


async def test_the_facts_take_a_fixed_number_of_statements_however_many_followers(services: Services) -> None:
    ada, bob = await add_member(services, "ada"), await add_member(services, "bob")
    room = await open_room(services, ada)
    async with services.db.read() as conn:
        found = await repo_rooms.get_room(conn, room)
    assert found is not None

    async def statements() -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(str(args[2]))

        engine = services.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            async with services.db.transaction() as conn:
                await repo_follow_notices.candidates(conn, found[0], bob, services.clock.now(), WINDOW)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len([s for s in seen if not s.startswith(("BEGIN", "COMMIT"))])

    assert await statements() == 1  # nobody follows bob
    await follow(services, await add_member(services, "fan0"), bob)
    few = await statements()
    for i in range(1, 30):
        await follow(services, await add_member(services, f"fan{i}"), bob)
    assert await statements() == few == (10 if services.db.is_sqlite else 11)


# --- in the cause's transaction ----------------------------------------------------------------------------------


async def test_a_command_that_fails_leaves_no_notice(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    ada, bob, fan = [await add_member(services, n) for n in ("ada", "bob", "fan")]
    await follow(services, fan, bob)
    room = await open_room(services, ada)
    await stage.join(services, bob, room)
    await stage.invite_up(services, ada, room, bob)

    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(repo_rooms, "append_events", broken)
    with pytest.raises(RuntimeError):
        await stage.accept_stage_invite(services, bob, room)
    monkeypatch.undo()
    assert await told(services, fan) == []
    await stage.accept_stage_invite(services, bob, room)
    assert len(await told(services, fan)) == 1


# --- invites and nominations -------------------------------------------------------------------------------------


async def test_the_inviter_hears_once_when_their_invite_is_redeemed(services: Services) -> None:
    ada = await member(services, "ada")
    invite = await invites.create_invite(services, ada)
    grace = (await sign_up_code(services, invite.code, "grace")).user
    card = {"id": grace.id, "username": "grace", "display_name": "Grace", "avatar_url": None}
    assert await told(services, ada.user_id, INVITE_REDEEMED) == [
        (INVITE_REDEEMED, {"invite_id": invite.id, "user": card, "nominated": False})
    ]
    assert await told(services, grace.id) == []
    with pytest.raises(DomainError) as exc:
        await sign_up_code(services, invite.code, "again")
    assert exc.value.code is ErrorCode.INVITE_INVALID
    assert len(await told(services, ada.user_id, INVITE_REDEEMED)) == 1


async def test_an_operators_invite_tells_nobody(services: Services) -> None:
    grace = await member(services, "grace")  # signed up with an operator's invite
    assert await told(services, grace.user_id) == []


async def test_a_nominee_signing_up_tells_the_nominator_and_learns_who_nominated_them(services: Services) -> None:
    ada = await member(services, "ada")
    await waitlist.join_waitlist(services, name="Grace", contact="g@x.org", client_ip="1.1.1.1")
    [entry] = await waitlist.list_waitlist(services, ada)
    nomination = await waitlist.nominate(services, ada, entry.id)
    assert await told(services, ada.user_id) == []
    grace = (await sign_up_code(services, nomination.invite.code, "grace")).user
    [(kind, data)] = await told(services, ada.user_id, INVITE_REDEEMED)
    assert (kind, data["invite_id"], data["user"]["id"], data["nominated"]) == (
        INVITE_REDEEMED,
        nomination.invite.id,
        grace.id,
        True,
    )
    ada_card = {"id": ada.user_id, "username": "ada", "display_name": "Ada", "avatar_url": None}
    assert await told(services, grace.id) == [(NOMINATED, {"by": ada_card})]
