"""Every room command, against the real database: the snapshot taken before it plus its events equals a fresh
snapshot (Zulip's ``verify_action``), events reach the bus only as committed, and refusals change nothing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from salon.app import audience, stage, stage_invites
from salon.app.fakes import FakeClock, FakeMedia, RecordingBus
from salon.app.ports import RoomMessage
from salon.app.room_commands import Result
from salon.app.rooms import NewRoom, create_room, end_room, events_since, get_snapshot
from salon.app.services import Services
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.room_view import Snapshot, apply_event, hand_queue
from salon.domain.rooms import RoomType
from salon.store import repo_presence
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def verify(services: Services, viewer: str, room_id: str, action: Callable[[], Awaitable[Result]]) -> Result:
    bus = services.bus
    assert isinstance(bus, RecordingBus)
    before = await get_snapshot(services, viewer, room_id)
    published_before = len(bus.rooms)
    result = await action()
    view = before
    for m in result.messages:
        assert m.seq == view["seq"] + 1, "sequence numbers are consecutive"
        json.dumps(m.data)  # every event serialises
        view = apply_event(view, m.seq, m.name, m.data)
    fresh = await get_snapshot(services, viewer, room_id)
    assert view == fresh
    assert bus.rooms[published_before:] == result.messages
    return result


async def refused(
    services: Services, viewer: str, room_id: str, code: ErrorCode, action: Callable[[], Awaitable[Result]]
) -> None:
    before = await get_snapshot(services, viewer, room_id)
    with pytest.raises(DomainError) as caught:
        await action()
    assert caught.value.code is code
    assert await get_snapshot(services, viewer, room_id) == before


def names(result: Result) -> list[str]:
    return [m.name for m in result.messages]


def person(view: Snapshot, user_id: str) -> dict[str, object]:
    for p in [*view["stage"], *view["audience"]]:
        if p["user"]["id"] == user_id:
            return p  # type: ignore[no-any-return]
    raise AssertionError(f"{user_id} not in view")


async def test_every_stage_command_keeps_snapshot_and_events_in_step(services: Services, clock: FakeClock) -> None:
    admin = await add_member(services, "admin", admin=True)
    mod = await add_member(services, "moda")
    ann = await add_member(services, "ann")
    bob = await add_member(services, "bob")
    cat = await add_member(services, "cat")
    media = services.media
    assert isinstance(media, FakeMedia)

    view = await create_room(
        services, mod, NewRoom("Jazz talk", "Standards", ["jazz", "Jazz", " piano "], RoomType.OPEN)
    )
    room = view["room"]["id"]
    assert view["room"]["topics"] == ["jazz", "piano"]
    assert [p["role"] for p in view["stage"]] == ["moderator"]
    assert media.members[(room, mod)] == ("speaker", True)

    def tick() -> None:
        clock.advance(1)

    r = await verify(services, admin, room, lambda: stage.join(services, ann, room))
    assert names(r) == ["participant_joined"]
    assert media.members[(room, ann)] == ("listener", False)
    tick()
    await verify(services, admin, room, lambda: stage.join(services, bob, room))
    r = await verify(services, admin, room, lambda: stage.join(services, bob, room))
    assert names(r) == [], "joining twice is a no-op"

    tick()
    await verify(services, admin, room, lambda: stage.raise_hand(services, bob, room))
    tick()
    await verify(services, admin, room, lambda: stage.raise_hand(services, ann, room))
    queue = hand_queue(await get_snapshot(services, mod, room))
    assert [p["user"]["id"] for p in queue] == [bob, ann], "moderators see hands in the order raised"
    await verify(services, admin, room, lambda: stage.lower_hand(services, bob, room))
    await refused(services, admin, room, ErrorCode.NOT_ALLOWED, lambda: stage.invite_up(services, ann, room, bob))

    await verify(services, admin, room, lambda: stage.invite_up(services, mod, room, ann))
    tick()
    r = await verify(services, admin, room, lambda: stage.accept_stage_invite(services, ann, room))
    assert person(await get_snapshot(services, admin, room), ann)["role"] == "speaker"
    assert media.members[(room, ann)] == ("speaker", True), "brought up muted"
    assert hand_queue(await get_snapshot(services, admin, room)) == [], "accepting lowers the hand"

    await verify(services, admin, room, lambda: stage.set_self_muted(services, ann, room, False))
    assert media.members[(room, ann)] == ("speaker", False)
    await verify(services, admin, room, lambda: stage.mute(services, mod, room, ann, True))
    assert media.members[(room, ann)] == ("speaker", True)
    await refused(
        services, admin, room, ErrorCode.MUTE_LOCKED, lambda: stage.set_self_muted(services, ann, room, False)
    )
    await verify(services, admin, room, lambda: stage.unlock_mute(services, mod, room, ann))
    await verify(services, admin, room, lambda: stage.set_self_muted(services, ann, room, False))
    await verify(services, admin, room, lambda: stage.mute(services, mod, room, ann, False))
    await verify(services, admin, room, lambda: stage.set_self_muted(services, ann, room, False))

    await verify(services, admin, room, lambda: stage.set_moderator(services, mod, room, ann, True))
    # The room's creator keeps their place against a co-moderator, but may give up moderating themself.
    await refused(
        services, admin, room, ErrorCode.NOT_ALLOWED, lambda: stage.set_moderator(services, ann, room, mod, False)
    )
    await verify(services, admin, room, lambda: stage.set_moderator(services, mod, room, mod, False))
    await refused(
        services, admin, room, ErrorCode.LAST_MODERATOR, lambda: stage.set_moderator(services, ann, room, ann, False)
    )
    await verify(services, admin, room, lambda: stage.set_moderator(services, ann, room, mod, True))
    await verify(services, admin, room, lambda: stage.move_to_audience(services, mod, room, ann))
    assert media.members[(room, ann)] == ("listener", False)

    await verify(services, admin, room, lambda: stage.invite_up(services, mod, room, bob))
    await verify(services, admin, room, lambda: stage.decline_stage_invite(services, bob, room))
    await verify(services, admin, room, lambda: stage.raise_hand(services, bob, room))
    await verify(services, admin, room, lambda: stage.set_hands_enabled(services, mod, room, False))
    await refused(services, admin, room, ErrorCode.HANDS_DISABLED, lambda: stage.raise_hand(services, bob, room))
    await verify(services, admin, room, lambda: stage.set_hands_enabled(services, mod, room, True))

    r = await verify(services, admin, room, lambda: stage.remove(services, mod, room, bob))
    assert names(r) == ["participant_left"]
    assert (room, bob) not in media.members
    assert isinstance(services.bus, RecordingBus)
    assert (room, bob) in services.bus.left
    await refused(services, admin, room, ErrorCode.REMOVED_FROM_ROOM, lambda: stage.join(services, bob, room))
    await refused(services, admin, room, ErrorCode.REMOVED_FROM_ROOM, lambda: stage.invite_up(services, mod, room, bob))

    # Invited up before joining: straight onto the stage.
    await verify(services, admin, room, lambda: stage.invite_up(services, mod, room, cat))
    tick()
    r = await verify(services, admin, room, lambda: stage.join(services, cat, room))
    assert person(await get_snapshot(services, admin, room), cat)["role"] == "speaker"

    # The last moderator leaves: the longest-serving speaker (cat; ann is in the audience) takes over.
    r = await verify(services, admin, room, lambda: stage.leave(services, mod, room))
    assert names(r) == ["participant_left", "role_changed"]
    assert person(await get_snapshot(services, admin, room), cat)["role"] == "moderator"

    r = await verify(services, admin, room, lambda: end_room(services, cat, room))
    assert names(r) == ["room_ended"]
    assert room not in media.rooms
    await refused(services, admin, room, ErrorCode.ROOM_ENDED, lambda: stage.join(services, ann, room))


async def test_an_unanswered_invitation_up_lapses_and_lowers_the_hand(services: Services, clock: FakeClock) -> None:
    admin = await add_member(services, "admin", admin=True)
    mod = await add_member(services, "moda")
    ann = await add_member(services, "ann")
    room = (await create_room(services, mod, NewRoom("Lapse", "", [], RoomType.OPEN)))["room"]["id"]
    await stage.join(services, ann, room)
    await stage.raise_hand(services, ann, room)
    await stage.invite_up(services, mod, room, ann)
    async with services.db.read() as conn:
        until_before = await repo_presence.deadline(conn, room, ann)
    clock.advance(services.settings.stage_invite_ttl_s - 1)
    assert await stage_invites.expire_lapsed(services) == [], "still standing"

    clock.advance(1)
    r = await verify(services, admin, room, lambda: _lapse_one(services))
    assert names(r) == ["stage_invite_expired"]
    ann_now = person(await get_snapshot(services, admin, room), ann)
    assert (ann_now["invited_up"], ann_now["hand_raised_at"]) == (False, None)
    async with services.db.read() as conn:
        assert await repo_presence.deadline(conn, room, ann) == until_before, "a lapse is not the invitee's doing"
    assert await stage_invites.expire_lapsed(services) == [], "once"
    await refused(services, admin, room, ErrorCode.NOT_ALLOWED, lambda: stage.accept_stage_invite(services, ann, room))

    # Invited again, answered in time: nothing lapses later.
    await stage.invite_up(services, mod, room, ann)
    await stage.accept_stage_invite(services, ann, room)
    clock.advance(services.settings.stage_invite_ttl_s * 2)
    assert await stage_invites.expire_lapsed(services) == []


async def _lapse_one(services: Services) -> Result:
    """Run the sweep and hand back the one command it ran (for ``verify``)."""
    [result] = await stage_invites.expire_lapsed(services)
    return result


async def test_last_person_leaving_ends_the_room(services: Services) -> None:
    admin = await add_member(services, "admin", admin=True)
    mod = await add_member(services, "moda")
    room = (await create_room(services, mod, NewRoom("Solo", "", [], RoomType.OPEN)))["room"]["id"]
    r = await verify(services, admin, room, lambda: stage.leave(services, mod, room))
    assert names(r) == ["participant_left", "room_ended"]


async def test_closed_rooms_are_invisible_until_let_in(services: Services) -> None:
    mod = await add_member(services, "moda")
    ann = await add_member(services, "ann")
    room = (await create_room(services, mod, NewRoom("Secret", "", [], RoomType.CLOSED)))["room"]["id"]
    for action in (stage.join, stage.raise_hand):
        with pytest.raises(DomainError) as caught:
            await action(services, ann, room)
        assert caught.value.code is ErrorCode.NOT_FOUND
    with pytest.raises(DomainError):
        await get_snapshot(services, ann, room)
    await verify(services, mod, room, lambda: stage.let_in(services, mod, room, ann))
    await verify(services, mod, room, lambda: stage.join(services, ann, room))


async def test_full_room_refuses_with_room_full(services: Services) -> None:
    from salon.app import rooms as room_cases

    mod = await add_member(services, "moda")
    ann = await add_member(services, "ann")
    bob = await add_member(services, "bob")
    room = (await room_cases.create_room(services, mod, NewRoom("Tiny", "", [], RoomType.OPEN, capacity=2)))["room"][
        "id"
    ]
    await stage.join(services, ann, room)
    with pytest.raises(DomainError) as caught:
        await stage.join(services, bob, room)
    assert caught.value.code is ErrorCode.ROOM_FULL
    assert caught.value.data == {"capacity": 2}


async def test_big_rooms_report_the_audience_as_a_count(services: Services) -> None:
    """Threshold is 5 in the test settings: the fifth listener switches the room to a batched audience."""
    admin = await add_member(services, "admin", admin=True)
    mod = await add_member(services, "moda")
    room = (await create_room(services, mod, NewRoom("Big", "", [], RoomType.OPEN)))["room"]["id"]
    people = [await add_member(services, f"user{i}") for i in range(8)]
    for p in people[:4]:
        r = await verify(services, admin, room, lambda p=p: stage.join(services, p, room))  # type: ignore[misc]
        assert names(r) == ["participant_joined"]
    r = await verify(services, admin, room, lambda: stage.join(services, people[4], room))
    assert names(r) == ["participant_joined", "audience_batched"]
    view = await get_snapshot(services, admin, room)
    assert view["audience"] == []
    assert view["listener_count"] == 5

    before = view
    for p in people[5:]:
        assert names(await stage.join(services, p, room)) == [], "no event per listener in a big room"
    await stage.leave(services, people[0], room)
    flushed = await audience.flush_counts(services)
    assert [m.name for m in flushed] == ["listener_count"]
    assert flushed[0].data == {"listener_count": 7}
    for m in flushed:
        before = apply_event(before, m.seq, m.name, m.data)
    assert before == await get_snapshot(services, admin, room)
    assert await audience.flush_counts(services) == [], "nothing changed, nothing sent"

    # A raised hand in a big room is still listed person by person.
    await verify(services, admin, room, lambda: stage.raise_hand(services, people[6], room))
    await verify(services, admin, room, lambda: stage.invite_up(services, mod, room, people[6]))
    await verify(services, admin, room, lambda: stage.accept_stage_invite(services, people[6], room))
    await verify(services, admin, room, lambda: stage.move_to_audience(services, mod, room, people[6]))
    await verify(services, admin, room, lambda: stage.remove(services, mod, room, people[7]))


async def test_resume_returns_missed_events_or_resync(services: Services) -> None:
    services.settings.__dict__["event_window"] = 10  # a small retained window for this test
    mod = await add_member(services, "moda")
    ann = await add_member(services, "ann")
    room = (await create_room(services, mod, NewRoom("Resume", "", [], RoomType.OPEN)))["room"]["id"]
    await stage.join(services, ann, room)
    missed = await events_since(services, ann, room, 0)
    assert [m.name for m in missed.messages] == ["participant_joined"]
    assert not missed.resync
    assert (await events_since(services, ann, room, missed.seq)).messages == []
    assert (await events_since(services, ann, room, missed.seq + 5)).resync, "a seq from the future: resync"
    for _ in range(8):
        await stage.raise_hand(services, ann, room)
        await stage.lower_hand(services, ann, room)
    late = await events_since(services, ann, room, 0)
    assert late.resync
    assert late.messages == []
    recent = await events_since(services, ann, room, late.seq - 3)
    assert [m.seq for m in recent.messages] == [late.seq - 2, late.seq - 1, late.seq]


class CommitCheckingBus(RecordingBus):
    """A bus that, when handed events, reads them back through a separate connection: they must be committed."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.checked = 0

    async def publish_room(self, messages: list[RoomMessage]) -> None:
        from salon.store import repo_rooms

        async with self.services.db.read() as conn:
            stored = await repo_rooms.events_after(conn, messages[0].room_id, messages[0].seq - 1)
        assert [(s, n) for s, n, _ in stored][: len(messages)] == [(m.seq, m.name) for m in messages]
        self.checked += len(messages)
        await super().publish_room(messages)


async def test_events_are_published_only_after_their_commit(services: Services) -> None:
    bus = CommitCheckingBus(services)
    services.bus = bus
    mod = await add_member(services, "moda")
    ann = await add_member(services, "ann")
    room = (await create_room(services, mod, NewRoom("Commit", "", [], RoomType.OPEN)))["room"]["id"]
    await stage.join(services, ann, room)
    await stage.raise_hand(services, ann, room)
    await stage.invite_up(services, mod, room, ann)
    await stage.accept_stage_invite(services, ann, room)
    await end_room(services, mod, room)
    assert bus.checked == 5
