"""The hallway on a real database: which live rooms a member sees (the domain's visibility rule, applied in bulk),
in which order (people they follow on stage first, then the busiest), a page at a time, in a fixed number of
queries whatever the number of rooms."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from salon.app import hallway, stage
from salon.app.fakes import FakeClock
from salon.app.rooms import NewRoom, create_room, end_room
from salon.app.services import Services
from salon.domain.rooms import RoomType
from salon.store.tables import follows
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def new_room(services: Services, mod: str, title: str, kind: RoomType = RoomType.OPEN) -> str:
    """A room opened a minute after the previous one (so "newer" is well defined)."""
    assert isinstance(services.clock, FakeClock)
    services.clock.advance(60)
    room_id: str = (await create_room(services, mod, NewRoom(title, "", ["topic"], kind)))["room"]["id"]
    return room_id


async def follow(services: Services, follower: str, followee: str) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(
            follows.insert().values(follower_id=follower, followee_id=followee, created_at=services.clock.now())
        )


async def titles(services: Services, viewer: str) -> list[str]:
    return [e.room.title for e in await hallway.visible_live_rooms(services, viewer)]


@contextmanager
def counting_queries(services: Services) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_what_a_member_sees_and_in_which_order(services: Services) -> None:
    viewer, friend, stranger, host = [await add_member(services, n) for n in ("viewer", "friend", "stranger", "host")]
    crowd = [await add_member(services, f"crowd{i}") for i in range(4)]
    busy = await new_room(services, stranger, "Busy")
    for member in crowd:
        await stage.join(services, member, busy)
    small = await new_room(services, friend, "Small, with a friend")
    await follow(services, viewer, friend)
    closed = await new_room(services, host, "Closed", RoomType.CLOSED)
    await new_room(services, friend, "Social, friend moderates", RoomType.SOCIAL)
    await new_room(services, stranger, "Social, stranger moderates", RoomType.SOCIAL)
    over = await new_room(services, host, "Over")
    await end_room(services, host, over)

    assert await titles(services, viewer) == [
        "Social, friend moderates",  # someone followed on stage; newer than "Small"
        "Small, with a friend",
        "Busy",
    ], "followed people's rooms first; closed, unfollowed social and ended rooms never shown"

    await stage.let_in(services, host, closed, viewer)
    assert "Closed" in await titles(services, viewer), "a closed room shows once a moderator lets you in"
    entries = await hallway.visible_live_rooms(services, viewer)
    busy_entry = next(e for e in entries if e.room.id == busy)
    assert (busy_entry.listener_count, busy_entry.speaker_count, busy_entry.followed_on_stage) == (4, 1, 0)
    assert next(e for e in entries if e.room.id == small).followed_on_stage == 1


async def test_pages_cover_every_room_once(services: Services) -> None:
    viewer, mod = await add_member(services, "viewer"), await add_member(services, "mod")
    for i in range(7):
        await new_room(services, mod, f"Room {i}")
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = await hallway.live_rooms_page(services, viewer, offset, 3)
        assert page.total == 7
        seen += [item["room"]["title"] for item in page.items]
        offset = page.next_offset
    assert sorted(seen) == sorted(f"Room {i}" for i in range(7))
    assert len(seen) == 7


async def test_the_number_of_queries_does_not_grow_with_the_rooms(services: Services) -> None:
    viewer, mod = await add_member(services, "viewer"), await add_member(services, "mod")
    await new_room(services, mod, "First")
    with counting_queries(services) as few:
        await hallway.live_rooms_page(services, viewer, 0, 20)
    for i in range(15):
        await new_room(services, mod, f"More {i}", RoomType.SOCIAL if i % 2 else RoomType.OPEN)
    with counting_queries(services) as many:
        await hallway.live_rooms_page(services, viewer, 0, 20)
    assert len(many) == len(few) <= 14  # two transactions (BEGIN) + 11 reads
