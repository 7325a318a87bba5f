"""Web layer: request and response models for interpretation channels (validated at the edge, documented in OpenAPI).

A language is a BCP 47 primary subtag from the domain's closed list (``domain/interpretation.LANGUAGES``), published
in the OpenAPI document as an enumeration (``LanguageTag``, schemas_text.py), in lower case as the domain writes them
(and taken only so). The WebSocket
takes the same tags as plain strings (its data models are strict: no enum coercion), and the use case checks them
against the same list, with the same ``invalid_input`` shape.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from salon.domain.interpretation import DEFAULT_DUCKING_DB, DUCKING_RANGE_DB, MAX_CHANNELS
from salon.web.schemas_text import ID_PATTERN, language_rule

LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}$"
Language = Annotated[str, language_rule("language"), Field(description="A BCP 47 language tag, e.g. `ru`.")]
Channels = Annotated[list[Language], Field(max_length=MAX_CHANNELS)]
DuckingDb = Annotated[
    StrictInt,
    Field(
        ge=DUCKING_RANGE_DB[0],
        le=DUCKING_RANGE_DB[1],
        description="How far the floor is turned down under a live interpreter, in dB.",
    ),
]
# A member, as schemas_rooms.UserId (which imports this module for room creation's languages).
MemberId = Annotated[str, Field(min_length=1, max_length=32, pattern=ID_PATTERN)]
# The WebSocket's stricter spellings of the same (ws_protocol._FIELD_TYPES): no coercion from other JSON types.
WsLanguage = Annotated[str, StringConstraints(strict=True, min_length=2, max_length=3, pattern=LANGUAGE_PATTERN)]
WsChannels = Annotated[list[WsLanguage], Field(strict=True, max_length=MAX_CHANNELS)]


class Strict(BaseModel):
    """A request body: no unknown fields (as schemas_rooms.Strict)."""

    model_config = ConfigDict(extra="forbid")


class LanguagesIn(Strict):
    """A room's languages: the floor's, and up to four interpretation channels in other languages."""

    floor: Language
    channels: Channels = Field(default_factory=list)


class LanguagesSetting(Strict):
    """Set a room's languages live; ``floor`` null drops them (and every channel with its booth)."""

    floor: Language | None
    channels: Channels = Field(default_factory=list)
    ducking_db: DuckingDb = DEFAULT_DUCKING_DB


class DuckingSetting(Strict):
    """Change the room's ducking live, in every channel (the languages stay as they are)."""

    ducking_db: DuckingDb


class InterpreterTarget(Strict):
    language: Language
    user_id: MemberId


class BoothTarget(Strict):
    language: Language


class LanguagesOut(BaseModel):
    """A room's or an event's languages as cards show them (hallway, room header, event page)."""

    floor: str
    channels: list[str]


class BoothOut(BaseModel):
    language: str
    interpreters: list[str]
    live: str | None
    handover_to: str | None


class InterpretationOut(BaseModel):
    """A room's languages with each channel's booth: its interpreters, who is live (holds the booth's floor), and a
    handover offered and not yet taken."""

    floor: str
    ducking_db: int
    channels: list[BoothOut]
