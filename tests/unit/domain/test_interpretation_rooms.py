"""Rules of ``salon.domain.interpretation`` about a room as a whole: its interpretation (languages with their
booths), who may change it, a handover seen from before and after, and the wire shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.interpretation import (
    DEFAULT_DUCKING_DB,
    Booth,
    Interpretation,
    RoomLanguages,
    check_assignable,
    check_channels,
    check_declared_languages,
    check_interpreter,
    check_moderator,
    check_present,
    handed_over,
    interpretation_data,
    languages_data,
    relanguage,
    vacate,
)
from salon.domain.room_view import apply_event, snapshot
from salon.domain.rooms import Participant, Profile, Role, Room, RoomType

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
ROOM = Room("r1", "Talk", "", (), RoomType.OPEN, 100, True, "mod", NOW)
ENDED = Room("r1", "Talk", "", (), RoomType.OPEN, 100, True, "mod", NOW, ended_at=NOW)


def person(user_id: str, role: Role = Role.LISTENER) -> Participant:
    return Participant("r1", Profile(user_id, user_id, user_id), role, NOW)


def refusal(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value


ROOM_LANGS = Interpretation("en", (Booth("ru", ("ivan",), "ivan"), Booth("fr")), -20)


def test_relanguage_keeps_the_booths_of_kept_channels_and_starts_new_ones_empty() -> None:
    after = relanguage(ROOM_LANGS, RoomLanguages("en", ("de", "ru")), -10)
    assert after == Interpretation("en", (Booth("de"), Booth("ru", ("ivan",), "ivan")), -10)
    assert after.channels == ("de", "ru")
    assert relanguage(None, RoomLanguages("ru"), DEFAULT_DUCKING_DB) == Interpretation("ru")
    assert refusal(lambda: relanguage(None, RoomLanguages("en", ("ru",)), 0)).code is ErrorCode.INVALID_INPUT


def test_a_booth_is_found_by_its_language_and_replaced_in_place() -> None:
    assert ROOM_LANGS.booth("fr") == Booth("fr")
    error = refusal(lambda: ROOM_LANGS.booth("de"))
    assert (error.code, error.data) == (ErrorCode.NOT_FOUND, {"language": "de"})
    changed = ROOM_LANGS.with_booth(Booth("fr", ("anne",)))
    assert changed.booths == (Booth("ru", ("ivan",), "ivan"), Booth("fr", ("anne",)))
    assert (changed.interpreting("anne"), changed.interpreting("ivan"), changed.interpreting("bob")) == (
        "fr",
        "ru",
        None,
    )


def test_a_member_interprets_one_channel_at_a_time() -> None:
    assert check_assignable(ROOM_LANGS, "fr", "anne") == Booth("fr", ("anne",))
    assert check_assignable(ROOM_LANGS, "ru", "ivan") == ROOM_LANGS.booth("ru")  # already there: unchanged
    error = refusal(lambda: check_assignable(ROOM_LANGS, "fr", "ivan"))
    assert (error.code, error.data) == (ErrorCode.CONFLICT, {"language": "ru"})


def test_a_handover_is_a_change_between_two_live_interpreters() -> None:
    offered = Booth("ru", ("ivan", "olga"), "ivan", "olga")
    assert handed_over(offered, Booth("ru", ("ivan", "olga"), "olga")) == "ivan"
    assert handed_over(Booth("ru", ("ivan",)), Booth("ru", ("ivan",), "ivan")) is None  # going live
    assert handed_over(offered, Booth("ru", ("ivan", "olga"))) is None  # released
    assert handed_over(offered, offered) is None


def test_only_a_moderator_of_a_live_room_sets_languages_and_interpreters() -> None:
    mod = person("mod", Role.MODERATOR)
    assert check_moderator(ROOM, mod) is mod
    assert refusal(lambda: check_moderator(ROOM, person("spk", Role.SPEAKER))).code is ErrorCode.NOT_ALLOWED
    assert refusal(lambda: check_moderator(ROOM, None)).code is ErrorCode.NOT_IN_ROOM
    assert refusal(lambda: check_moderator(ENDED, mod)).code is ErrorCode.ROOM_ENDED


def test_interpreters_work_from_inside_the_live_room() -> None:
    me = person("ivan")
    assert check_present(ROOM, me) is me
    assert refusal(lambda: check_present(ROOM, None)).message == "You are not in this room."
    assert refusal(lambda: check_present(ROOM, None, you=False)).message == "That person is not in this room."
    assert refusal(lambda: check_present(ENDED, me)).code is ErrorCode.ROOM_ENDED
    check_interpreter(ROOM_LANGS.booth("ru"), "ivan")
    assert refusal(lambda: check_interpreter(ROOM_LANGS.booth("fr"), "ivan")).code is ErrorCode.NOT_ALLOWED


def test_a_channel_request_needs_a_room_with_languages() -> None:
    assert check_channels(ROOM_LANGS) is ROOM_LANGS
    assert refusal(lambda: check_channels(None)).code is ErrorCode.NOT_FOUND


def test_wire_shapes() -> None:
    assert interpretation_data(None) is None
    assert interpretation_data(ROOM_LANGS) == {
        "floor": "en",
        "ducking_db": -20,
        "channels": [
            {"language": "ru", "interpreters": ["ivan"], "live": "ivan", "handover_to": None},
            {"language": "fr", "interpreters": [], "live": None, "handover_to": None},
        ],
    }
    assert languages_data("en", ("ru", "fr")) == {"floor": "en", "channels": ["ru", "fr"]}
    assert languages_data(None, ()) is None


def test_the_room_view_carries_the_interpretation_and_its_event_replaces_it() -> None:
    before = snapshot(ROOM, [], 1)
    assert before["interpretation"] is None
    data = interpretation_data(ROOM_LANGS)
    got = apply_event(before, 2, "interpretation_changed", {"interpretation": data})
    assert got == snapshot(ROOM, [], 2, data)
    assert before["interpretation"] is None  # the input is not changed
    assert apply_event(got, 3, "interpretation_changed", {"interpretation": None}) == snapshot(ROOM, [], 3)


def test_members_who_leave_the_room_leave_their_booths() -> None:
    two = Interpretation("en", (Booth("ru", ("ivan", "olga"), "ivan", "olga"), Booth("fr", ("anne",))))
    assert vacate(two, ["ivan", "bob"]) == Interpretation("en", (Booth("ru", ("olga",)), Booth("fr", ("anne",))))
    assert vacate(two, ["bob"]) == two


def test_declared_languages_need_a_floor_for_their_channels() -> None:
    assert check_declared_languages(None, []) is None
    assert check_declared_languages("EN", ["ru"]) == RoomLanguages("en", ("ru",))
    error = refusal(lambda: check_declared_languages(None, ["ru"]))
    assert (error.code, error.data) == (ErrorCode.INVALID_INPUT, {"field": "floor"})
