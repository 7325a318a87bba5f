"""App layer: getting started — whom a new member is offered to follow (``domain/onboarding.py`` orders them:
the inviter, the people the inviter follows, members active lately), each with whether the member follows them
already. The rest of the getting-started screen uses existing routes (avatar, topics, follow)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.errors import ErrorCode, refuse
from salon.domain.onboarding import SUGGESTIONS_MAX, Suggestion, suggestions
from salon.store import repo_accounts, repo_onboarding, repo_social

ACTIVE_SINCE = timedelta(days=30)  # "active lately": opened a room in the last 30 days


@dataclass(frozen=True)
class Suggested:
    suggestion: Suggestion
    followed_by_you: bool


async def people_to_follow(services: Services, actor: Actor) -> list[Suggested]:
    async with services.db.read() as conn:
        me = await repo_accounts.get_user(conn, actor.user_id)
        if me is None:
            raise refuse(ErrorCode.NOT_AUTHENTICATED, "Log in first.")
        inviter = None
        inviter_follows = []
        if me.invited_by is not None:
            record = await repo_accounts.get_user(conn, me.invited_by)
            if record is not None and record.disabled_at is None:
                inviter = await repo_accounts.get_summary(conn, record.id)
                inviter_follows = await repo_onboarding.followed_by(conn, record.id, SUGGESTIONS_MAX)
        since = services.clock.now() - ACTIVE_SINCE
        active = await repo_onboarding.active_members(conn, since, SUGGESTIONS_MAX)
        blocked = await repo_onboarding.blocked_either_way(conn, actor.user_id)
        picked = suggestions(
            actor.user_id, inviter=inviter, inviter_follows=inviter_follows, active=active, blocked_either_way=blocked
        )
        return [Suggested(s, await repo_social.is_following(conn, actor.user_id, s.user.id)) for s in picked]
