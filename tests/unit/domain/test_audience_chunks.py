"""``salon.domain.audience_chunks``: the policy's text and its errors, and the hysteresis of the chunk's length."""

from __future__ import annotations

import re

import pytest

from salon.domain.audience_chunks import DEFAULT_POLICY, ChunkPolicy, Step, next_level, parse_policy

POLICY = parse_policy(DEFAULT_POLICY)


def test_the_default_policy_reads() -> None:
    assert (
        ChunkPolicy(
            (Step(1000, 20), Step(2500, 40), Step(5000, 60), Step(10000, 100), Step(None, 120)),
        )
        == POLICY
    )
    assert parse_policy(" inf:40 ") == ChunkPolicy((Step(None, 40),))


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "step 1 ('')"),
        ("1000", "write each step as LISTENERS:MS"),
        ("many:20,inf:40", "must be a whole number or 'inf', not 'many'"),
        ("-5:20,inf:40", "must be a whole number or 'inf'"),
        ("1000:20ms,inf:40", "whole number of milliseconds, not '20ms'"),
        ("1000:30,inf:40", "multiple of 20 ms from 20 to 1000"),
        ("1000:0,inf:40", "multiple of 20 ms"),
        ("1000:20,inf:2000", "multiple of 20 ms"),
        ("inf:20,inf:40", "nothing may follow the 'inf' step"),
        ("1000:20,1000:40,inf:60", "listener counts must increase"),
        ("1000:40,2000:20,inf:60", "the chunk may not shrink"),
        ("0:20,inf:40", "a step holds at least one listener"),
        ("1000:20,2000:40", "the last step must be 'inf:MS'"),
        ("1000:20,,inf:40", "step 2"),
    ],
)
def test_a_bad_policy_says_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_policy(text)


def ms(level: int) -> int:
    return POLICY.chunk_ms(level)


def test_the_chunk_grows_at_once_past_each_step() -> None:
    assert ms(next_level(POLICY, 0, 1000)) == 20
    assert ms(next_level(POLICY, 0, 1001)) == 40
    assert ms(next_level(POLICY, 0, 7000)) == 100  # several steps in one move
    assert ms(next_level(POLICY, 0, 1_000_000)) == 120


def test_the_chunk_shrinks_only_ten_percent_below_the_lower_step() -> None:
    level = next_level(POLICY, 0, 1001)
    assert ms(next_level(POLICY, level, 1000)) == 40  # at the step: stays
    assert ms(next_level(POLICY, level, 901)) == 40
    assert ms(next_level(POLICY, level, 900)) == 20  # 10 % below 1,000
    top = next_level(POLICY, 0, 20_000)
    assert ms(next_level(POLICY, top, 9001)) == 120
    assert ms(next_level(POLICY, top, 9000)) == 100
    assert ms(next_level(POLICY, top, 0)) == 20  # everyone left: all the way down


def test_a_count_hovering_at_a_boundary_does_not_flip_the_chunk() -> None:
    level = 0
    seen = []
    for count in [999, 1000, 1001, 1000, 1001, 999, 950, 1001, 920]:
        level = next_level(POLICY, level, count)
        seen.append(ms(level))
    assert seen == [20, 20, 40, 40, 40, 40, 40, 40, 40]
