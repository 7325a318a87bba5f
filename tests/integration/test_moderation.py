"""The moderation log and reports against the real database (both engines): every moderator action writes exactly
one entry in its own transaction, a refusal writes none, the log reads newest first across pages, an ended room's
log stays with its last moderators; reports are checked, rate-limited, hidden rooms stay hidden, admins list them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from salon.app import moderation, stage
from salon.app.fakes import FakeClock
from salon.app.moderation import read_log, report
from salon.app.ratelimit import REPORTS_PER_HOUR
from salon.app.rooms import NewRoom, create_room, end_room, end_room_as_operator
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.rooms import RoomType
from salon.store import repo_rooms
from tests.support.people import add_member

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


def actor(user_id: str, *, admin: bool = False) -> Actor:
    return Actor(user_id=user_id, username=user_id, is_admin=admin, session_hash="")


async def entries(services: Services, room: str, viewer: str) -> list[tuple[str, str | None, str | None]]:
    """The whole log, oldest first, as (action, actor id, target id)."""
    page = await read_log(services, viewer, room, limit=100)
    return [
        (e.action.value, e.actor.user_id if e.actor else None, e.target.user_id if e.target else None)
        for e in reversed(page.items)
    ]


async def refused(code: ErrorCode, action: Awaitable[Any]) -> None:
    with pytest.raises(DomainError) as caught:
        await action
    assert caught.value.code is code


async def open_room(services: Services, mod: str, type: RoomType = RoomType.OPEN) -> str:
    return str((await create_room(services, mod, NewRoom("Talk", "", [], type)))["room"]["id"])


async def test_each_moderator_action_logs_exactly_one_entry_and_refusals_none(services: Services) -> None:
    root = await add_member(services, "root", admin=True)
    mod, ann, bob, fay = [await add_member(services, n) for n in ("moda", "ann", "bob", "fay")]
    room = await open_room(services, mod)
    for who in (ann, bob):
        await stage.join(services, who, room)
    log: list[tuple[str, str | None, str | None]] = []

    async def logged(action: Callable[[], Awaitable[Any]], *expected: tuple[str, str | None, str | None]) -> None:
        await action()
        log.extend(expected)
        assert await entries(services, room, root) == log

    async def not_logged(code: ErrorCode, action: Callable[[], Awaitable[Any]]) -> None:
        await refused(code, action())
        assert await entries(services, room, root) == log

    await logged(lambda: stage.invite_up(services, mod, room, ann), ("invite_up", mod, ann))
    await logged(lambda: stage.invite_up(services, mod, room, ann))  # already invited: nothing changed
    await not_logged(ErrorCode.NOT_ALLOWED, lambda: stage.invite_up(services, bob, room, ann))
    await logged(lambda: stage.accept_stage_invite(services, ann, room))  # her own doing, not moderation
    await logged(lambda: stage.mute(services, mod, room, ann, True), ("mute", mod, ann))
    await logged(lambda: stage.mute(services, mod, room, ann, True))
    await logged(lambda: stage.unlock_mute(services, mod, room, ann), ("unlock_mute", mod, ann))
    await not_logged(ErrorCode.NOT_IN_ROOM, lambda: stage.mute(services, mod, room, fay, False))
    await logged(lambda: stage.set_moderator(services, mod, room, ann, True), ("make_moderator", mod, ann))
    # mod created the room: a co-moderator cannot demote or move them down
    await not_logged(ErrorCode.NOT_ALLOWED, lambda: stage.set_moderator(services, ann, room, mod, False))
    await not_logged(ErrorCode.NOT_ALLOWED, lambda: stage.move_to_audience(services, ann, room, mod))
    await logged(lambda: stage.set_moderator(services, mod, room, ann, False), ("unmake_moderator", mod, ann))
    await not_logged(ErrorCode.LAST_MODERATOR, lambda: stage.set_moderator(services, mod, room, mod, False))
    await logged(lambda: stage.move_to_audience(services, mod, room, ann), ("move_to_audience", mod, ann))
    await logged(lambda: stage.invite_up(services, mod, room, ann), ("invite_up", mod, ann))
    await logged(lambda: stage.accept_stage_invite(services, ann, room))
    await logged(lambda: stage.set_moderator(services, mod, room, ann, True), ("make_moderator", mod, ann))
    await logged(lambda: stage.move_to_audience(services, mod, room, mod))  # stepping down: not moderation
    await logged(lambda: stage.set_hands_enabled(services, ann, room, False), ("disable_hands", ann, None))
    await logged(lambda: stage.set_hands_enabled(services, ann, room, False))
    await logged(lambda: stage.set_hands_enabled(services, ann, room, True), ("enable_hands", ann, None))
    await logged(lambda: stage.invite_up(services, ann, room, fay), ("invite_up", ann, fay))
    await logged(lambda: stage.invite_up(services, ann, room, fay))
    await logged(lambda: stage.let_in(services, ann, room, fay), ("let_in", ann, fay))
    await logged(lambda: stage.let_in(services, ann, room, fay))
    await logged(lambda: stage.remove(services, ann, room, bob), ("remove", ann, bob))
    await logged(lambda: stage.remove(services, ann, room, bob))
    await not_logged(ErrorCode.CONFLICT, lambda: stage.remove(services, ann, room, ann))
    await not_logged(ErrorCode.NOT_ALLOWED, lambda: end_room(services, mod, room))
    await logged(lambda: end_room(services, ann, room), ("end_room", ann, None))

    page = await read_log(services, ann, room)
    assert page.items[0].data == {"moderators": [ann]}
    assert [e.data for e in page.items if e.action.value == "mute"] == [{"lock": True}]
    assert page.items[0].actor is not None
    assert (page.items[0].actor.username, page.items[0].actor.display_name) == ("ann", "Ann")


async def test_the_rooms_automatic_transitions_are_logged_as_the_system(services: Services) -> None:
    root = await add_member(services, "root", admin=True)
    mod, spk = await add_member(services, "moda"), await add_member(services, "spk")
    room = await open_room(services, mod)
    await stage.join(services, spk, room)
    await stage.invite_up(services, mod, room, spk)
    await stage.accept_stage_invite(services, spk, room)
    await stage.leave(services, mod, room)
    await stage.leave(services, spk, room)  # the last moderator, nobody on stage: the room ends
    page = await read_log(services, root, room)
    assert [(e.action.value, e.actor, e.target and e.target.user_id, e.data) for e in page.items[:2]] == [
        ("end_room", None, None, {"moderators": [spk], "reason": "last_moderator_left"}),
        ("make_moderator", None, spk, {"reason": "last_moderator_left"}),
    ]


async def test_an_operators_end_is_logged_with_no_actor(services: Services) -> None:
    root = await add_member(services, "root", admin=True)
    mod = await add_member(services, "moda")
    room = await open_room(services, mod)
    await end_room_as_operator(services, room)
    [entry] = (await read_log(services, root, room)).items
    assert (entry.action.value, entry.actor, entry.data) == (
        "end_room",
        None,
        {"moderators": [mod], "reason": "operator"},
    )


async def test_an_admin_ending_a_room_they_are_not_in_is_logged_as_them(services: Services) -> None:
    root = await add_member(services, "root", admin=True)
    mod = await add_member(services, "moda")
    room = await open_room(services, mod)
    await end_room(services, root, room)
    [entry] = (await read_log(services, mod, room)).items
    assert entry.actor is not None
    assert (entry.action.value, entry.actor.user_id, entry.data) == ("end_room", root, {"moderators": [mod]})


async def test_the_log_reads_newest_first_in_pages_even_when_the_clock_stands_still(services: Services) -> None:
    mod, spk = await add_member(services, "moda"), await add_member(services, "spk")
    room = await open_room(services, mod)
    await stage.join(services, spk, room)
    await stage.invite_up(services, mod, room, spk)
    await stage.accept_stage_invite(services, spk, room)
    for lock in (True, False) * 3:  # six mutes at the very same clock time
        await stage.mute(services, mod, room, spk, lock)
    first = await read_log(services, mod, room, limit=4)
    assert first.next_cursor is not None
    second = await read_log(services, mod, room, first.next_cursor, limit=4)
    assert second.next_cursor is None
    got = [(e.action.value, e.data) for e in [*first.items, *second.items]]
    assert got == [("mute", {"lock": lock}) for lock in (False, True) * 3] + [("invite_up", {})]
    times = [e.created_at for e in [*first.items, *second.items]]
    assert times == sorted(times, reverse=True)
    assert len(set(times)) == len(times), "strictly increasing per room"


async def test_a_later_command_sorts_after_an_earlier_one_even_if_its_time_was_read_first(
    services: Services, clock: FakeClock
) -> None:
    mod, spk = await add_member(services, "moda"), await add_member(services, "spk")
    room = await open_room(services, mod)
    await stage.join(services, spk, room)
    clock.advance(10)
    await stage.invite_up(services, mod, room, spk)
    clock.advance(-5)  # a command that read the clock before waiting for the room's lock
    await stage.remove(services, mod, room, spk)
    assert [e.action.value for e in (await read_log(services, mod, room)).items] == ["remove", "invite_up"]


async def test_an_entry_is_written_in_the_commands_transaction(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod, spk = await add_member(services, "moda"), await add_member(services, "spk")
    room = await open_room(services, mod)
    await stage.join(services, spk, room)

    async def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(repo_rooms, "append_events", broken)
    with pytest.raises(RuntimeError):
        await stage.invite_up(services, mod, room, spk)
    monkeypatch.undo()
    assert (await read_log(services, mod, room)).items == [], "the failed command left no entry behind"


async def test_who_reads_a_rooms_log(services: Services) -> None:
    root = await add_member(services, "root", admin=True)
    mod, co, lis, out = [await add_member(services, n) for n in ("moda", "comod", "lis", "out")]
    room = await open_room(services, mod)
    closed = await open_room(services, out, RoomType.CLOSED)
    await stage.join(services, co, room)
    await stage.join(services, lis, room)
    await stage.invite_up(services, mod, room, co)
    await stage.accept_stage_invite(services, co, room)
    await stage.set_moderator(services, mod, room, co, True)

    assert len((await read_log(services, co, room)).items) == 2
    await refused(ErrorCode.NOT_ALLOWED, read_log(services, lis, room))
    await refused(ErrorCode.NOT_IN_ROOM, read_log(services, out, room))
    await refused(ErrorCode.NOT_FOUND, read_log(services, mod, closed))
    await refused(ErrorCode.NOT_FOUND, read_log(services, mod, "nope"))
    await refused(ErrorCode.INVALID_INPUT, read_log(services, mod, room, "garbage"))
    await refused(ErrorCode.INVALID_INPUT, read_log(services, mod, room, limit=0))
    assert (await read_log(services, root, closed)).items == []

    await stage.set_moderator(services, mod, room, mod, False)
    await refused(ErrorCode.NOT_ALLOWED, read_log(services, mod, room))  # moderators only while they are
    await end_room(services, co, room)
    assert (await read_log(services, co, room)).items[0].action.value == "end_room"
    await refused(ErrorCode.NOT_ALLOWED, read_log(services, mod, room))
    await refused(ErrorCode.NOT_ALLOWED, read_log(services, lis, room))
    await end_room(services, out, closed)
    assert len((await read_log(services, out, closed)).items) == 1, "its moderator still reads it after the end"
    await refused(ErrorCode.NOT_FOUND, read_log(services, lis, closed))


# --- reports --------------------------------------------------------------------------------------------------------


async def test_members_report_members_and_rooms_they_may_see_and_admins_list_them(
    services: Services, clock: FakeClock
) -> None:
    root = actor(await add_member(services, "root", admin=True), admin=True)
    ada, bob, cy = [actor(await add_member(services, n)) for n in ("ada", "bob", "cy")]
    open_id = await open_room(services, bob.user_id)
    closed_id = await open_room(services, bob.user_id, RoomType.CLOSED)

    first = await report(services, ada, user_id=bob.user_id, reason="harassment", details=" shouting ")
    assert (first.spec.target_user_id, first.spec.details) == (bob.user_id, "shouting")
    clock.advance(1)
    await report(services, ada, room_id=open_id, reason="spam")
    await refused(ErrorCode.NOT_FOUND, report(services, ada, room_id=closed_id, reason="spam"))
    await refused(ErrorCode.NOT_FOUND, report(services, ada, room_id="nope", reason="spam"))
    await refused(ErrorCode.NOT_FOUND, report(services, ada, user_id="nobody", reason="spam"))
    await refused(ErrorCode.SELF_TARGET, report(services, ada, user_id=ada.user_id, reason="spam"))
    await refused(ErrorCode.INVALID_INPUT, report(services, ada, user_id=bob.user_id, reason="dull"))
    await stage.let_in(services, bob.user_id, closed_id, cy.user_id)
    clock.advance(1)
    await report(services, cy, room_id=closed_id, reason="other", details="let in, so it may be reported")

    await refused(ErrorCode.NOT_ALLOWED, moderation.list_reports(services, ada))
    listed = await moderation.list_reports(services, root)
    assert [(r.reporter.username, r.reason.value) for r in listed.items] == [
        ("cy", "other"),
        ("ada", "spam"),
        ("ada", "harassment"),
    ]
    newest, middle, oldest = listed.items
    assert newest.target_room is not None
    assert (newest.target_room.id, newest.target_room.title, newest.target_user) == (closed_id, "Talk", None)
    assert middle.target_room is not None
    assert middle.target_room.id == open_id
    assert oldest.target_user is not None
    assert (oldest.target_user.username, oldest.details, oldest.resolved_at) == ("bob", "shouting", None)

    one = await moderation.list_reports(services, root, limit=2)
    assert one.next_cursor is not None
    rest = await moderation.list_reports(services, root, one.next_cursor, limit=2)
    assert [r.id for r in [*one.items, *rest.items]] == [r.id for r in listed.items]
    assert rest.next_cursor is None


async def test_reports_are_rate_limited_per_reporter(services: Services) -> None:
    ada, bob, cy = [actor(await add_member(services, n)) for n in ("ada", "bob", "cy")]
    for _ in range(REPORTS_PER_HOUR):
        await report(services, ada, user_id=bob.user_id, reason="spam")
    with pytest.raises(DomainError) as caught:
        await report(services, ada, user_id=bob.user_id, reason="spam")
    assert (caught.value.code, caught.value.data["limit"]) == (ErrorCode.RATE_LIMITED, "report")
    await report(services, cy, user_id=bob.user_id, reason="spam")  # someone else still may
