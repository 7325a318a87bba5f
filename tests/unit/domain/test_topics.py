"""domain/topics.py: the fixed list, at most five picks, duplicates counted once."""

from __future__ import annotations

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.topics import MAX_PICKS, SLUG_MAX, TOPICS, check_topics


def test_the_list_is_about_sixteen_distinct_short_slugs() -> None:
    assert 12 <= len(TOPICS) <= 20
    assert len(set(TOPICS)) == len(TOPICS)
    assert all(t.isascii() and t.islower() and len(t) <= SLUG_MAX <= 20 for t in TOPICS)


def test_picks_keep_their_order_once_each() -> None:
    assert check_topics(["tech", "jazz", "tech"]) == ["tech", "jazz"]
    assert check_topics([]) == []
    assert check_topics(list(TOPICS[:MAX_PICKS])) == list(TOPICS[:MAX_PICKS])


@pytest.mark.parametrize("picked", [["jazz", "Jazz"], ["knitting"], list(TOPICS[: MAX_PICKS + 1])])
def test_unknown_topics_or_too_many_are_invalid_input(picked: list[str]) -> None:
    with pytest.raises(DomainError) as exc:
        check_topics(picked)
    assert exc.value.code is ErrorCode.INVALID_INPUT
    assert exc.value.data == {"field": "topics"}
