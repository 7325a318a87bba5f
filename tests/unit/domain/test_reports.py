"""Reports (``salon.domain.reports``) and the keyset cursor their lists and the moderation log page with
(``salon.domain.paging``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.paging import PAGE_MAX, Cursor, check_page_size, decode_cursor, encode_cursor
from salon.domain.reports import DETAILS_MAX, ReportReason, ReportSpec, check_report


def refusal(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value


# --- reports ----------------------------------------------------------------------------------------------------


def test_a_member_reports_another_member_with_a_reason_and_trimmed_details() -> None:
    spec = check_report("ada", user_id="bob", room_id=None, reason="harassment", details="  he shouts \n ")
    assert spec == ReportSpec("bob", None, ReportReason.HARASSMENT, "he shouts")


def test_a_member_reports_a_room() -> None:
    spec = check_report("ada", user_id=None, room_id="r1", reason="spam", details="")
    assert spec == ReportSpec(None, "r1", ReportReason.SPAM, "")


@pytest.mark.parametrize(("user_id", "room_id"), [(None, None), ("bob", "r1")])
def test_a_report_names_exactly_one_target(user_id: str | None, room_id: str | None) -> None:
    err = refusal(lambda: check_report("ada", user_id=user_id, room_id=room_id, reason="spam", details=""))
    assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "user_id"})


def test_nobody_reports_themself() -> None:
    err = refusal(lambda: check_report("ada", user_id="ada", room_id=None, reason="spam", details=""))
    assert err.code is ErrorCode.SELF_TARGET


def test_the_reason_comes_from_a_fixed_list() -> None:
    err = refusal(lambda: check_report("ada", user_id="bob", room_id=None, reason="boring", details=""))
    assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "reason"})
    assert [r.value for r in ReportReason] == [
        "spam",
        "harassment",
        "hate",
        "sexual_content",
        "violence",
        "impersonation",
        "other",
    ]


def test_details_are_at_most_1000_characters_of_plain_text() -> None:
    ok = check_report("ada", user_id="bob", room_id=None, reason="other", details="x" * DETAILS_MAX + "   ")
    assert len(ok.details) == DETAILS_MAX
    assert check_report("ada", user_id="bob", room_id=None, reason="other", details="a\tb\r\nc").details == "a\tb\nc"


@pytest.mark.parametrize("details", ["x" * (DETAILS_MAX + 1), "nul\x00byte", "bell\x07", "esc\x1b[2J", "bidi\u202e"])
def test_longer_details_or_control_characters_are_refused(details: str) -> None:
    err = refusal(lambda: check_report("ada", user_id="bob", room_id=None, reason="other", details=details))
    assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "details"})


# --- paging -----------------------------------------------------------------------------------------------------


def test_a_cursor_round_trips() -> None:
    c = Cursor(datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC), "abc123")
    text = encode_cursor(c)
    assert "=" not in text
    assert decode_cursor(text) == c


@pytest.mark.parametrize(
    "text",
    [
        "x" * 300,
        "not base64 !!",
        "bm90aGluZw",  # "nothing": no separator
        encode_cursor(Cursor(datetime(2024, 5, 1), "abc")),  # naive time: not ours
        encode_cursor(Cursor(datetime(2024, 5, 1, tzinfo=UTC), "")),
        encode_cursor(Cursor(datetime(2024, 5, 1, tzinfo=UTC), "x" * 65)),
        encode_cursor(
            Cursor(datetime(2024, 5, 1, tzinfo=UTC), "a\x00b")
        ),  # not an id: PostgreSQL cannot even compare it
        "_w",  # not UTF-8
    ],
)
def test_a_cursor_we_did_not_hand_out_is_invalid_input(text: str) -> None:
    err = refusal(lambda: decode_cursor(text))
    assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "cursor"})


def test_a_page_holds_1_to_100_entries() -> None:
    assert check_page_size(1) == 1
    assert check_page_size(PAGE_MAX) == PAGE_MAX
    assert refusal(lambda: check_page_size(0)).code is ErrorCode.INVALID_INPUT
    assert refusal(lambda: check_page_size(PAGE_MAX + 1)).code is ErrorCode.INVALID_INPUT
