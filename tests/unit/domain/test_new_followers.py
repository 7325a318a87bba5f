"""domain/new_followers.py: "followed you" only for a new follow, once per pair ever, PER_HOUR an hour."""

from __future__ import annotations

from salon.domain.new_followers import PER_HOUR, FollowFacts, should_tell


def test_a_first_new_follow_under_the_hourly_bound_tells() -> None:
    assert should_tell(FollowFacts(new_follow=True, told_before=False, told_last_hour=PER_HOUR - 1))


def test_following_twice_a_pair_told_before_or_a_full_hour_tells_nothing() -> None:
    assert not should_tell(FollowFacts(new_follow=False, told_before=False, told_last_hour=0))
    assert not should_tell(FollowFacts(new_follow=True, told_before=True, told_last_hour=0))
    assert not should_tell(FollowFacts(new_follow=True, told_before=False, told_last_hour=PER_HOUR))
    assert should_tell(FollowFacts(new_follow=True, told_before=False, told_last_hour=2), per_hour=3)
    assert not should_tell(FollowFacts(new_follow=True, told_before=False, told_last_hour=3), per_hour=3)
