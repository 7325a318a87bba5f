"""Domain layer: the text Salon accepts — one rule for every field a person types, and how to show stored text safely.

Text is printable Unicode. Refused everywhere: C0 and C1 control characters and DEL (NUL among them: PostgreSQL
cannot store it, and ESC or BEL would reach an admin's terminal), lone surrogates (not Unicode; no database can
encode them), and the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make
text read differently from what it is. A multi-line field (a description, a bio, a report's details) also keeps line
breaks (LF, U+2028, U+2029) and tabs; its CR LF and lone CR line ends become LF. A name (a display name, a title, a
topic) must also show at least one visible character: one made only of spaces or invisible characters (U+200B,
U+2060, U+FEFF, Hangul fillers…) is refused. The edge applies these rules to every text input (web/schemas_text.py)
and the domain's ``check_*``/``clean_*`` functions apply them again, so no path stores text the edge would refuse.

Stored text written before these rules may still hold such characters: :func:`printable` escapes them for a
terminal (the ``salon`` command prints everything through it).
"""

from __future__ import annotations

import re
import unicodedata

from salon.domain.errors import ErrorCode, refuse

# Every id Salon hands out (lower-case base32) fits; a string that does not names nothing, so it is refused before
# any lookup (NUL in an id was a 500 on PostgreSQL).
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
_ID_RE = re.compile(ID_PATTERN)

_BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
_LINE_BREAKS = frozenset("\n\t\u2028\u2029")  # line feed, tab, line and paragraph separators
_ESCAPES = {"\n": "\\n", "\t": "\\t"}
# Letters that are drawn as nothing (Hangul fillers, the braille blank), beside what Unicode classes as format
# characters, marks or separators.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp"})


def _refusal(char: str, *, multiline: bool) -> str | None:
    """Why one character is refused (a message with ``{field}`` and ``{code}`` to fill in), or None."""
    code = ord(char)
    if char in _LINE_BREAKS:
        return None if multiline else "{field} is a single line: it cannot contain a line break or a tab ({code})."
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return "{field} contains a control character ({code}); only plain text is accepted."
    if 0xD800 <= code <= 0xDFFF:
        return "{field} contains a lone surrogate ({code}), which is not Unicode text."
    if char in _BIDI_CONTROLS:
        return "{field} contains a bidirectional override ({code}), which makes text read differently."
    return None


def check_text(value: str, field: str, *, multiline: bool = False) -> str:
    """``value`` if Salon accepts it in ``field`` (line ends normalised to LF in a multi-line field), else
    ``invalid_input`` naming the field and the character."""
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    for char in value:
        why = _refusal(char, multiline=multiline)
        if why is not None:
            message = why.format(field=field, code=f"U+{ord(char):04X}")
            raise refuse(ErrorCode.INVALID_INPUT, message, field=field)
    return value


def is_visible(char: str) -> bool:
    """Whether a character draws something: not a space, a format character, a mark alone or a blank letter."""
    return unicodedata.category(char) not in _INVISIBLE_CATEGORIES and char not in _BLANK_LETTERS


def check_name(value: str, field: str) -> str:
    """A one-line text with at least one visible character (a display name, a title, a topic)."""
    value = check_text(value, field)
    if not any(is_visible(c) for c in value):
        raise refuse(ErrorCode.INVALID_INPUT, f"{field} needs at least one visible character.", field=field)
    return value


def is_id(value: str) -> bool:
    """Whether ``value`` has the shape of an id (:data:`ID_PATTERN`)."""
    return _ID_RE.fullmatch(value) is not None


def printable(value: str) -> str:
    """``value`` with every character :func:`check_text` refuses in a multi-line field, and line feeds and tabs,
    written as an escape (``\\x1b``, ``\\n``, ``\\u202e``): safe to print on a terminal, whatever was stored."""
    out: list[str] = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _refusal(char, multiline=True) is None:
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)
