"""Domain layer: topics of interest — a fixed list a member picks a few from (at most :data:`MAX_PICKS`).

A fixed list rather than free text: people who like the same thing pick the same word (free tags split "jazz",
"Jazz" and "jazz music"), it can be shown in every language (the web app holds an English and a French label for
each slug), and there is nothing to moderate. Rooms keep their own free-form topics; these are about people.
"""

from __future__ import annotations

from collections.abc import Sequence

from salon.domain.errors import ErrorCode, refuse

TOPICS = (
    "music",
    "jazz",
    "books",
    "writing",
    "tech",
    "startups",
    "design",
    "science",
    "health",
    "sports",
    "food",
    "travel",
    "film",
    "art",
    "languages",
    "politics",
)
MAX_PICKS = 5
SLUG_MAX = max(len(t) for t in TOPICS)


def check_topics(picked: Sequence[str]) -> list[str]:
    """The topics a member keeps, in the order picked, each once; ``invalid_input`` (field ``topics``) for a topic
    not in the list or more than :data:`MAX_PICKS` of them."""
    kept = list(dict.fromkeys(picked))
    unknown = [t for t in kept if t not in TOPICS]
    if unknown:
        raise refuse(ErrorCode.INVALID_INPUT, f"Unknown topic: {unknown[0]!r}.", field="topics")
    if len(kept) > MAX_PICKS:
        raise refuse(ErrorCode.INVALID_INPUT, f"Pick at most {MAX_PICKS} topics.", field="topics")
    return kept
