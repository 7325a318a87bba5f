"""Domain layer: "someone followed you" (``followed_you``) — when the followed member is told, bounded.

Told when a follow is new (following twice tells nothing), but at most once per (follower, followed) pair ever —
unfollowing and following again does not tell again — and at most :data:`PER_HOUR` of these notices per member per
hour (a popular member, or a burst of new members auto-following their inviter, is not flooded). The facts are
read from the notifications already stored (``store/repo_new_followers.py``), like the follow notices' bounds
(``notices.py``), so they survive restarts. The notice carries the follower's card so the list can offer
"Follow back".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

FOLLOWED_YOU = "followed_you"
PER_HOUR = 20  # followed_you notices per member per hour
WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class FollowFacts:
    """What the rule needs about one follow."""

    new_follow: bool  # the follow row was added now (not there already)
    told_before: bool  # the followed member already had a followed_you about this follower, ever
    told_last_hour: int  # followed_you notices the followed member had in the last hour (any follower)


def should_tell(facts: FollowFacts, *, per_hour: int = PER_HOUR) -> bool:
    return facts.new_follow and not facts.told_before and facts.told_last_hour < per_hour
