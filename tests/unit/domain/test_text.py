"""The text Salon accepts (``salon.domain.text``): one rule for every field a person types, and safe printing."""

from __future__ import annotations

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.text import check_name, check_text, is_id, is_visible, printable

ACCEPTED = [
    "Jazz at midnight",
    "Café société — ça va ? 🎷",
    "שלום עולם",  # right-to-left text, as typed
    "مرحبا\u200fبالعالم",  # with a right-to-left mark, which real text uses
    "👩\u200d💻 family: 👨\u200d👩\u200d👧",  # zero-width joiners inside emoji
    "می\u200cخواهم",  # zero-width non-joiner, needed in Persian
    "x" * 5000,
    "",
]


@pytest.mark.parametrize("value", ACCEPTED)
@pytest.mark.parametrize("multiline", [False, True])
def test_plain_text_is_accepted_as_it_is(value: str, multiline: bool) -> None:
    assert check_text(value, "title", multiline=multiline) == value


REFUSED = [
    ("\x00", "control character (U+0000)"),
    ("\x07", "control character (U+0007)"),
    ("\x1b", "control character (U+001B)"),
    ("\x7f", "control character (U+007F)"),
    ("\x85", "control character (U+0085)"),
    ("\x9b", "control character (U+009B)"),
    ("\ud800", "lone surrogate (U+D800)"),
    ("\udfff", "lone surrogate (U+DFFF)"),
    ("\u202a", "bidirectional override (U+202A)"),
    ("\u202e", "bidirectional override (U+202E)"),
    ("\u2066", "bidirectional override (U+2066)"),
    ("\u2069", "bidirectional override (U+2069)"),
]


@pytest.mark.parametrize(("char", "said"), REFUSED)
@pytest.mark.parametrize("multiline", [False, True])
def test_controls_surrogates_and_bidi_overrides_are_refused_in_every_field(
    char: str, said: str, multiline: bool
) -> None:
    with pytest.raises(DomainError) as exc:
        check_text(f"ab{char}cd", "description", multiline=multiline)
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": "description"}
    assert exc.value.message.startswith("description contains a ")
    assert said in exc.value.message


@pytest.mark.parametrize("char", ["\n", "\t", "\u2028", "\u2029"])
def test_line_breaks_and_tabs_only_in_a_multiline_field(char: str) -> None:
    assert check_text(f"one{char}two", "bio", multiline=True) == f"one{char}two"
    with pytest.raises(DomainError) as exc:
        check_text(f"one{char}two", "display_name")
    assert exc.value.data == {"field": "display_name"}
    said = f"display_name is a single line: it cannot contain a line break or a tab (U+{ord(char):04X})."
    assert exc.value.message == said


def test_carriage_returns_become_line_feeds_in_a_multiline_field_and_are_refused_elsewhere() -> None:
    assert check_text("a\r\nb\rc\n\rd", "details", multiline=True) == "a\nb\nc\n\nd"
    with pytest.raises(DomainError) as exc:
        check_text("a\r\nb", "contact")
    assert "control character (U+000D)" in exc.value.message


def test_the_first_refused_character_is_named() -> None:
    with pytest.raises(DomainError) as exc:
        check_text("ok\u202eand\x1b", "title")
    assert "U+202E" in exc.value.message


@pytest.mark.parametrize("value", ["Ada", "  Ada  ", "\u200bA", "é", "\u3164x", "٠"])
def test_a_name_shows_at_least_one_visible_character(value: str) -> None:
    assert check_name(value, "display_name") == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "\u200b",
        "\u2060\ufeff\u200b",
        "\u200c\u200d",
        " \u00a0\u3000\u2003",  # spaces of every width
        "\u3164\u115f\u1160\uffa0",  # Hangul fillers
        "\u2800\u2800",  # braille blank
        "\u0301\u0308",  # marks with nothing to sit on
        "\u00ad",  # soft hyphen
        "\U000e0041\U000e0042",  # tag characters
    ],
)
def test_a_name_made_only_of_invisible_characters_is_refused(value: str) -> None:
    with pytest.raises(DomainError) as exc:
        check_name(value, "title")
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": "title"}
    assert exc.value.message == "title needs at least one visible character."


def test_a_name_is_one_line_of_plain_text() -> None:
    with pytest.raises(DomainError) as exc:
        check_name("Ada\nAdmin", "display_name")
    assert "single line" in exc.value.message
    with pytest.raises(DomainError):
        check_name("Ada\x1b[31m", "display_name")


def test_visible_characters() -> None:
    assert all(is_visible(c) for c in "a🎷中٠")
    assert not any(is_visible(c) for c in " \u200b\u2800\u0301")


def test_printable_escapes_what_a_terminal_would_act_on_and_keeps_the_rest() -> None:
    stored = "\x1b]0;owned\x07\x1b[2J\x1b[31mFAKE\tADMIN\nNOTICE\r\x00\x7f\x9b\u202eevil\u2066 Café 🎷 \u2028"
    assert printable(stored) == (
        "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31mFAKE\\tADMIN\\nNOTICE\\x0d\\x00\\x7f\\x9b\\u202eevil\\u2066 Café 🎷 \u2028"
    )
    assert printable("\ud800") == "\\ud800"
    assert printable("plain words") == "plain words"


def test_whatever_printable_gives_is_accepted_as_one_line() -> None:
    for char in map(chr, range(0x0, 0x3000)):
        if char not in "\u2028\u2029":
            check_text(printable(char), "title")


@pytest.mark.parametrize("value", ["abc", "qq2hdyxe7cvmw3j4vdyqczkn", "A-b_9"])
def test_an_id_is_letters_digits_dashes_and_underscores(value: str) -> None:
    assert is_id(value)


@pytest.mark.parametrize("value", ["", "a b", "a\x00b", "ab\n", "é", "a/b", "a%00"])
def test_anything_else_is_not_an_id(value: str) -> None:
    assert not is_id(value)
