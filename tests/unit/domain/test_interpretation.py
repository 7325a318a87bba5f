"""Rules of ``salon.domain.interpretation``: a room's languages, its booths (assign, go live, hand over, remove) and
the floor's level in a channel."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.interpretation import (
    BOOTH_SIZE,
    DEFAULT_DUCKING_DB,
    DUCKING_RANGE_DB,
    FULL_VOLUME,
    LANGUAGES,
    MAX_CHANNELS,
    Booth,
    Interpretation,
    RoomLanguages,
    assign,
    check_ducking,
    check_language,
    check_room_languages,
    offer_handover,
    release_floor,
    take_floor,
    unassign,
    volume_percent,
)


def refusal(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value


# --- languages ---------------------------------------------------------------------------------------------------


def test_a_known_tag_is_accepted_in_any_case_and_given_back_canonical() -> None:
    assert check_language("ru") == "ru"
    assert check_language(" FR ") == "fr"


def test_an_unknown_tag_is_refused_with_the_list_of_known_ones() -> None:
    error = refusal(lambda: check_language("klingon"))
    assert error.code is ErrorCode.INVALID_INPUT
    assert error.data["known"] == sorted(LANGUAGES)
    assert refusal(lambda: check_language("en-GB")).code is ErrorCode.INVALID_INPUT  # primary subtags only


def test_every_language_is_a_lowercase_primary_subtag_with_a_name() -> None:
    for tag, name in LANGUAGES.items():
        assert tag.isascii(), tag
        assert tag.isalpha(), tag
        assert tag.islower(), tag
        assert 2 <= len(tag) <= 3, tag
        assert name.strip(), tag


def test_a_room_declares_its_floor_and_channels_in_order() -> None:
    assert check_room_languages("EN", ["ru", "Fr"]) == RoomLanguages("en", ("ru", "fr"))
    assert check_room_languages("en", []) == RoomLanguages("en", ())


def test_no_channel_in_the_floor_language_none_twice_and_not_too_many() -> None:
    assert refusal(lambda: check_room_languages("en", ["EN"])).data == {"field": "channels"}
    assert refusal(lambda: check_room_languages("en", ["ru", "RU"])).data == {"field": "channels"}
    too_many = [t for t in LANGUAGES if t != "en"][: MAX_CHANNELS + 1]
    error = refusal(lambda: check_room_languages("en", too_many))
    assert (error.code, error.data["max"]) == (ErrorCode.INVALID_INPUT, MAX_CHANNELS)
    assert check_room_languages("en", too_many[:MAX_CHANNELS]).channels == tuple(too_many[:MAX_CHANNELS])
    assert refusal(lambda: check_room_languages("xx", [])).code is ErrorCode.INVALID_INPUT


# --- ducking -----------------------------------------------------------------------------------------------------


def test_ducking_stays_within_its_range() -> None:
    low, high = DUCKING_RANGE_DB
    assert check_ducking(DEFAULT_DUCKING_DB) == DEFAULT_DUCKING_DB
    assert (check_ducking(low), check_ducking(high)) == (low, high)
    for db in (low - 1, high + 1, 0):
        assert refusal(lambda db=db: check_ducking(db)).data == {"field": "ducking_db"}  # type: ignore[misc]


def test_the_ducking_changes_live_and_keeps_the_booths() -> None:
    room = Interpretation("en", (Booth("ru", ("ivan",), "ivan"),), -15)
    assert room.with_ducking(-30) == Interpretation("en", room.booths, -30)
    assert refusal(lambda: room.with_ducking(-41)).code is ErrorCode.INVALID_INPUT


def test_a_gain_in_db_becomes_the_mixers_percentage_and_never_silence() -> None:
    assert volume_percent(0) == FULL_VOLUME
    assert volume_percent(-15) == 18  # 10 ** (-15 / 20) = 0.178
    assert volume_percent(-6) == 50
    assert volume_percent(-80) == 1


# --- booths ------------------------------------------------------------------------------------------------------

RU = Booth("ru")


def test_the_floor_is_full_with_nobody_live_and_ducked_under_a_live_interpreter() -> None:
    booth = assign(RU, "ada")
    assert booth.floor_volume(-15) == FULL_VOLUME
    assert take_floor(booth, "ada").floor_volume(-15) == 18


def test_a_booth_holds_two_interpreters_and_assigning_again_changes_nothing() -> None:
    booth = assign(assign(RU, "ada"), "bob")
    assert booth.interpreters == ("ada", "bob")
    assert booth.live is None
    assert assign(booth, "ada") is booth
    error = refusal(lambda: assign(booth, "cy"))
    assert (error.code, error.data) == (ErrorCode.CONFLICT, {"max": BOOTH_SIZE})


def test_an_interpreter_takes_the_floor_when_nobody_has_it() -> None:
    booth = take_floor(assign(assign(RU, "ada"), "bob"), "ada")
    assert booth.live == "ada"
    assert booth.is_live("ada")
    assert not booth.is_live("bob")
    assert take_floor(booth, "ada") is booth
    error = refusal(lambda: take_floor(booth, "bob"))  # no handover offered: never two live
    assert (error.code, error.data) == (ErrorCode.CONFLICT, {"live": "ada"})


def test_only_the_booths_interpreters_act_in_it() -> None:
    booth = assign(RU, "ada")
    for act in (take_floor, offer_handover, release_floor, unassign):
        assert refusal(lambda act=act: act(booth, "eve")).code is ErrorCode.NOT_ALLOWED  # type: ignore[misc]


def test_a_handover_is_offered_by_the_live_one_and_taken_by_the_partner_in_one_step() -> None:
    booth = take_floor(assign(assign(RU, "ada"), "bob"), "ada")
    offered = offer_handover(booth, "ada")
    assert (offered.live, offered.handover_to) == ("ada", "bob")  # ada stays live until bob takes it
    taken = take_floor(offered, "bob")
    assert (taken.live, taken.handover_to) == ("bob", None)
    assert refusal(lambda: offer_handover(offered, "bob")).code is ErrorCode.CONFLICT  # bob is not live


def test_there_is_nobody_to_hand_over_to_alone_in_the_booth() -> None:
    alone = take_floor(assign(RU, "ada"), "ada")
    assert refusal(lambda: offer_handover(alone, "ada")).code is ErrorCode.CONFLICT


def test_releasing_the_floor_leaves_nobody_live_and_only_the_live_one_can() -> None:
    booth = offer_handover(take_floor(assign(assign(RU, "ada"), "bob"), "ada"), "ada")
    released = release_floor(booth, "ada")
    assert (released.live, released.handover_to) == (None, None)
    assert release_floor(booth, "bob") is booth


def test_removing_the_live_interpreter_leaves_nobody_live_and_voids_the_handover() -> None:
    offered = offer_handover(take_floor(assign(assign(RU, "ada"), "bob"), "ada"), "ada")
    without_ada = unassign(offered, "ada")
    assert without_ada == Booth("ru", ("bob",), None, None)
    without_bob = unassign(offered, "bob")
    assert without_bob == Booth("ru", ("ada",), "ada", None)


def test_removing_a_partner_keeps_the_live_one_and_a_booth_can_empty() -> None:
    live = take_floor(assign(assign(RU, "ada"), "bob"), "ada")
    assert unassign(live, "bob") == Booth("ru", ("ada",), "ada", None)
    assert unassign(assign(RU, "ada"), "ada") == RU
