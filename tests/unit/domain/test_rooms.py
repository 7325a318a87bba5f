"""Rules of ``salon.domain.rooms``: what a creator may type, who may see a room, and the wire shapes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.rooms import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    TOPIC_MAX,
    TOPICS_MAX,
    Access,
    Event,
    Outcome,
    Participant,
    Profile,
    Role,
    Room,
    RoomNeed,
    RoomType,
    can_see,
    check_room_access,
    clean_room_fields,
    participant_data,
    room_data,
)
from tests.support.domain import T0, at, room

MAX_CAPACITY = 5000


def person(user_id: str, role: Role = Role.LISTENER, **overrides: Any) -> Participant:
    p = Participant(
        room_id="r1",
        user=Profile(user_id, user_id, user_id.title()),
        role=role,
        joined_at=T0,
        stage_since=T0 if role.on_stage else None,
    )
    return replace(p, **overrides)


# --- roles, rooms, participants --------------------------------------------------------------------------------


def test_moderators_and_speakers_are_on_stage_listeners_are_not() -> None:
    assert Role.MODERATOR.on_stage
    assert Role.SPEAKER.on_stage
    assert not Role.LISTENER.on_stage


def test_a_room_has_ended_once_it_has_an_end_time() -> None:
    assert not room().ended
    assert room(ended_at=at(5)).ended


def test_a_participant_is_known_by_their_user_id() -> None:
    assert person("bob").user_id == "bob"


def test_a_listener_with_a_raised_hand_or_an_invitation_up_is_notable() -> None:
    assert not person("bob").notable
    assert person("bob", hand_raised_at=at(1)).notable
    assert person("bob", invited_up=True).notable


# --- Outcome ---------------------------------------------------------------------------------------------------


def test_an_outcome_keeps_only_the_latest_change_per_person_and_events_in_order() -> None:
    out = Outcome()
    first = person("bob")
    second = replace(first, hand_raised_at=at(1))
    other = person("cy")
    out.put(first, Event("hand_raised", {}))
    out.put(other)
    out.put(second, Event("hand_lowered", {"x": 1}))
    assert out.upserts == [other, second]
    assert [e.name for e in out.events] == ["hand_raised", "hand_lowered"]
    assert out.events[1].data == {"x": 1}


def test_an_empty_outcome_changes_nothing() -> None:
    out = Outcome()
    assert (out.upserts, out.deletes, out.events) == ([], [], [])
    assert out.room is None
    assert out.ban is None
    assert out.grant_access is None
    assert out.stage_invite is None
    assert out.clear_stage_invite is None


# --- what a creator types --------------------------------------------------------------------------------------


def test_room_fields_are_tidied_and_capacity_defaults_to_the_maximum() -> None:
    title, description, topics, capacity = clean_room_fields(
        "  Late   night jazz ", "  talk about records \n", [" Jazz ", "vinyl  records", "jazz", "JAZZ"], None, 500
    )
    assert title == "Late night jazz"
    assert description == "talk about records"
    assert topics == ("Jazz", "vinyl records")
    assert capacity == 500


def test_room_fields_accept_no_topics_and_an_explicit_capacity() -> None:
    assert clean_room_fields("Hi", "", [], 2, MAX_CAPACITY) == ("Hi", "", (), 2)
    assert clean_room_fields("Hi", "", [], MAX_CAPACITY, MAX_CAPACITY)[3] == MAX_CAPACITY


@pytest.mark.parametrize("title", ["", "   ", "x" * (TITLE_MAX + 1), "\u200b\ufeff", "a\nb", "\x1b]0;x\x07"])
def test_a_title_needs_one_to_title_max_characters(title: str) -> None:
    with pytest.raises(DomainError) as exc:
        clean_room_fields(title, "", [], None, MAX_CAPACITY)
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": "title"}


def test_a_title_of_exactly_title_max_characters_is_fine() -> None:
    assert clean_room_fields("x" * TITLE_MAX, "", [], None, MAX_CAPACITY)[0] == "x" * TITLE_MAX


def test_a_description_may_not_exceed_description_max() -> None:
    assert clean_room_fields("Hi", "d" * DESCRIPTION_MAX, [], None, MAX_CAPACITY)[1] == "d" * DESCRIPTION_MAX
    with pytest.raises(DomainError) as exc:
        clean_room_fields("Hi", "d" * (DESCRIPTION_MAX + 1), [], None, MAX_CAPACITY)
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": "description"}


def test_a_description_is_plain_text_on_several_lines() -> None:
    assert clean_room_fields("Hi", "line one\r\n\tline two", [], None, MAX_CAPACITY)[1] == "line one\n\tline two"
    with pytest.raises(DomainError) as exc:
        clean_room_fields("Hi", "bell\x07", [], None, MAX_CAPACITY)
    assert exc.value.data == {"field": "description"}


@pytest.mark.parametrize("topic", ["", "  ", "t" * (TOPIC_MAX + 1), "\u2060", "a\x00b"])
def test_each_topic_needs_one_to_topic_max_characters(topic: str) -> None:
    with pytest.raises(DomainError) as exc:
        clean_room_fields("Hi", "", ["ok", topic], None, MAX_CAPACITY)
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": "topics"}


def test_at_most_topics_max_distinct_topics() -> None:
    five = [f"t{i}" for i in range(TOPICS_MAX)]
    assert clean_room_fields("Hi", "", [*five, "T0", "t1"], None, MAX_CAPACITY)[2] == tuple(five)
    with pytest.raises(DomainError) as exc:
        clean_room_fields("Hi", "", [*five, "one more"], None, MAX_CAPACITY)
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": "topics"}


@pytest.mark.parametrize("capacity", [1, 0, -3, MAX_CAPACITY + 1])
def test_capacity_must_be_between_two_and_the_site_maximum(capacity: int) -> None:
    with pytest.raises(DomainError) as exc:
        clean_room_fields("Hi", "", [], capacity, MAX_CAPACITY)
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": "capacity"}


# --- who may see a room ----------------------------------------------------------------------------------------


def test_an_open_room_is_visible_to_every_member() -> None:
    assert can_see(room(type=RoomType.OPEN), Access(follows_a_moderator=False), None)


def test_a_closed_room_is_invisible_to_outsiders() -> None:
    assert not can_see(room(type=RoomType.CLOSED), Access(), None)


def test_a_closed_room_is_visible_to_those_let_in_or_invited_up() -> None:
    closed = room(type=RoomType.CLOSED)
    assert can_see(closed, Access(let_in=True), None)
    assert can_see(closed, Access(stage_invite=True), None)


def test_a_social_room_is_visible_to_followers_of_a_moderator_or_those_let_in_or_invited_up() -> None:
    # A moderator lets a non-follower in by letting them in or pinging them (domain/pings.py).
    social = room(type=RoomType.SOCIAL)
    assert can_see(social, Access(follows_a_moderator=True), None)
    assert can_see(social, Access(follows_a_moderator=False, stage_invite=True), None)
    assert can_see(social, Access(follows_a_moderator=False, let_in=True), None)
    assert not can_see(social, Access(follows_a_moderator=False), None)


def test_a_social_room_is_hidden_by_default_from_someone_following_none_of_its_moderators() -> None:
    assert not can_see(room(type=RoomType.SOCIAL), Access(), None)


@pytest.mark.parametrize("kind", list(RoomType))
def test_a_room_is_hidden_from_someone_one_of_its_moderators_blocked(kind: RoomType) -> None:
    blocked = Access(blocked_by_a_moderator=True, follows_a_moderator=True, let_in=True, stage_invite=True)
    assert not can_see(room(type=kind), blocked, None)


@pytest.mark.parametrize("kind", list(RoomType))
def test_a_blocked_member_still_sees_a_room_they_host_or_are_already_in(kind: RoomType) -> None:
    # A scheduled event's host is invited up as a moderator: a co-host's block does not lock them out of it.
    host = Access(blocked_by_a_moderator=True, stage_invite=True, invited_as_moderator=True)
    assert can_see(room(type=kind), host, None)
    assert can_see(room(type=kind), Access(blocked_by_a_moderator=True), person("bob"))
    assert can_see(room(type=kind), Access(blocked_by_a_moderator=True, is_admin=True), None)


@pytest.mark.parametrize("kind", list(RoomType))
def test_admins_and_people_already_inside_always_see_the_room(kind: RoomType) -> None:
    hidden = Access(follows_a_moderator=False)
    assert can_see(room(type=kind), Access(is_admin=True, follows_a_moderator=False), None)
    assert can_see(room(type=kind), hidden, person("bob"))


def test_check_room_access_returns_the_room_when_it_may_be_seen() -> None:
    r = room(type=RoomType.CLOSED)
    assert check_room_access(r, Access(let_in=True), None, "see") is r


def test_a_missing_room_and_a_hidden_room_are_both_not_found() -> None:
    with pytest.raises(DomainError) as missing:
        check_room_access(None, Access(is_admin=True), None, "see")
    with pytest.raises(DomainError) as hidden:
        check_room_access(room(type=RoomType.CLOSED), Access(), None, "see")
    assert missing.value.code is ErrorCode.NOT_FOUND
    assert hidden.value.code is ErrorCode.NOT_FOUND
    assert missing.value.to_dict() == hidden.value.to_dict()  # no way to tell a hidden room from no room


# --- wire shapes -----------------------------------------------------------------------------------------------


def test_participant_data_is_the_public_card_plus_stage_state() -> None:
    p = Participant(
        room_id="r1",
        user=Profile("u1", "bob", "Bob B", avatar_url="/a/u1.png"),
        role=Role.SPEAKER,
        joined_at=at(1),
        stage_since=at(2),
        hand_raised_at=None,
        muted=True,
        mute_locked=True,
        invited_up=False,
    )
    assert participant_data(p) == {
        "user": {"id": "u1", "username": "bob", "display_name": "Bob B", "avatar_url": "/a/u1.png"},
        "role": "speaker",
        "joined_at": "2024-05-01T12:01:00+00:00",
        "stage_since": "2024-05-01T12:02:00+00:00",
        "hand_raised_at": None,
        "muted": True,
        "mute_locked": True,
        "invited_up": False,
    }


def test_participant_data_of_a_listener_with_a_raised_hand() -> None:
    data = participant_data(person("bob", hand_raised_at=at(3), invited_up=True))
    assert data["user"]["avatar_url"] is None
    assert data["role"] == "listener"
    assert data["stage_since"] is None
    assert data["hand_raised_at"] == "2024-05-01T12:03:00+00:00"
    assert data["invited_up"] is True


def test_room_data_of_a_live_room() -> None:
    r = room(description="about", topics=("jazz", "vinyl"), type=RoomType.SOCIAL, hands_enabled=False)
    assert room_data(r) == {
        "id": "r1",
        "title": "Evening chat",
        "description": "about",
        "topics": ["jazz", "vinyl"],
        "type": "social",
        "capacity": 10,
        "hands_enabled": False,
        "created_by": "ada",
        "created_at": "2024-05-01T12:00:00+00:00",
        "ended_at": None,
        "audience_batched": False,
    }


def test_room_data_of_an_ended_batched_room() -> None:
    data = room_data(room(ended_at=at(90), audience_batched=True))
    assert data["ended_at"] == "2024-05-01T13:30:00+00:00"
    assert data["audience_batched"] is True


def test_whoever_may_see_a_room_may_follow_it_except_someone_removed() -> None:
    assert check_room_access(room(), Access(), None, "follow") == room()
    assert code_of_access(room(type=RoomType.CLOSED), Access(), "follow") is ErrorCode.NOT_FOUND
    assert code_of_access(None, Access(), "follow") is ErrorCode.NOT_FOUND
    assert code_of_access(room(), Access(banned=True), "follow") is ErrorCode.REMOVED_FROM_ROOM


def test_a_removed_member_reaches_a_room_to_act_so_the_command_can_say_why_it_refuses() -> None:
    hidden = room(type=RoomType.CLOSED)
    assert check_room_access(hidden, Access(banned=True), None, "act") is hidden
    assert code_of_access(hidden, Access(banned=True), "see") is ErrorCode.NOT_FOUND
    assert code_of_access(hidden, Access(), "act") is ErrorCode.NOT_FOUND
    assert code_of_access(None, Access(banned=True), "act") is ErrorCode.NOT_FOUND


def code_of_access(r: Room | None, access: Access, need: RoomNeed) -> ErrorCode:
    with pytest.raises(DomainError) as caught:
        check_room_access(r, access, None, need)
    return caught.value.code
