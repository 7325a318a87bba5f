"""App layer: telling a member that someone followed them (``followed_you``; ``domain/new_followers.py`` decides
when, and bounds it). Called inside the transaction that wrote the follow — a follow from the API, or the
inviter's auto-follow at sign-up — through ``notifications.notify``, so it commits or rolls back with the follow;
the caller pushes the result with ``notifications.publish`` after the commit.

The hourly bound is exact because every follow of the same member first locks both members' rows
(``repo_social.lock_pair``), so two follows of one member never read the count at the same time.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.notifications import notify
from salon.app.services import Services
from salon.domain import new_followers as rules
from salon.domain.api_paths import avatar_url
from salon.domain.notifications import NotificationRecord
from salon.domain.rooms import Profile, profile_data
from salon.store import repo_accounts, repo_new_followers


async def tell_followed(
    services: Services, conn: AsyncConnection, follower_id: str, followee_id: str, *, new_follow: bool
) -> list[NotificationRecord]:
    if not new_follow:  # following twice tells nothing, and costs no read
        return []
    facts = rules.FollowFacts(
        new_follow=new_follow,
        told_before=await repo_new_followers.told_before(conn, followee_id, follower_id),
        told_last_hour=await repo_new_followers.told_since(conn, followee_id, services.clock.now(), rules.WINDOW),
    )
    if not rules.should_tell(facts):
        return []
    follower = await repo_accounts.get_summary(conn, follower_id)
    assert follower is not None  # the caller just wrote their follow
    card = Profile(follower.id, follower.username, follower.display_name, avatar_url(follower.avatar))
    return await notify(services, conn, [followee_id], rules.FOLLOWED_YOU, {"user": profile_data(card)})
