"""The audience's first row on a real database: listeners whom someone on the stage follows, in the order they
came in; the answer follows the stage as people go up and down; outsiders of a closed room are refused."""

from __future__ import annotations

import pytest

from salon.app import stage
from salon.app.fakes import FakeClock
from salon.app.rooms import NewRoom, create_room, followed_by_stage
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.rooms import RoomType
from tests.integration.test_hallway import follow
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def test_listeners_followed_by_someone_on_stage_come_first(services: Services) -> None:
    assert isinstance(services.clock, FakeClock)
    ada, bob, cat, dan, eve, fay = [await add_member(services, n) for n in ("ada", "bob", "cat", "dan", "eve", "fay")]
    room = (await create_room(services, ada, NewRoom("Talk", "", [], RoomType.OPEN)))["room"]["id"]
    for who in (bob, cat, dan, eve, fay):
        services.clock.advance(1)
        await stage.join(services, who, room)
    await stage.raise_hand(services, bob, room)
    await stage.invite_up(services, ada, room, bob)
    await stage.accept_stage_invite(services, bob, room)  # bob is a speaker now
    await follow(services, ada, eve)  # the moderator follows eve
    await follow(services, bob, cat)  # the speaker follows cat
    await follow(services, ada, cat)  # counted once
    await follow(services, dan, fay)  # a listener's follow does not count
    await follow(services, ada, bob)  # bob is on stage, not in the audience

    assert await followed_by_stage(services, dan, room) == [cat, eve]  # in the order they came in

    await stage.move_to_audience(services, ada, room, bob)  # bob leaves the stage: his follow of cat no longer counts
    assert await followed_by_stage(services, dan, room) == [bob, cat, eve]


async def test_only_people_who_may_see_the_room_may_ask(services: Services) -> None:
    ada, out = await add_member(services, "ada"), await add_member(services, "out")
    room = (await create_room(services, ada, NewRoom("Closed", "", [], RoomType.CLOSED)))["room"]["id"]
    with pytest.raises(DomainError) as caught:
        await followed_by_stage(services, out, room)
    assert caught.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(DomainError):
        await followed_by_stage(services, ada, "no-such-room")
    assert await followed_by_stage(services, ada, room) == []
