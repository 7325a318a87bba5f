"""Search on a real database: members by username or display name, live rooms by title or topic — never a closed
room one may not see, a disabled account, or someone who blocked the searcher."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from salon.app import search
from salon.app.rooms import NewRoom, create_room
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.rooms import RoomType
from salon.store.tables import blocks, users
from tests.support.people import add_member
from tests.support.scheduled_events import actor, schedule

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def names(services: Services, viewer: str, text: str) -> list[str]:
    return [m["username"] for m in (await search.search(services, viewer, text)).members]


async def test_members_by_username_or_display_name(services: Services) -> None:
    viewer = await add_member(services, "viewer")
    for name in ("anna", "annabel", "joanna", "bob", "an_na", "ghost", "blocker"):
        await add_member(services, name)  # display names are the usernames, titled: "Joanna" contains "anna"
    assert await names(services, viewer, "ANNA") == ["anna", "annabel", "joanna"], "usernames starting first"
    assert await names(services, viewer, "an_") == ["an_na"], "wildcards match only themselves"
    assert await names(services, viewer, "n%") == [], "a percent sign is a character like any other"
    async with services.db.transaction() as conn:
        await conn.execute(update(users).where(users.c.username == "ghost").values(disabled_at=services.clock.now()))
        blocker = (await conn.execute(users.select().where(users.c.username == "blocker"))).mappings().one()["id"]
        await conn.execute(
            blocks.insert().values(blocker_id=blocker, blocked_id=viewer, created_at=services.clock.now())
        )
    assert await names(services, viewer, "ghost") == [], "disabled accounts are not found"
    assert await names(services, viewer, "blocker") == [], "nor people who blocked you"


async def test_rooms_by_title_or_topic_only_where_visible(services: Services) -> None:
    viewer, mod = await add_member(services, "viewer"), await add_member(services, "mod")
    await create_room(services, mod, NewRoom("Jazz night", "", ["music"], RoomType.OPEN))
    await create_room(services, mod, NewRoom("Secret jazz", "", ["music"], RoomType.CLOSED))
    await create_room(services, mod, NewRoom("Poetry", "", ["Jazz poetry"], RoomType.OPEN))
    found = await search.search(services, viewer, "jazz")
    assert sorted(r["room"]["title"] for r in found.rooms) == ["Jazz night", "Poetry"], "a closed room never leaks"
    assert [s["user"]["id"] for r in found.rooms for s in r["speakers"]] == [mod, mod], "with the faces on stage"
    mod_sees = await search.search(services, mod, "jazz")
    assert "Secret jazz" in [r["room"]["title"] for r in mod_sees.rooms]


@pytest.mark.parametrize("text", ["a", " a ", "x" * 101])
async def test_queries_too_short_or_too_long_are_refused(services: Services, text: str) -> None:
    viewer = await add_member(services, "viewer")
    with pytest.raises(DomainError) as caught:
        await search.search(services, viewer, text)
    assert caught.value.code is ErrorCode.INVALID_INPUT


async def test_upcoming_events_by_title_or_topic_only_where_visible(services: Services) -> None:
    host = await actor(services, "host")
    viewer = await add_member(services, "viewer")
    await schedule(services, host, title="Bebop hour", topics=["jazz"])
    await schedule(services, host, title="Private jazz", topics=["jazz"], room_type=RoomType.CLOSED)
    await schedule(services, host, title="Poems", topics=["spoken word"])
    found = await search.search(services, viewer, "JAZZ")
    assert [v.event.title for v in found.events] == ["Bebop hour"], "a closed event stays with its list"
    hosted = await search.search(services, host.user_id, "jazz")
    assert sorted(v.event.title for v in hosted.events) == ["Bebop hour", "Private jazz"]
