"""Domain layer: the follow graph and blocking — who may follow or block whom.

Pure rules; the app layer loads who blocked whom and passes it in. Lists of people (followers, following, my
blocks) are paged newest first with ``paging.py``'s cursor, naming the last entry seen as (since, user id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from salon.domain.accounts import UserSummary
from salon.domain.errors import ErrorCode, refuse

KNOWN_FOLLOWERS_SHOWN = 3  # "followed by A, B, C and 12 others you follow"


def check_follow(follower_id: str, followee_id: str, *, blocked_by_them: bool, blocked_by_me: bool) -> None:
    """Following needs someone else, and no block either way."""
    if follower_id == followee_id:
        raise refuse(ErrorCode.SELF_TARGET, "You cannot follow yourself.")
    if blocked_by_them:
        raise refuse(ErrorCode.BLOCKED, "This member blocked you.")
    if blocked_by_me:
        raise refuse(ErrorCode.UNBLOCK_FIRST, "You blocked this member; unblock them first.")


def check_block(blocker_id: str, blocked_id: str) -> None:
    if blocker_id == blocked_id:
        raise refuse(ErrorCode.SELF_TARGET, "You cannot block yourself.")


def check_lists_visible(*, blocked_by_owner: bool) -> None:
    """A member who blocked you does not show you whom they follow or who follows them."""
    if blocked_by_owner:
        raise refuse(ErrorCode.BLOCKED, "This member blocked you.")


@dataclass(frozen=True)
class Entry:
    """One member in a list, with when the relation began; ``followed_by_viewer`` for follow lists."""

    user: UserSummary
    since: datetime
    followed_by_viewer: bool = False
