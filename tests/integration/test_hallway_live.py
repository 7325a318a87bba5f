"""The live hallway's bulk read on a real database: for many watchers at once, ``room_changes`` says exactly what the
one-viewer hallway says — who may see each changed room, with the same card and the same "followed on stage" count —
in a number of queries that does not grow with the number of rooms changed (and one more per 500 watchers)."""

from __future__ import annotations

import pytest

from salon.app import hallway, stage
from salon.app.rooms import NewRoom, create_room, end_room
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.app.social import block
from salon.domain.rooms import RoomType
from salon.store.tables import follows
from tests.integration.test_hallway import counting_queries
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def _follow(services: Services, follower: str, followee: str) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(
            follows.insert().values(follower_id=follower, followee_id=followee, created_at=services.clock.now())
        )


async def _room(services: Services, mod: str, title: str, kind: RoomType) -> str:
    room_id: str = (await create_room(services, mod, NewRoom(title, "", [], kind)))["room"]["id"]
    return room_id


async def test_many_watchers_at_once_see_what_each_ones_hallway_shows(services: Services) -> None:
    mod, other_mod = await add_member(services, "mod"), await add_member(services, "othermod")
    names = ("fan", "stranger", "pest", "boss", "guest", "insider", "kicked", "speaker_fan")
    people = {name: await add_member(services, name, admin=name == "boss") for name in names}
    open_room = await _room(services, mod, "Open", RoomType.OPEN)
    social = await _room(services, mod, "Social", RoomType.SOCIAL)
    closed = await _room(services, mod, "Closed", RoomType.CLOSED)
    elsewhere = await _room(services, other_mod, "Elsewhere", RoomType.OPEN)
    ended = await _room(services, other_mod, "Ended", RoomType.OPEN)
    await end_room(services, other_mod, ended)
    await _follow(services, people["fan"], mod)
    await _follow(services, people["speaker_fan"], other_mod)
    await block(services, Actor(user_id=mod, username="mod", is_admin=False, session_hash=""), people["pest"])
    await stage.let_in(services, mod, closed, people["guest"])
    await stage.let_in(services, mod, closed, people["insider"])
    await stage.join(services, people["insider"], closed)
    await stage.join(services, people["kicked"], open_room)
    await stage.remove(services, mod, open_room, people["kicked"])
    await stage.join(services, people["stranger"], elsewhere)

    changed = {open_room, social, closed, elsewhere, ended}
    with counting_queries(services) as statements:
        changes = await hallway.room_changes(services, changed, set(people.values()))
    assert set(changes) == changed - {ended}, "an ended room has no card: whoever was shown it is told it is gone"
    for name, user_id in people.items():
        expected = {e.room.id: e for e in await hallway.visible_live_rooms(services, user_id)}
        seen = {room_id for room_id, change in changes.items() if change.visible_to(user_id)}
        assert seen == set(expected), name
        for room_id in seen:
            card = changes[room_id].entry_for(user_id)
            assert card["followed_on_stage"] == expected[room_id].followed_on_stage, (name, room_id)
            assert card["listener_count"] == expected[room_id].listener_count, (name, room_id)
            assert card["speaker_count"] == expected[room_id].speaker_count, (name, room_id)
    assert changes[elsewhere].entry["listener_count"] == 1
    assert [s["user"]["id"] for s in changes[open_room].entry["speakers"]] == [mod]

    with counting_queries(services) as fewer:
        await hallway.room_changes(services, {open_room}, set(people.values()))
    assert len(fewer) == len(statements), "the same number of queries for one room changed as for five"
