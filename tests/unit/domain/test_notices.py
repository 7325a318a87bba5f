"""Rules of ``salon.domain.notices``: which followers hear that someone they follow started a room or came on
stage, and the bounds (one per followed member per room, ``PER_HOUR`` an hour)."""

from __future__ import annotations

import pytest

from salon.domain.notices import PER_HOUR, Candidate, recipients, stage_arrivals
from salon.domain.rooms import Access, Role, RoomType
from tests.support.domain import at, listener, moderator, room, speaker


def told(
    kind: RoomType = RoomType.OPEN,
    *,
    access: Access | None = None,
    in_room: bool = False,
    block_with_subject: bool = False,
    told_here: bool = False,
    told_last_hour: int = 0,
) -> bool:
    """Whether one follower with these facts is told about a room of this kind."""
    candidate = Candidate("fan", access or Access(), in_room, block_with_subject, told_here, told_last_hour)
    return recipients(room(type=kind), [candidate]) == ["fan"]


# --- who may hear ------------------------------------------------------------------------------------------------


def test_followers_hear_about_an_open_room_in_the_order_given() -> None:
    fans = [Candidate(name, Access()) for name in ("cy", "ann", "bo")]
    assert recipients(room(), fans) == ["cy", "ann", "bo"]


def test_a_social_room_is_told_to_followers_who_follow_one_of_its_moderators_or_were_let_in() -> None:
    assert told(RoomType.SOCIAL, access=Access(follows_a_moderator=True))
    assert told(RoomType.SOCIAL, access=Access(let_in=True))
    assert not told(RoomType.SOCIAL)


def test_a_closed_room_is_told_only_to_followers_let_in_or_invited_up() -> None:
    assert told(RoomType.CLOSED, access=Access(let_in=True))
    assert told(RoomType.CLOSED, access=Access(stage_invite=True))
    assert not told(RoomType.CLOSED)


def test_an_admin_hears_about_a_closed_room_only_as_a_member_would() -> None:
    assert not told(RoomType.CLOSED, access=Access(is_admin=True))
    assert told(RoomType.CLOSED, access=Access(is_admin=True, let_in=True))


@pytest.mark.parametrize("kind", list(RoomType))
def test_nobody_hears_about_a_room_one_of_whose_moderators_blocked_them(kind: RoomType) -> None:
    access = Access(blocked_by_a_moderator=True, follows_a_moderator=True, let_in=True)
    assert not told(kind, access=access)


def test_nobody_hears_across_a_block_with_the_subject() -> None:
    assert not told(block_with_subject=True)


def test_nobody_hears_about_a_room_they_are_in_or_were_removed_from() -> None:
    assert not told(in_room=True)
    assert not told(access=Access(banned=True))


def test_nobody_hears_about_an_ended_room() -> None:
    assert recipients(room(ended_at=at(30)), [Candidate("fan", Access())]) == []


def test_those_the_command_told_another_way_are_left_out() -> None:
    fans = [Candidate("cy", Access()), Candidate("ann", Access())]
    assert recipients(room(), fans, exclude={"cy"}) == ["ann"]


# --- the bounds --------------------------------------------------------------------------------------------------


def test_one_notice_per_followed_member_per_room() -> None:
    assert not told(told_here=True)


def test_at_most_per_hour_notices_an_hour() -> None:
    assert told(told_last_hour=PER_HOUR - 1)
    assert not told(told_last_hour=PER_HOUR)
    assert recipients(room(), [Candidate("fan", Access(), told_last_hour=2)], per_hour=2) == []


# --- stage arrivals ----------------------------------------------------------------------------------------------


def test_arrivals_are_those_a_command_put_on_stage() -> None:
    dee, bob, ada = listener("dee"), speaker("bob"), moderator("ada")
    before = {"dee": dee, "bob": bob, "ada": ada}
    up = speaker("dee")
    newcomer = moderator("cy")
    promoted = moderator("bob")  # was on stage already
    lowered_hand = listener("eve")
    assert stage_arrivals(before, [up, newcomer, promoted, lowered_hand]) == [up, newcomer]
    assert stage_arrivals(before, [listener("ada")]) == []
    assert up.role is Role.SPEAKER
