"""Pinging a member into a live room, against the real database (SQLite and PostgreSQL): the ``pinged``
notification arrives exactly once (stored and pushed), a moderator's ping lets someone into a closed or social room
and logs ``let_in``, blocks and the rules refuse with nothing written, and the rate limits hold per pinger and per
member pinged."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest
from limits import RateLimitItemPerMinute
from sqlalchemy import func, select

from salon.app import social, stage
from salon.app.moderation import read_log
from salon.app.pings import PINGED, Pinged, ping
from salon.app.ratelimit import PINGED_PER_MINUTE, PINGS_PER_HOUR, PINGS_PER_MINUTE, Limit
from salon.app.rooms import NewRoom, create_room, get_snapshot
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.rooms import RoomType
from salon.store.tables import notifications, room_access
from tests.support.notices import Note, as_actor
from tests.support.notices import told as told_any
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def told(services: Services, user_id: str, kind: str = PINGED) -> list[Note]:
    """The pings the member was told about (the follows set up here also tell "followed you": test_onboarding.py)."""
    return await told_any(services, user_id, kind)


async def open_room(services: Services, mod: str, kind: RoomType = RoomType.OPEN, title: str = "Talk") -> str:
    return str((await create_room(services, mod, NewRoom(title, "", [], kind)))["room"]["id"])


async def written(services: Services) -> tuple[int, int]:
    """(notifications, room_access rows): what a refused ping must not change."""
    async with services.db.read() as conn:
        notes = (await conn.execute(select(func.count()).select_from(notifications))).scalar_one()
        access = (await conn.execute(select(func.count()).select_from(room_access))).scalar_one()
    return int(notes), int(access)


async def refused(services: Services, code: ErrorCode, action: Awaitable[Any]) -> DomainError:
    before = await written(services)
    with pytest.raises(DomainError) as caught:
        await action
    assert caught.value.code is code
    assert await written(services) == before
    return caught.value


async def log_of(services: Services, room: str, reader: str) -> list[tuple[str, str | None, str | None]]:
    page = await read_log(services, reader, room, limit=100)
    return [
        (e.action.value, e.actor.user_id if e.actor else None, e.target.user_id if e.target else None)
        for e in reversed(page.items)
    ]


def card(user_id: str, username: str) -> dict[str, Any]:
    return {"id": user_id, "username": username, "display_name": username.title(), "avatar_url": None}


async def test_a_listener_pings_a_member_they_follow_who_is_told_once(services: Services) -> None:
    mod, dee, zed, ann = [await add_member(services, n) for n in ("mod", "dee", "zed", "ann")]
    room = await open_room(services, mod, title="Jazz")
    await stage.join(services, dee, room)
    await social.follow(services, as_actor(dee), zed)
    assert await ping(services, dee, room, zed) == Pinged(let_in=False)
    assert await told(services, zed) == [(PINGED, {"room_id": room, "title": "Jazz", "by": card(dee, "dee")})]
    # Someone dee does not follow: only a moderator pings anyone.
    await refused(services, ErrorCode.NOT_ALLOWED, ping(services, dee, room, ann))
    assert await ping(services, mod, room, ann) == Pinged(let_in=False)
    assert [kind for kind, _ in await told(services, ann)] == [PINGED]
    assert await told(services, dee) == []


async def test_a_moderators_ping_lets_a_member_into_a_closed_room_and_logs_let_in(services: Services) -> None:
    mod, zed, dee = [await add_member(services, n) for n in ("mod", "zed", "dee")]
    room = await open_room(services, mod, RoomType.CLOSED)
    await refused(services, ErrorCode.NOT_FOUND, get_snapshot(services, zed, room))
    assert await ping(services, mod, room, zed) == Pinged(let_in=True)
    assert (await get_snapshot(services, zed, room))["room"]["id"] == room
    assert await log_of(services, room, mod) == [("let_in", mod, zed)]
    # Pinged again before coming in: told again, nothing more to log.
    assert await ping(services, mod, room, zed) == Pinged(let_in=False)
    assert await log_of(services, room, mod) == [("let_in", mod, zed)]
    assert [kind for kind, _ in await told(services, zed)] == [PINGED, PINGED]
    await stage.join(services, zed, room)
    await refused(services, ErrorCode.CONFLICT, ping(services, mod, room, zed))
    # A listener who follows someone cannot bring them into the closed room; a moderator can.
    await social.follow(services, as_actor(zed), dee)
    await refused(services, ErrorCode.NOT_ALLOWED, ping(services, zed, room, dee))
    await refused(services, ErrorCode.NOT_FOUND, get_snapshot(services, dee, room))


async def test_a_moderators_ping_makes_a_social_room_visible_to_a_non_follower(services: Services) -> None:
    mod, zed, fan, dee = [await add_member(services, n) for n in ("mod", "zed", "fan", "dee")]
    room = await open_room(services, mod, RoomType.SOCIAL)
    await social.follow(services, as_actor(fan), mod)
    await stage.join(services, fan, room)
    await social.follow(services, as_actor(fan), zed)
    await social.follow(services, as_actor(fan), dee)
    await social.follow(services, as_actor(dee), mod)
    # fan may ping dee (who follows the moderator, so sees the room), not zed (who does not).
    assert await ping(services, fan, room, dee) == Pinged(let_in=False)
    await refused(services, ErrorCode.NOT_ALLOWED, ping(services, fan, room, zed))
    assert await ping(services, mod, room, zed) == Pinged(let_in=True)
    await stage.join(services, zed, room)
    assert await log_of(services, room, mod) == [("let_in", mod, zed)]


async def test_nobody_pings_across_a_block(services: Services) -> None:
    mod, dee, zed, cy = [await add_member(services, n) for n in ("mod", "dee", "zed", "cy")]
    room = await open_room(services, mod, RoomType.CLOSED)
    await stage.let_in(services, mod, room, dee)
    await stage.join(services, dee, room)
    await social.follow(services, as_actor(dee), zed)
    await social.block(services, as_actor(zed), dee)
    await refused(services, ErrorCode.BLOCKED, ping(services, dee, room, zed))
    await social.unblock(services, as_actor(zed), dee)
    await social.block(services, as_actor(dee), zed)
    await refused(services, ErrorCode.UNBLOCK_FIRST, ping(services, dee, room, zed))
    await refused(services, ErrorCode.UNBLOCK_FIRST, ping(services, dee, room, zed))
    # A moderator's ping does not carry someone a co-moderator blocked into the room, and does not say why.
    await stage.invite_up(services, mod, room, dee)
    await stage.accept_stage_invite(services, dee, room)
    await stage.set_moderator(services, mod, room, dee, True)
    await social.block(services, as_actor(dee), cy)
    error = await refused(services, ErrorCode.NOT_ALLOWED, ping(services, mod, room, cy))
    assert "block" not in error.message
    assert await told(services, zed) == []
    assert await told(services, cy) == []


async def test_who_may_ping_whom_at_all(services: Services) -> None:
    mod, dee, zed, out = [await add_member(services, n) for n in ("mod", "dee", "zed", "out")]
    room = await open_room(services, mod)
    closed = await open_room(services, mod, RoomType.CLOSED)
    await stage.join(services, dee, room)
    await refused(services, ErrorCode.NOT_IN_ROOM, ping(services, out, room, zed))
    await refused(services, ErrorCode.NOT_FOUND, ping(services, out, closed, zed))
    await refused(services, ErrorCode.SELF_TARGET, ping(services, mod, room, mod))
    await refused(services, ErrorCode.NOT_FOUND, ping(services, mod, room, "nobody"))
    await refused(services, ErrorCode.NOT_FOUND, ping(services, mod, "no-room", zed))
    await refused(services, ErrorCode.CONFLICT, ping(services, mod, room, dee))
    await stage.remove(services, mod, room, dee)
    await refused(services, ErrorCode.REMOVED_FROM_ROOM, ping(services, mod, room, dee))


async def test_pings_are_rate_limited_per_pinger_refusals_included(services: Services) -> None:
    mod, zed = await add_member(services, "mod"), await add_member(services, "zed")
    room = await open_room(services, mod)
    for _ in range(PINGS_PER_MINUTE):
        await refused(services, ErrorCode.SELF_TARGET, ping(services, mod, room, mod))
    error = await refused(services, ErrorCode.RATE_LIMITED, ping(services, mod, room, zed))
    assert error.data["limit"] == "ping"
    assert await told(services, zed) == []


async def test_pings_are_rate_limited_per_pinger_per_hour(services: Services) -> None:
    mod = await add_member(services, "mod")
    room = await open_room(services, mod)
    # Lift the minute's limit so that the hour's is reached within the test.
    services.limits.ping = Limit("ping", RateLimitItemPerMinute(1000), "test")
    for _ in range(PINGS_PER_HOUR):
        await refused(services, ErrorCode.SELF_TARGET, ping(services, mod, room, mod))
    error = await refused(services, ErrorCode.RATE_LIMITED, ping(services, mod, room, mod))
    assert error.data["limit"] == "ping_hourly"


async def test_a_member_is_pinged_at_most_so_often_and_refusals_do_not_count(services: Services) -> None:
    zed, pest = await add_member(services, "zed"), await add_member(services, "pest")
    mods = [await add_member(services, f"mod{i}") for i in range(PINGED_PER_MINUTE + 1)]
    rooms = [await open_room(services, m, RoomType.CLOSED) for m in mods]
    pest_room = await open_room(services, pest)
    await social.follow(services, as_actor(pest), zed)
    await social.block(services, as_actor(zed), pest)
    for _ in range(PINGED_PER_MINUTE):  # refused pings use up nothing of zed's
        await refused(services, ErrorCode.BLOCKED, ping(services, pest, pest_room, zed))
    for mod, room in zip(mods[:-1], rooms[:-1], strict=True):
        assert await ping(services, mod, room, zed) == Pinged(let_in=True)
    # One more in the minute: refused, and its let-in rolls back with the notification.
    error = await refused(services, ErrorCode.RATE_LIMITED, ping(services, mods[-1], rooms[-1], zed))
    assert error.data["limit"] == "pinged"
    await refused(services, ErrorCode.NOT_FOUND, get_snapshot(services, zed, rooms[-1]))
    assert await log_of(services, rooms[-1], mods[-1]) == []
    assert len(await told(services, zed, PINGED)) == PINGED_PER_MINUTE
