"""Web layer: the text a request may carry, checked where the request is parsed (bodies and query parameters).

Each text field's type is ``Annotated[str, Field(<its bounds>), <its rule>]``: the bounds show in the OpenAPI
document, the rule is ``domain/text.py``'s (the same the domain's ``check_*`` functions apply again). A refusal is a
validation error of type :data:`TEXT_ERROR` whose message names the field (its context holds ``field``); the error
handler (web/errors.py) makes it the answer's message and ``data.field``, in the one error shape
(``422 invalid_input``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from pydantic import AfterValidator, PlainValidator
from pydantic_core import PydanticCustomError

from salon.domain.errors import DomainError, ErrorCode, refuse
from salon.domain.interpretation import LANGUAGES, check_language
from salon.domain.scheduled_events import check_timezone, timezone_names
from salon.domain.text import ID_PATTERN, check_name, check_text

__all__ = [
    "ID_PATTERN",
    "TEXT_ERROR",
    "LanguageTag",
    "TimeZoneName",
    "language_rule",
    "line_rule",
    "lines_rule",
    "name_rule",
    "optional_line_rule",
    "zone_rule",
]

TEXT_ERROR = "invalid_text"

# The zones Salon knows, as an enum only so that the OpenAPI document lists them once (a component named
# TimeZoneName); values stay plain strings, checked by domain.scheduled_events.check_timezone. Made at run time
# from the tz database, which a type checker cannot read.
TimeZoneName = StrEnum("TimeZoneName", {zone: zone for zone in timezone_names()})  # type: ignore[misc]


def _checked(check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except DomainError as exc:
        # The message goes in the error's context: a template would read braces in it as placeholders.
        raise PydanticCustomError(TEXT_ERROR, "{reason}", {"reason": exc.message, **exc.data}) from None


def _rule(check: Callable[[str], str]) -> AfterValidator:
    return AfterValidator(lambda value: _checked(check, value))


def line_rule(field: str) -> AfterValidator:
    """A single-line text field (a contact, a search)."""
    return _rule(lambda value: check_text(value, field))


def optional_line_rule(field: str) -> AfterValidator:
    """:func:`line_rule` for a field that may be absent (None passes)."""
    return AfterValidator(lambda value: None if value is None else _checked(lambda v: check_text(v, field), value))


def lines_rule(field: str) -> AfterValidator:
    """A multi-line text field (a description, a bio, a report's details)."""
    return _rule(lambda value: check_text(value, field, multiline=True))


def name_rule(field: str) -> AfterValidator:
    """A name: one line with at least one visible character (a display name, a title, a topic)."""
    return _rule(lambda value: check_name(value, field))


# The languages a room may declare (domain/interpretation.LANGUAGES), listed once in the document like the zones.
LanguageTag = StrEnum("LanguageTag", {tag: tag for tag in sorted(LANGUAGES)})  # type: ignore[misc]


def _exact_language(tag: str, field: str) -> str:
    if check_language(tag) != tag:  # "RU" is Russian, but the document lists "ru": what it says is what it takes
        raise refuse(ErrorCode.INVALID_INPUT, f"Write the language as listed: {tag.strip().lower()!r}.", field=field)
    return tag


def language_rule(field: str) -> PlainValidator:
    """A language tag of the domain's list, written as listed (the document's ``LanguageTag`` enum)."""

    def validate(value: object) -> str:
        return _checked(lambda tag: _exact_language(tag, field), value if isinstance(value, str) else "")

    return PlainValidator(validate, json_schema_input_type=LanguageTag)


def zone_rule(field: str) -> PlainValidator:
    """An IANA time zone name Salon knows (listed in the document as the ``TimeZoneName`` enum)."""

    def validate(value: object) -> str:
        return _checked(lambda zone: check_timezone(zone, field).key, value if isinstance(value, str) else "")

    return PlainValidator(validate, json_schema_input_type=TimeZoneName)
