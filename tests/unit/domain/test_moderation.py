"""The moderation log's rules (``salon.domain.moderation`` and the entries ``salon.domain.stage`` returns): each
moderator action yields exactly one entry naming who did what to whom; a repeat that changes nothing yields none;
the room's automatic transitions are logged with no actor; and who may read a room's log.

The cast, as in test_stage.py: ``ada`` moderates, ``bob`` and ``cy`` speak, ``dee`` listens, ``fay`` is not in the
room.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from salon.domain import stage
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.moderation import (
    ModAction,
    ModerationEntry,
    SystemReason,
    check_log_reader,
    moderators_at_end,
)
from salon.domain.rooms import Access, Outcome, Participant, Room, RoomType
from tests.support.domain import T0, at, listener, moderator, room, speaker

NOW = T0 + timedelta(hours=1)
A = ModAction


def entry(action: ModAction, target: str | None = None, actor: str | None = "ada", **data: object) -> ModerationEntry:
    return ModerationEntry(action, actor, target, dict(data))


def code_of(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value.code


# --- what each moderator action logs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "logged"),
    [
        (lambda: stage.moderator_mute(room(), moderator(), speaker(), lock=True), entry(A.MUTE, "bob", lock=True)),
        (lambda: stage.moderator_mute(room(), moderator(), speaker(), lock=False), entry(A.MUTE, "bob", lock=False)),
        (
            lambda: stage.moderator_mute(room(), moderator(), speaker(muted=True), lock=True),
            entry(A.MUTE, "bob", lock=True),
        ),
        (
            lambda: stage.unlock_mute(room(), moderator(), speaker(muted=True, mute_locked=True)),
            entry(A.UNLOCK_MUTE, "bob"),
        ),
        (
            lambda: stage.move_to_audience(room(), moderator(), speaker(), [moderator(), speaker()]),
            entry(A.MOVE_TO_AUDIENCE, "bob"),
        ),
        (
            lambda: stage.set_moderator(room(), moderator(), speaker(), True, [moderator(), speaker()]),
            entry(A.MAKE_MODERATOR, "bob"),
        ),
        (
            lambda: stage.set_moderator(room(), moderator(), moderator("cy"), False, [moderator(), moderator("cy")]),
            entry(A.UNMAKE_MODERATOR, "cy"),
        ),
        (
            lambda: stage.remove(room(), moderator(), listener(), "dee", [moderator()], 3, NOW),
            entry(A.REMOVE, "dee"),
        ),
        (lambda: stage.remove(room(), moderator(), None, "fay", [moderator()], 3, NOW), entry(A.REMOVE, "fay")),
        (lambda: stage.let_in(room(type=RoomType.CLOSED), moderator(), "fay"), entry(A.LET_IN, "fay")),
        (lambda: stage.invite_up(room(), moderator(), listener(), "dee", False), entry(A.INVITE_UP, "dee")),
        (lambda: stage.invite_up(room(), moderator(), None, "fay", False), entry(A.INVITE_UP, "fay")),
        (lambda: stage.set_hands_enabled(room(), moderator(), False, []), entry(A.DISABLE_HANDS)),
        (lambda: stage.set_hands_enabled(room(hands_enabled=False), moderator(), True, []), entry(A.ENABLE_HANDS)),
        (
            lambda: stage.end_room(room(), "ada", moderator(), False, [moderator(), speaker()], NOW),
            entry(A.END_ROOM, moderators=["ada"]),
        ),
    ],
)
def test_each_moderator_action_logs_one_entry_naming_who_did_what_to_whom(
    command: Callable[[], Outcome], logged: ModerationEntry
) -> None:
    assert command().moderation == [logged]


def test_an_admin_ending_a_room_is_logged_as_them_with_the_moderators_at_the_end() -> None:
    out = stage.end_room(room(), "root", None, True, [moderator("cy"), moderator(), speaker()], NOW)
    assert out.moderation == [entry(A.END_ROOM, actor="root", moderators=["ada", "cy"])]


def test_an_operator_ending_a_room_is_logged_as_the_system() -> None:
    out = stage.end_room(room(), None, None, True, [moderator()], NOW)
    assert out.moderation == [entry(A.END_ROOM, actor=None, moderators=["ada"], reason="operator")]


@pytest.mark.parametrize(
    "command",
    [
        lambda: stage.moderator_mute(room(), moderator(), speaker(muted=True), lock=False),
        lambda: stage.unlock_mute(room(), moderator(), speaker(muted=True)),
        lambda: stage.set_moderator(room(), moderator(), speaker(), False, [moderator(), speaker()]),
        lambda: stage.set_hands_enabled(room(), moderator(), True, []),
        lambda: stage.invite_up(room(), moderator(), listener(invited_up=True), "dee", False),
        lambda: stage.invite_up(room(), moderator(), None, "fay", False, already_invited=True),
        lambda: stage.let_in(room(type=RoomType.CLOSED), moderator(), "fay", already_let_in=True),
        lambda: stage.remove(room(), moderator(), None, "fay", [moderator()], 3, NOW, already_removed=True),
    ],
)
def test_a_repeat_that_changes_nothing_logs_nothing(command: Callable[[], Outcome]) -> None:
    assert command() == Outcome()


@pytest.mark.parametrize(
    "command",
    [
        lambda: stage.raise_hand(room(), listener(), NOW),
        lambda: stage.lower_hand(room(), listener(hand_raised_at=at(1))),
        lambda: stage.accept_stage_invite(room(), listener(invited_up=True), NOW),
        lambda: stage.decline_stage_invite(room(), listener(invited_up=True)),
        lambda: stage.set_self_muted(room(), speaker(), True),
        lambda: stage.move_to_audience(room(), speaker(), speaker(), [moderator(), speaker()]),
        lambda: stage.move_to_audience(room(), moderator(), moderator(), [moderator(), moderator("cy")]),
        lambda: stage.leave(room(), listener(), [moderator()], 3, NOW),
        lambda: stage.leave(room(), moderator(), [moderator(), moderator("cy")], 3, NOW),
        lambda: stage.audience_batching(room(), 300, 200),
    ],
)
def test_what_members_do_for_themselves_is_not_moderation(command: Callable[[], Outcome]) -> None:
    out = command()
    assert out != Outcome(), "the command did something"
    assert out.moderation == []


def test_a_refused_action_returns_no_entry_at_all() -> None:
    assert code_of(lambda: stage.moderator_mute(room(), speaker(), speaker("cy"), True)) is ErrorCode.NOT_ALLOWED
    assert code_of(lambda: stage.remove(room(), moderator(), moderator(), "ada", [], 3, NOW)) is ErrorCode.CONFLICT


# --- the room's automatic transitions -------------------------------------------------------------------------


def test_when_the_last_moderator_leaves_the_system_promotes_the_longest_serving_speaker() -> None:
    ada, bob, cy = moderator(), speaker(since=5), speaker("cy", since=2)
    out = stage.leave(room(), ada, [ada, bob, cy], headcount=5, now=NOW)
    assert out.moderation == [entry(A.MAKE_MODERATOR, "cy", actor=None, reason="last_moderator_left")]


def test_when_the_last_moderator_steps_down_the_promotion_is_the_systems() -> None:
    ada, bob = moderator(), speaker()
    out = stage.move_to_audience(room(), ada, ada, [ada, bob])
    assert out.moderation == [entry(A.MAKE_MODERATOR, "bob", actor=None, reason="last_moderator_left")]


def test_a_room_left_with_nobody_on_stage_ends_by_itself_and_keeps_its_last_moderator_as_a_reader() -> None:
    ada = moderator()
    out = stage.leave(room(), ada, [ada], headcount=10, now=NOW)
    assert out.moderation == [entry(A.END_ROOM, actor=None, moderators=["ada"], reason="last_moderator_left")]


def test_a_room_that_empties_ends_by_itself() -> None:
    out = stage.leave(room(), listener(), [], headcount=1, now=NOW)
    assert out.moderation == [entry(A.END_ROOM, actor=None, moderators=[], reason="room_empty")]


def test_a_removal_that_empties_the_room_logs_the_removal_then_the_end() -> None:
    out = stage.remove(room(), moderator(), listener(), "dee", [moderator()], headcount=1, now=NOW)
    assert out.moderation == [
        entry(A.REMOVE, "dee"),
        entry(A.END_ROOM, actor=None, moderators=["ada"], reason="room_empty"),
    ]


def test_system_reasons_are_stable_names() -> None:
    assert [r.value for r in SystemReason] == ["last_moderator_left", "room_empty", "operator"]


# --- who may read the log -------------------------------------------------------------------------------------


def ended(**overrides: object) -> Room:
    return room(ended_at=at(30), **overrides)


def test_a_live_rooms_current_moderators_and_admins_read_its_log() -> None:
    r = room()
    assert check_log_reader(r, "ada", Access(), moderator(), []) is r
    assert check_log_reader(r, "root", Access(is_admin=True), None, []) is r
    assert check_log_reader(room(type=RoomType.CLOSED), "root", Access(is_admin=True), None, []) is not None


@pytest.mark.parametrize(
    ("participant", "code"),
    [
        (speaker(), ErrorCode.NOT_ALLOWED),
        (listener(), ErrorCode.NOT_ALLOWED),
        (None, ErrorCode.NOT_IN_ROOM),
    ],
)
def test_nobody_else_reads_a_live_rooms_log(participant: Participant | None, code: ErrorCode) -> None:
    assert code_of(lambda: check_log_reader(room(), "x", Access(), participant, [])) is code


def test_a_moderator_who_left_a_live_room_reads_its_log_no_more() -> None:
    assert code_of(lambda: check_log_reader(room(), "cy", Access(), None, ["cy"])) is ErrorCode.NOT_IN_ROOM


def test_a_room_one_may_not_see_is_not_found() -> None:
    assert code_of(lambda: check_log_reader(None, "x", Access(is_admin=True), None, [])) is ErrorCode.NOT_FOUND
    closed = room(type=RoomType.CLOSED)
    assert code_of(lambda: check_log_reader(closed, "fay", Access(), None, [])) is ErrorCode.NOT_FOUND


def test_an_ended_rooms_log_is_for_those_who_moderated_it_at_the_end_and_admins() -> None:
    r = ended(type=RoomType.CLOSED)
    assert check_log_reader(r, "ada", Access(), None, ["ada"]) is r
    assert check_log_reader(r, "root", Access(is_admin=True), None, []) is r
    assert code_of(lambda: check_log_reader(r, "dee", Access(), None, ["ada"])) is ErrorCode.NOT_FOUND
    assert code_of(lambda: check_log_reader(r, "dee", Access(let_in=True), None, ["ada"])) is ErrorCode.NOT_ALLOWED
    assert code_of(lambda: check_log_reader(ended(), "dee", Access(), None, ["ada"])) is ErrorCode.NOT_ALLOWED


def test_the_moderators_at_the_end_come_from_the_end_entry() -> None:
    assert moderators_at_end({"moderators": ["ada", "cy"], "reason": "operator"}) == ["ada", "cy"]
    assert moderators_at_end({}) == []
    assert moderators_at_end(None) == [], "a room ended before the log existed: admins only"
