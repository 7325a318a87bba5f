"""Rules of ``salon.domain.social``: who may follow or block whom, and who may read a member's lists."""

from __future__ import annotations

import pytest

from salon.domain.errors import DomainError, ErrorCode
from salon.domain.social import check_block, check_follow, check_lists_visible


def code_of_follow(follower: str, followee: str, *, them: bool = False, me: bool = False) -> ErrorCode:
    with pytest.raises(DomainError) as exc:
        check_follow(follower, followee, blocked_by_them=them, blocked_by_me=me)
    return exc.value.code


# --- following -------------------------------------------------------------------------------------------------


def test_a_member_may_follow_someone_else_when_neither_blocked_the_other() -> None:
    check_follow("ada", "bob", blocked_by_them=False, blocked_by_me=False)


def test_nobody_follows_themself() -> None:
    assert code_of_follow("ada", "ada") is ErrorCode.SELF_TARGET


def test_nobody_follows_someone_who_blocked_them() -> None:
    assert code_of_follow("ada", "bob", them=True) is ErrorCode.BLOCKED
    assert code_of_follow("ada", "bob", them=True, me=True) is ErrorCode.BLOCKED


def test_following_someone_you_blocked_asks_you_to_unblock_first() -> None:
    assert code_of_follow("ada", "bob", me=True) is ErrorCode.UNBLOCK_FIRST


# --- blocking --------------------------------------------------------------------------------------------------


def test_anyone_else_may_be_blocked_but_not_yourself() -> None:
    check_block("ada", "bob")
    with pytest.raises(DomainError) as exc:
        check_block("ada", "ada")
    assert exc.value.code is ErrorCode.SELF_TARGET


def test_a_member_who_blocked_you_does_not_show_you_their_lists() -> None:
    check_lists_visible(blocked_by_owner=False)
    with pytest.raises(DomainError) as exc:
        check_lists_visible(blocked_by_owner=True)
    assert exc.value.code is ErrorCode.BLOCKED
