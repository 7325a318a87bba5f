"""Web layer: request and response models of getting started — topics of interest and people to follow.

A topic is one of the fixed list's slugs (``domain/topics.TOPICS``), so the OpenAPI document lists exactly what is
accepted; anything else, or more than ``MAX_PICKS``, is ``422 invalid_input`` before the use case runs (which
checks the same rule again for callers that do not come through here).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from salon.app.onboarding import Suggested
from salon.domain.topics import MAX_PICKS, TOPICS
from salon.web.schemas_accounts import UserSummaryOut

Topic = StrEnum("Topic", {t: t for t in TOPICS})  # type: ignore[misc]


class TopicsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: Annotated[list[Topic], Field(max_length=MAX_PICKS)]


class TopicsOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    topics: list[str] = Field(description="Your topics of interest, in the order you picked them.")
    choices: list[str] = Field(description="Every topic one may pick.")
    max_picks: int


class SuggestionOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: UserSummaryOut
    reason: Literal["inviter", "followed_by_inviter", "active"]
    followed_by_you: bool

    @classmethod
    def of(cls, s: Suggested) -> SuggestionOut:
        return cls(
            user=UserSummaryOut.of(s.suggestion.user), reason=s.suggestion.reason, followed_by_you=s.followed_by_you
        )


class SuggestionsOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    people: list[SuggestionOut]
