"""Rules of a live room (``salon.domain.stage``), stated as a product owner would: one test per rule.

The cast: ``ada`` moderates, ``bob`` and ``cy`` speak, ``dee`` and ``eve`` listen. Times are fixed minutes after
``T0``; nobody reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from salon.domain import stage
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.rooms import (
    Access,
    Event,
    Outcome,
    Participant,
    Role,
    Room,
    RoomEventName,
    RoomType,
    participant_data,
)
from tests.support.domain import T0, at, listener, moderator, profile, room, speaker

NOW = T0 + timedelta(hours=1)


def ended_room() -> Room:
    return room(ended_at=at(30))


def refusal(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value


def code_of(call: Callable[[], object]) -> ErrorCode:
    return refusal(call).code


def changed(name: RoomEventName, p: Participant, by: str | None = None) -> Event:
    data: dict[str, object] = {"participant": participant_data(p)}
    if by is not None:
        data["by"] = by
    return Event(name, data)


def nothing_happened(out: Outcome) -> bool:
    return out == Outcome()


# --- joining ---------------------------------------------------------------------------------------------------


def test_a_member_joins_an_open_room_as_a_listener_and_everyone_is_told() -> None:
    out = stage.join(room(), profile("dee"), Access(), None, headcount=3, now=NOW)
    joined = Participant("r1", profile("dee"), Role.LISTENER, NOW)
    assert out.upserts == [joined]
    assert out.events == [Event("participant_joined", {"participant": participant_data(joined)})]
    assert out.clear_stage_invite is None
    assert out.deletes == []


def test_a_member_invited_up_before_joining_walks_straight_onto_the_stage_muted() -> None:
    out = stage.join(room(), profile("dee"), Access(stage_invite=True), None, headcount=3, now=NOW)
    (p,) = out.upserts
    assert (p.role, p.stage_since, p.muted, p.mute_locked) == (Role.SPEAKER, NOW, True, False)
    assert out.events == [Event("participant_joined", {"participant": participant_data(p)})]
    assert out.clear_stage_invite == "dee"


def test_an_invitation_as_moderator_makes_the_member_a_moderator_when_they_join() -> None:
    # How a scheduled event's other hosts take their place when the event starts.
    access = Access(stage_invite=True, invited_as_moderator=True)
    out = stage.join(room(), profile("dee"), access, None, headcount=3, now=NOW)
    (p,) = out.upserts
    assert (p.role, p.stage_since, p.muted) == (Role.MODERATOR, NOW, True)
    assert out.events == [Event("participant_joined", {"participant": participant_data(p)})]
    assert out.clear_stage_invite == "dee"


def test_joining_a_room_you_are_already_in_changes_nothing() -> None:
    out = stage.join(room(), profile("dee"), Access(), listener(), headcount=10, now=NOW)
    assert nothing_happened(out)


def test_a_full_room_refuses_with_room_full() -> None:
    err = refusal(lambda: stage.join(room(capacity=4), profile("dee"), Access(), None, headcount=4, now=NOW))
    assert err.code is ErrorCode.ROOM_FULL
    assert err.data == {"capacity": 4}


def test_a_full_room_refuses_even_someone_invited_up() -> None:
    err = refusal(lambda: stage.join(room(capacity=4), profile("dee"), Access(stage_invite=True), None, 4, NOW))
    assert err.code is ErrorCode.ROOM_FULL


def test_the_last_seat_can_be_taken() -> None:
    assert stage.join(room(capacity=4), profile("dee"), Access(), None, headcount=3, now=NOW).upserts


def test_an_ended_room_cannot_be_joined() -> None:
    assert code_of(lambda: stage.join(ended_room(), profile("dee"), Access(), None, 1, NOW)) is ErrorCode.ROOM_ENDED


def test_someone_removed_from_a_room_cannot_join_it_again() -> None:
    err = refusal(lambda: stage.join(room(), profile("dee"), Access(banned=True), None, 1, NOW))
    assert err.code is ErrorCode.REMOVED_FROM_ROOM


def test_an_outsider_cannot_join_a_closed_room_it_does_not_exist_for_them() -> None:
    err = refusal(lambda: stage.join(room(type=RoomType.CLOSED), profile("dee"), Access(), None, 1, NOW))
    assert err.code is ErrorCode.NOT_FOUND


def test_a_member_let_into_a_closed_room_can_join_it() -> None:
    out = stage.join(room(type=RoomType.CLOSED), profile("dee"), Access(let_in=True), None, 1, NOW)
    assert out.upserts[0].role is Role.LISTENER


def test_a_listener_joining_a_batched_room_arrives_quietly() -> None:
    out = stage.join(room(audience_batched=True), profile("dee"), Access(), None, headcount=3, now=NOW)
    assert [p.user_id for p in out.upserts] == ["dee"]
    assert out.events == []


def test_a_speaker_joining_a_batched_room_is_announced() -> None:
    out = stage.join(room(audience_batched=True), profile("dee"), Access(stage_invite=True), None, 3, NOW)
    assert [e.name for e in out.events] == ["participant_joined"]


def test_a_social_room_lets_in_followers_of_a_moderator_and_hides_from_everyone_else() -> None:
    social = room(type=RoomType.SOCIAL)
    err = refusal(lambda: stage.join(social, profile("dee"), Access(), None, 1, NOW))
    assert err.code is ErrorCode.NOT_FOUND
    closed = refusal(lambda: stage.join(room(type=RoomType.CLOSED), profile("dee"), Access(), None, 1, NOW))
    assert err.to_dict() == closed.to_dict()  # nothing tells a social room apart from a room that is not there
    assert stage.join(social, profile("dee"), Access(follows_a_moderator=True), None, 1, NOW).upserts
    assert stage.join(social, profile("dee"), Access(stage_invite=True), None, 1, NOW).upserts
    assert stage.join(social, profile("dee"), Access(is_admin=True), None, 1, NOW).upserts


@pytest.mark.parametrize("kind", list(RoomType))
def test_someone_a_moderator_blocked_cannot_join_as_if_the_room_did_not_exist(kind: RoomType) -> None:
    blocked = Access(blocked_by_a_moderator=True, follows_a_moderator=True, let_in=True, stage_invite=True)
    assert code_of(lambda: stage.join(room(type=kind), profile("dee"), blocked, None, 1, NOW)) is ErrorCode.NOT_FOUND


def test_a_block_does_not_throw_out_someone_already_in_the_room() -> None:
    out = stage.join(room(), profile("dee"), Access(blocked_by_a_moderator=True), listener(), headcount=3, now=NOW)
    assert nothing_happened(out)


# --- the hand queue --------------------------------------------------------------------------------------------


def test_a_listener_raises_their_hand() -> None:
    out = stage.raise_hand(room(), listener(), NOW)
    up = replace(listener(), hand_raised_at=NOW)
    assert out.upserts == [up]
    assert out.events == [changed("hand_raised", up)]


def test_raising_an_already_raised_hand_keeps_its_place_in_the_queue() -> None:
    assert nothing_happened(stage.raise_hand(room(), listener(hand_raised_at=at(5)), NOW))


def test_someone_on_stage_cannot_raise_a_hand() -> None:
    assert code_of(lambda: stage.raise_hand(room(), speaker(), NOW)) is ErrorCode.CONFLICT
    assert code_of(lambda: stage.raise_hand(room(), moderator(), NOW)) is ErrorCode.CONFLICT


def test_no_hands_go_up_when_moderators_turned_hands_off() -> None:
    err = refusal(lambda: stage.raise_hand(room(hands_enabled=False), listener(), NOW))
    assert err.code is ErrorCode.HANDS_DISABLED


def test_someone_not_in_the_room_cannot_raise_a_hand() -> None:
    assert code_of(lambda: stage.raise_hand(room(), None, NOW)) is ErrorCode.NOT_IN_ROOM


def test_no_hands_go_up_in_an_ended_room() -> None:
    assert code_of(lambda: stage.raise_hand(ended_room(), listener(), NOW)) is ErrorCode.ROOM_ENDED


def test_a_listener_lowers_their_hand() -> None:
    out = stage.lower_hand(room(), listener(hand_raised_at=at(5)))
    down = listener()
    assert out.upserts == [down]
    assert out.events == [changed("hand_lowered", down)]


def test_lowering_a_hand_that_is_not_up_changes_nothing() -> None:
    assert nothing_happened(stage.lower_hand(room(), listener()))


def test_a_hand_can_be_lowered_even_when_hands_are_off() -> None:
    out = stage.lower_hand(room(hands_enabled=False), listener(hand_raised_at=at(5)))
    assert [e.name for e in out.events] == ["hand_lowered"]


def test_lowering_a_hand_needs_a_live_room_and_being_in_it() -> None:
    assert code_of(lambda: stage.lower_hand(room(), None)) is ErrorCode.NOT_IN_ROOM
    assert code_of(lambda: stage.lower_hand(ended_room(), listener(hand_raised_at=at(5)))) is ErrorCode.ROOM_ENDED


def test_turning_hands_off_clears_the_queue() -> None:
    raised = [listener("dee", hand_raised_at=at(5)), listener("eve", hand_raised_at=at(6))]
    out = stage.set_hands_enabled(room(), moderator(), False, raised)
    assert out.room == room(hands_enabled=False)
    assert out.upserts == [listener("dee"), listener("eve")]
    assert out.events == [Event("hands_enabled", {"enabled": False})]  # one event, not one per hand


def test_turning_hands_back_on_touches_nobody() -> None:
    out = stage.set_hands_enabled(room(hands_enabled=False), moderator(), True, [])
    assert out.room == room(hands_enabled=True)
    assert out.upserts == []
    assert out.events == [Event("hands_enabled", {"enabled": True})]


def test_turning_hands_to_what_they_already_are_changes_nothing() -> None:
    assert nothing_happened(stage.set_hands_enabled(room(), moderator(), True, []))
    assert nothing_happened(stage.set_hands_enabled(room(hands_enabled=False), moderator(), False, []))


def test_only_a_moderator_turns_hands_on_or_off() -> None:
    assert code_of(lambda: stage.set_hands_enabled(room(), speaker(), False, [])) is ErrorCode.NOT_ALLOWED
    assert code_of(lambda: stage.set_hands_enabled(room(), listener(), False, [])) is ErrorCode.NOT_ALLOWED
    assert code_of(lambda: stage.set_hands_enabled(room(), None, False, [])) is ErrorCode.NOT_IN_ROOM


def test_a_moderator_cannot_change_an_ended_room() -> None:
    assert code_of(lambda: stage.set_hands_enabled(ended_room(), moderator(), False, [])) is ErrorCode.ROOM_ENDED


# --- invitations up --------------------------------------------------------------------------------------------


def test_a_moderator_invites_a_listener_up() -> None:
    out = stage.invite_up(room(), moderator(), listener(hand_raised_at=at(5)), "dee", target_banned=False)
    invited = listener(hand_raised_at=at(5), invited_up=True)
    assert out.upserts == [invited]
    assert out.events == [changed("stage_invited", invited, by="ada")]
    assert out.stage_invite is None


def test_a_moderator_invites_up_a_member_who_is_not_in_the_room_yet() -> None:
    out = stage.invite_up(room(), moderator(), None, "fay", target_banned=False)
    assert out.stage_invite == "fay"
    assert (out.upserts, out.events) == ([], [])


def test_inviting_someone_already_invited_changes_nothing() -> None:
    assert nothing_happened(stage.invite_up(room(), moderator(), listener(invited_up=True), "dee", False))


def test_a_listener_cannot_invite_someone_up() -> None:
    err = refusal(lambda: stage.invite_up(room(), listener("eve"), listener(), "dee", False))
    assert err.code is ErrorCode.NOT_ALLOWED


def test_a_speaker_cannot_invite_someone_up() -> None:
    assert code_of(lambda: stage.invite_up(room(), speaker(), listener(), "dee", False)) is ErrorCode.NOT_ALLOWED


def test_someone_removed_from_the_room_cannot_be_invited_up() -> None:
    assert code_of(lambda: stage.invite_up(room(), moderator(), None, "dee", True)) is ErrorCode.REMOVED_FROM_ROOM


def test_someone_already_on_stage_cannot_be_invited_up() -> None:
    assert code_of(lambda: stage.invite_up(room(), moderator(), speaker(), "bob", False)) is ErrorCode.CONFLICT


def test_an_invited_listener_accepts_and_comes_up_muted() -> None:
    out = stage.accept_stage_invite(room(), listener(invited_up=True, hand_raised_at=at(5)), NOW)
    up = replace(listener(), role=Role.SPEAKER, stage_since=NOW, muted=True)
    assert out.upserts == [up]
    assert out.events == [changed("role_changed", up)]


def test_nobody_comes_up_without_an_invitation() -> None:
    err = refusal(lambda: stage.accept_stage_invite(room(), listener(hand_raised_at=at(5)), NOW))
    assert err.code is ErrorCode.NOT_ALLOWED


def test_someone_on_stage_has_no_invitation_to_accept() -> None:
    assert code_of(lambda: stage.accept_stage_invite(room(), speaker(), NOW)) is ErrorCode.CONFLICT


def test_an_invitation_cannot_be_accepted_in_an_ended_room_or_from_outside() -> None:
    assert (
        code_of(lambda: stage.accept_stage_invite(ended_room(), listener(invited_up=True), NOW)) is ErrorCode.ROOM_ENDED
    )
    assert code_of(lambda: stage.accept_stage_invite(room(), None, NOW)) is ErrorCode.NOT_IN_ROOM


def test_declining_an_invitation_lowers_the_hand() -> None:
    out = stage.decline_stage_invite(room(), listener(invited_up=True, invited_until=at(7), hand_raised_at=at(5)))
    declined = listener()
    assert out.upserts == [declined]
    assert out.events == [changed("stage_invite_declined", declined)]


def test_an_invitation_up_lapses_at_its_deadline() -> None:
    out = stage.invite_up(room(), moderator(), listener(hand_raised_at=at(5)), "dee", False, now=at(6), until=at(8))
    invited = listener(hand_raised_at=at(5), invited_up=True, invited_until=at(8))
    assert out.upserts == [invited]
    assert nothing_happened(stage.expire_stage_invite(room(), invited, at(7)))
    out = stage.expire_stage_invite(room(), invited, at(8))
    lapsed = listener()  # the hand goes down with it, as when declining
    assert out.upserts == [lapsed]
    assert out.events == [changed("stage_invite_expired", lapsed)]
    assert out.moderation == []


def test_a_lapsed_invitation_cannot_be_accepted() -> None:
    invited = listener(invited_up=True, invited_until=at(8))
    err = refusal(lambda: stage.accept_stage_invite(room(), invited, at(8)))
    assert (err.code, err.data) == (ErrorCode.NOT_ALLOWED, {"reason": "invite_expired"})
    assert stage.accept_stage_invite(room(), invited, at(7)).upserts[0].role is Role.SPEAKER


def test_inviting_again_renews_a_lapsed_invitation_but_not_a_standing_one() -> None:
    invited = listener(invited_up=True, invited_until=at(8))
    assert nothing_happened(stage.invite_up(room(), moderator(), invited, "dee", False, now=at(7), until=at(9)))
    out = stage.invite_up(room(), moderator(), invited, "dee", False, now=at(8), until=at(10))
    assert out.upserts == [listener(invited_up=True, invited_until=at(10))]


def test_nothing_lapses_once_answered_gone_or_ended() -> None:
    assert nothing_happened(stage.expire_stage_invite(room(), listener(), at(9)))
    assert nothing_happened(stage.expire_stage_invite(room(), None, at(9)))
    invited = listener(invited_up=True, invited_until=at(8))
    assert nothing_happened(stage.expire_stage_invite(ended_room(), invited, at(9)))
    standing = listener(invited_up=True)  # invited before invitations had a deadline
    assert nothing_happened(stage.expire_stage_invite(room(), standing, at(9)))


def test_there_is_nothing_to_decline_without_an_invitation() -> None:
    assert code_of(lambda: stage.decline_stage_invite(room(), listener())) is ErrorCode.NOT_ALLOWED


def test_an_invitation_cannot_be_declined_in_an_ended_room_or_from_outside() -> None:
    assert code_of(lambda: stage.decline_stage_invite(ended_room(), listener(invited_up=True))) is ErrorCode.ROOM_ENDED
    assert code_of(lambda: stage.decline_stage_invite(room(), None)) is ErrorCode.NOT_IN_ROOM


# --- moving people down ----------------------------------------------------------------------------------------


def test_a_moderator_moves_a_speaker_down_and_their_stage_state_is_reset() -> None:
    bob = speaker(muted=True, mute_locked=True)
    out = stage.move_to_audience(room(), moderator(), bob, [moderator(), bob])
    down = listener("bob")
    assert out.upserts == [down]
    assert out.events == [changed("role_changed", down, by="ada")]


def test_a_speaker_steps_down_themself() -> None:
    bob = speaker()
    out = stage.move_to_audience(room(), bob, bob, [moderator(), bob])
    assert [(p.user_id, p.role) for p in out.upserts] == [("bob", Role.LISTENER)]


def test_a_speaker_cannot_move_someone_else_down() -> None:
    err = refusal(lambda: stage.move_to_audience(room(), speaker("bob"), speaker("cy"), [moderator()]))
    assert err.code is ErrorCode.NOT_ALLOWED


def test_a_listener_cannot_be_moved_further_down() -> None:
    err = refusal(lambda: stage.move_to_audience(room(), moderator(), listener(), [moderator()]))
    assert err.code is ErrorCode.CONFLICT
    me = listener()
    assert code_of(lambda: stage.move_to_audience(room(), me, me, [moderator()])) is ErrorCode.CONFLICT


def test_moving_down_someone_not_in_the_room_is_refused() -> None:
    err = refusal(lambda: stage.move_to_audience(room(), moderator(), None, [moderator()]))
    assert err.code is ErrorCode.NOT_IN_ROOM
    assert err.message == "That person is not in this room."


def test_moving_down_needs_a_live_room_and_an_actor_inside_it() -> None:
    assert code_of(lambda: stage.move_to_audience(ended_room(), moderator(), speaker(), [])) is ErrorCode.ROOM_ENDED
    err = refusal(lambda: stage.move_to_audience(room(), None, speaker(), []))
    assert err.code is ErrorCode.NOT_IN_ROOM
    assert err.message == "You are not in this room."


def test_a_moderator_steps_down_freely_while_another_moderator_remains() -> None:
    ada, zed = moderator("ada"), moderator("zed", since=9)
    out = stage.move_to_audience(room(), ada, ada, [ada, zed, speaker()])
    assert [(p.user_id, p.role) for p in out.upserts] == [("ada", Role.LISTENER)]


def test_the_last_moderator_stepping_down_hands_over_to_the_longest_serving_speaker() -> None:
    ada = moderator()
    newer, older = speaker("bob", since=20), speaker("cy", since=10)
    out = stage.move_to_audience(room(), ada, ada, [ada, newer, older])
    heir = replace(older, role=Role.MODERATOR)
    assert out.upserts == [heir, listener("ada")]
    assert out.events == [changed("role_changed", heir), changed("role_changed", listener("ada"))]


def test_moving_the_last_moderator_down_refuses_with_last_moderator_when_no_speaker_is_left() -> None:
    ada = moderator()
    err = refusal(lambda: stage.move_to_audience(room(), ada, ada, [ada]))
    assert err.code is ErrorCode.LAST_MODERATOR


def test_equally_long_serving_speakers_hand_over_by_user_id() -> None:
    ada = moderator()
    out = stage.move_to_audience(room(), ada, ada, [ada, speaker("cy", since=5), speaker("bob", since=5)])
    assert out.upserts[0].user_id == "bob"
    assert out.upserts[0].role is Role.MODERATOR


def test_a_speaker_without_a_stage_time_counts_from_when_they_joined() -> None:
    ada = moderator()
    early = speaker("zed", since=1, stage_since=None)
    out = stage.move_to_audience(room(), ada, ada, [ada, speaker("bob", since=5), early])
    assert out.upserts[0].user_id == "zed"


# --- moderators ------------------------------------------------------------------------------------------------


def test_a_moderator_makes_a_speaker_a_moderator() -> None:
    out = stage.set_moderator(room(), moderator(), speaker(), True, [moderator(), speaker()])
    promoted = replace(speaker(), role=Role.MODERATOR)
    assert out.upserts == [promoted]
    assert out.events == [changed("role_changed", promoted, by="ada")]


def test_a_moderator_makes_another_moderator_a_speaker() -> None:
    zed = moderator("zed")
    out = stage.set_moderator(room(), moderator(), zed, False, [moderator(), zed])
    assert out.upserts == [replace(zed, role=Role.SPEAKER)]
    assert [e.name for e in out.events] == ["role_changed"]


def test_the_last_moderator_cannot_make_themself_a_plain_speaker() -> None:
    ada = moderator()
    err = refusal(lambda: stage.set_moderator(room(), ada, ada, False, [ada, speaker()]))
    assert err.code is ErrorCode.LAST_MODERATOR


def test_setting_the_role_someone_already_has_changes_nothing() -> None:
    assert nothing_happened(stage.set_moderator(room(), moderator(), speaker(), False, [moderator()]))
    zed = moderator("zed")
    assert nothing_happened(stage.set_moderator(room(), moderator(), zed, True, [moderator(), zed]))


def test_only_someone_on_stage_can_be_made_a_moderator() -> None:
    assert code_of(lambda: stage.set_moderator(room(), moderator(), listener(), True, [])) is ErrorCode.CONFLICT


def test_only_a_moderator_appoints_moderators() -> None:
    assert code_of(lambda: stage.set_moderator(room(), speaker("cy"), speaker(), True, [])) is ErrorCode.NOT_ALLOWED
    assert code_of(lambda: stage.set_moderator(room(), moderator(), None, True, [])) is ErrorCode.NOT_IN_ROOM


# --- mutes -----------------------------------------------------------------------------------------------------


def test_a_moderator_mutes_a_speaker_who_may_unmute_again() -> None:
    out = stage.moderator_mute(room(), moderator(), speaker(), lock=False)
    muted = speaker(muted=True)
    assert out.upserts == [muted]
    assert out.events == [changed("mute_changed", muted, by="ada")]


def test_a_moderator_mutes_a_speaker_and_locks_it() -> None:
    out = stage.moderator_mute(room(), moderator(), speaker(), lock=True)
    assert out.upserts == [speaker(muted=True, mute_locked=True)]


def test_a_moderator_locks_the_mute_of_a_speaker_already_muted() -> None:
    out = stage.moderator_mute(room(), moderator(), speaker(muted=True), lock=True)
    assert out.upserts == [speaker(muted=True, mute_locked=True)]
    assert [e.name for e in out.events] == ["mute_changed"]


def test_muting_again_the_same_way_changes_nothing() -> None:
    assert nothing_happened(stage.moderator_mute(room(), moderator(), speaker(muted=True), lock=False))
    assert nothing_happened(stage.moderator_mute(room(), moderator(), speaker(muted=True, mute_locked=True), True))


def test_only_people_on_stage_can_be_muted_by_a_moderator() -> None:
    assert code_of(lambda: stage.moderator_mute(room(), moderator(), listener(), True)) is ErrorCode.CONFLICT
    assert code_of(lambda: stage.moderator_mute(room(), moderator(), None, True)) is ErrorCode.NOT_IN_ROOM


def test_a_speaker_cannot_mute_another_speaker() -> None:
    assert code_of(lambda: stage.moderator_mute(room(), speaker("cy"), speaker(), True)) is ErrorCode.NOT_ALLOWED


def test_a_moderator_unlocks_a_locked_mute_and_the_speaker_stays_muted() -> None:
    out = stage.unlock_mute(room(), moderator(), speaker(muted=True, mute_locked=True))
    assert out.upserts == [speaker(muted=True)]
    assert out.events == [changed("mute_changed", speaker(muted=True), by="ada")]


def test_unlocking_a_mute_that_is_not_locked_changes_nothing() -> None:
    assert nothing_happened(stage.unlock_mute(room(), moderator(), speaker(muted=True)))


def test_only_a_moderator_unlocks_a_mute() -> None:
    locked = speaker(muted=True, mute_locked=True)
    assert code_of(lambda: stage.unlock_mute(room(), locked, locked)) is ErrorCode.NOT_ALLOWED
    assert code_of(lambda: stage.unlock_mute(room(), moderator(), None)) is ErrorCode.NOT_IN_ROOM


def test_a_speaker_mutes_and_unmutes_themself() -> None:
    out = stage.set_self_muted(room(), speaker(), True)
    assert out.upserts == [speaker(muted=True)]
    assert out.events == [changed("mute_changed", speaker(muted=True))]
    out = stage.set_self_muted(room(), speaker(muted=True), False)
    assert out.upserts == [speaker()]


def test_muting_yourself_as_you_already_are_changes_nothing() -> None:
    assert nothing_happened(stage.set_self_muted(room(), speaker(muted=True), True))
    assert nothing_happened(stage.set_self_muted(room(), speaker(), False))
    assert nothing_happened(stage.set_self_muted(room(), speaker(muted=True, mute_locked=True), True))


def test_a_locked_mute_cannot_be_undone_by_the_speaker() -> None:
    err = refusal(lambda: stage.set_self_muted(room(), speaker(muted=True, mute_locked=True), False))
    assert err.code is ErrorCode.MUTE_LOCKED


def test_a_listener_has_no_microphone_to_mute() -> None:
    assert code_of(lambda: stage.set_self_muted(room(), listener(), True)) is ErrorCode.NOT_ALLOWED


def test_muting_yourself_needs_a_live_room_and_being_in_it() -> None:
    assert code_of(lambda: stage.set_self_muted(ended_room(), speaker(), True)) is ErrorCode.ROOM_ENDED
    assert code_of(lambda: stage.set_self_muted(room(), None, True)) is ErrorCode.NOT_IN_ROOM


# --- leaving ---------------------------------------------------------------------------------------------------


def left(user_id: str, role: Role, reason: str = "left", by: str | None = None) -> Event:
    data = {"user_id": user_id, "role": role.value, "reason": reason}
    if by is not None:
        data["by"] = by
    return Event("participant_left", data)


def test_a_listener_leaves_and_everyone_is_told() -> None:
    out = stage.leave(room(), listener(), [moderator()], headcount=3, now=NOW)
    assert out.deletes == ["dee"]
    assert out.events == [left("dee", Role.LISTENER)]
    assert out.room is None
    assert out.ban is None


def test_a_quiet_listener_leaves_a_batched_room_without_an_event() -> None:
    out = stage.leave(room(audience_batched=True), listener(), [moderator()], headcount=300, now=NOW)
    assert out.deletes == ["dee"]
    assert out.events == []


@pytest.mark.parametrize("notable", [{"hand_raised_at": at(5)}, {"invited_up": True}])
def test_a_listed_listener_leaving_a_batched_room_is_announced(notable: dict[str, Any]) -> None:
    # Clients list listeners with a raised hand or an invitation up even in a batched audience; without an
    # event they would keep a departed person in the hand queue.
    out = stage.leave(room(audience_batched=True), listener(**notable), [moderator()], headcount=300, now=NOW)
    assert out.deletes == ["dee"]
    assert out.events == [left("dee", Role.LISTENER)]


def test_a_speaker_leaving_a_batched_room_is_announced() -> None:
    out = stage.leave(room(audience_batched=True), speaker(), [moderator(), speaker()], headcount=300, now=NOW)
    assert out.events == [left("bob", Role.SPEAKER)]


def test_a_moderator_leaves_while_another_moderator_remains() -> None:
    ada, zed = moderator("ada"), moderator("zed")
    out = stage.leave(room(), ada, [ada, zed, speaker()], headcount=4, now=NOW)
    assert out.deletes == ["ada"]
    assert out.events == [left("ada", Role.MODERATOR)]
    assert out.upserts == []


def test_the_last_moderator_leaving_hands_over_to_the_longest_serving_speaker() -> None:
    ada = moderator()
    newer, older = speaker("bob", since=20), speaker("cy", since=10)
    out = stage.leave(room(), ada, [ada, newer, older], headcount=5, now=NOW)
    heir = replace(older, role=Role.MODERATOR)
    assert out.deletes == ["ada"]
    assert out.upserts == [heir]
    assert out.events == [left("ada", Role.MODERATOR), changed("role_changed", heir)]
    assert out.room is None


def test_the_room_ends_when_the_last_moderator_leaves_no_speaker_behind() -> None:
    ada = moderator()
    out = stage.leave(room(), ada, [ada], headcount=50, now=NOW)
    assert out.deletes == ["ada"]
    assert out.room == room(ended_at=NOW)
    assert out.events == [left("ada", Role.MODERATOR), Event("room_ended", {"ended_at": NOW.isoformat()})]


def test_the_room_ends_when_the_last_person_leaves() -> None:
    out = stage.leave(room(), listener(), [], headcount=1, now=NOW)
    assert out.room == room(ended_at=NOW)
    assert [e.name for e in out.events] == ["participant_left", "room_ended"]


def test_leaving_needs_a_live_room_and_being_in_it() -> None:
    assert code_of(lambda: stage.leave(ended_room(), listener(), [], 1, NOW)) is ErrorCode.ROOM_ENDED
    assert code_of(lambda: stage.leave(room(), None, [], 1, NOW)) is ErrorCode.NOT_IN_ROOM


# --- removal ---------------------------------------------------------------------------------------------------


def test_a_moderator_removes_a_listener_who_is_banned_from_the_room() -> None:
    out = stage.remove(room(), moderator(), listener(), "dee", [moderator()], headcount=3, now=NOW)
    assert out.ban == "dee"
    assert out.deletes == ["dee"]
    assert out.events == [left("dee", Role.LISTENER, "removed", by="ada")]


def test_a_removal_is_announced_even_in_a_batched_room() -> None:
    out = stage.remove(room(audience_batched=True), moderator(), listener(), "dee", [moderator()], 300, NOW)
    assert out.events == [left("dee", Role.LISTENER, "removed", by="ada")]


def test_a_member_not_in_the_room_can_still_be_banned_from_it() -> None:
    out = stage.remove(room(), moderator(), None, "fay", [moderator()], headcount=3, now=NOW)
    assert out.ban == "fay"
    assert (out.upserts, out.deletes, out.events) == ([], [], [])


def test_removing_a_speaker_mid_sentence() -> None:
    out = stage.remove(room(), moderator(), speaker(), "bob", [moderator(), speaker()], headcount=3, now=NOW)
    assert out.events == [left("bob", Role.SPEAKER, "removed", by="ada")]
    assert out.room is None


def test_removing_the_last_other_person_ends_the_room() -> None:
    out = stage.remove(room(), moderator(), listener(), "dee", [moderator()], headcount=1, now=NOW)
    assert out.room == room(ended_at=NOW)
    assert [e.name for e in out.events] == ["participant_left", "room_ended"]


def test_a_moderator_cannot_remove_themself() -> None:
    err = refusal(lambda: stage.remove(room(), moderator(), moderator(), "ada", [moderator()], 3, NOW))
    assert err.code is ErrorCode.CONFLICT


def test_only_a_moderator_removes_people() -> None:
    assert code_of(lambda: stage.remove(room(), speaker(), listener(), "dee", [], 3, NOW)) is ErrorCode.NOT_ALLOWED
    assert (
        code_of(lambda: stage.remove(ended_room(), moderator(), listener(), "dee", [], 3, NOW)) is ErrorCode.ROOM_ENDED
    )


# --- the end ---------------------------------------------------------------------------------------------------


def test_a_moderator_ends_the_room() -> None:
    out = stage.end_room(room(), "ada", moderator(), is_admin=False, stage=[moderator()], now=NOW)
    assert out.room == room(ended_at=NOW)
    assert out.events == [Event("room_ended", {"ended_at": "2024-05-01T13:00:00+00:00", "by": "ada"})]


def test_an_admin_ends_a_room_they_are_not_in() -> None:
    out = stage.end_room(room(), "root", None, is_admin=True, stage=[], now=NOW)
    assert out.room == room(ended_at=NOW)
    assert out.events[0].data["by"] == "root"


def test_a_room_that_ends_by_itself_or_from_the_console_names_nobody() -> None:
    assert "by" not in stage.end_room(room(), None, None, is_admin=True, stage=[], now=NOW).events[0].data
    out = stage.remove(room(), moderator(), listener(), "dee", [moderator()], headcount=1, now=NOW)
    assert out.events[-1] == Event("room_ended", {"ended_at": "2024-05-01T13:00:00+00:00"})


def test_only_a_moderator_or_an_admin_ends_a_room() -> None:
    assert code_of(lambda: stage.end_room(room(), "bob", speaker(), False, [], NOW)) is ErrorCode.NOT_ALLOWED
    assert code_of(lambda: stage.end_room(room(), "eve", None, False, [], NOW)) is ErrorCode.NOT_IN_ROOM


def test_a_room_ends_only_once() -> None:
    assert code_of(lambda: stage.end_room(ended_room(), None, None, True, [], NOW)) is ErrorCode.ROOM_ENDED
    assert code_of(lambda: stage.end_room(ended_room(), "ada", moderator(), False, [], NOW)) is ErrorCode.ROOM_ENDED


# Nobody is in an ended room (its participants are deleted when it ends), so a command there says it ended rather
# than "you are not in this room", whoever sends it (the app already answered `not_found` to anyone who may not see
# the room).
ENDED_ROOM_COMMANDS: dict[str, Callable[[], object]] = {
    "raise_hand": lambda: stage.raise_hand(ended_room(), None, NOW),
    "lower_hand": lambda: stage.lower_hand(ended_room(), None),
    "set_hands_enabled": lambda: stage.set_hands_enabled(ended_room(), None, False, []),
    "invite_up": lambda: stage.invite_up(ended_room(), None, None, "dee", False),
    "accept_stage_invite": lambda: stage.accept_stage_invite(ended_room(), None, NOW),
    "decline_stage_invite": lambda: stage.decline_stage_invite(ended_room(), None),
    "move_to_audience": lambda: stage.move_to_audience(ended_room(), None, None, []),
    "set_moderator": lambda: stage.set_moderator(ended_room(), None, None, True, []),
    "moderator_mute": lambda: stage.moderator_mute(ended_room(), None, None, False),
    "unlock_mute": lambda: stage.unlock_mute(ended_room(), None, None),
    "set_self_muted": lambda: stage.set_self_muted(ended_room(), None, True),
    "leave": lambda: stage.leave(ended_room(), None, [], 0, NOW),
    "remove": lambda: stage.remove(ended_room(), None, None, "dee", [], 0, NOW),
    "end_room": lambda: stage.end_room(ended_room(), "ada", None, False, [], NOW),
    "let_in": lambda: stage.let_in(ended_room(), None, "fay"),
}


@pytest.mark.parametrize("command", ENDED_ROOM_COMMANDS.values(), ids=ENDED_ROOM_COMMANDS.keys())
def test_every_command_in_an_ended_room_says_the_room_ended(command: Callable[[], object]) -> None:
    assert code_of(command) is ErrorCode.ROOM_ENDED


# --- the room's creator ----------------------------------------------------------------------------------------
# ada created the room (``room().created_by``); zed is a moderator she made.


def test_another_moderator_cannot_take_the_moderator_role_from_the_rooms_creator() -> None:
    ada, zed = moderator(), moderator("zed")
    err = refusal(lambda: stage.set_moderator(room(), zed, ada, False, [ada, zed]))
    assert err.code is ErrorCode.NOT_ALLOWED
    assert err.data == {"reason": "room_creator"}


@pytest.mark.parametrize("creator", [moderator(), speaker("ada")], ids=["moderating", "speaking"])
def test_another_moderator_cannot_move_the_rooms_creator_to_the_audience(creator: Participant) -> None:
    zed = moderator("zed")
    err = refusal(lambda: stage.move_to_audience(room(), zed, creator, [creator, zed]))
    assert err.code is ErrorCode.NOT_ALLOWED
    assert err.data == {"reason": "room_creator"}


@pytest.mark.parametrize("creator", [moderator(), listener("ada"), None], ids=["on_stage", "listening", "away"])
def test_another_moderator_cannot_remove_the_rooms_creator(creator: Participant | None) -> None:
    zed = moderator("zed")
    err = refusal(lambda: stage.remove(room(), zed, creator, "ada", [zed], 3, NOW))
    assert err.code is ErrorCode.NOT_ALLOWED
    assert err.data == {"reason": "room_creator"}


def test_the_rooms_creator_may_step_down_or_give_up_moderating_themself() -> None:
    ada, zed = moderator(), moderator("zed")
    assert stage.set_moderator(room(), ada, ada, False, [ada, zed]).upserts == [replace(ada, role=Role.SPEAKER)]
    assert [p.role for p in stage.move_to_audience(room(), ada, ada, [ada, zed]).upserts] == [Role.LISTENER]


def test_other_moderators_still_mute_the_rooms_creator_who_may_unlock_it() -> None:
    ada, zed = moderator(), moderator("zed")
    locked = stage.moderator_mute(room(), zed, ada, lock=True).upserts
    assert locked == [replace(ada, muted=True, mute_locked=True)]
    assert stage.unlock_mute(room(), locked[0], locked[0]).upserts == [replace(ada, muted=True)]


def test_a_moderator_other_than_the_creator_is_moved_down_and_removed_as_before() -> None:
    ada, zed = moderator(), moderator("zed")
    assert stage.set_moderator(room(), zed, zed, False, [ada, zed]).upserts == [replace(zed, role=Role.SPEAKER)]
    assert stage.set_moderator(room(), ada, zed, False, [ada, zed]).upserts == [replace(zed, role=Role.SPEAKER)]
    assert stage.remove(room(), ada, zed, "zed", [ada, zed], 3, NOW).ban == "zed"


# --- closed rooms: letting people in ---------------------------------------------------------------------------


def test_a_moderator_lets_a_member_into_a_closed_room() -> None:
    out = stage.let_in(room(type=RoomType.CLOSED), moderator(), "fay")
    assert out.grant_access == "fay"
    assert (out.upserts, out.events) == ([], [])


def test_only_a_moderator_lets_people_in() -> None:
    assert code_of(lambda: stage.let_in(room(type=RoomType.CLOSED), listener(), "fay")) is ErrorCode.NOT_ALLOWED


# --- big rooms: the batched audience ---------------------------------------------------------------------------


def test_a_room_reaching_the_threshold_switches_to_a_batched_audience() -> None:
    out = stage.audience_batching(room(), listeners=200, threshold=200)
    assert out.room == room(audience_batched=True)
    assert out.events == [Event("audience_batched", {"listener_count": 200})]


def test_a_room_below_the_threshold_keeps_listing_everyone() -> None:
    assert nothing_happened(stage.audience_batching(room(), listeners=199, threshold=200))


def test_a_batched_room_stays_batched_and_is_not_switched_twice() -> None:
    assert nothing_happened(stage.audience_batching(room(audience_batched=True), listeners=5, threshold=200))
    assert nothing_happened(stage.audience_batching(room(audience_batched=True), listeners=500, threshold=200))


def test_an_ended_room_is_never_batched() -> None:
    assert nothing_happened(stage.audience_batching(ended_room(), listeners=500, threshold=200))
