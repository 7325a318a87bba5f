"""Domain layer: whom a member is offered to follow while getting started (``/start``), in what order.

The inviter first (a new member already follows them: sign-up follows the inviter, as Clubhouse did), then the
people the inviter follows (the circle one was invited into), then members active lately (they opened rooms).
Each member once, never the viewer, nobody with a block either way. Loading the lists is the app's; the order
and the exclusions are decided here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from salon.domain.accounts import UserSummary

Reason = Literal["inviter", "followed_by_inviter", "active"]
SUGGESTIONS_MAX = 20


@dataclass(frozen=True)
class Suggestion:
    user: UserSummary
    reason: Reason


def suggestions(
    viewer_id: str,
    *,
    inviter: UserSummary | None,
    inviter_follows: Iterable[UserSummary],
    active: Iterable[UserSummary],
    blocked_either_way: Collection[str] = (),
    limit: int = SUGGESTIONS_MAX,
) -> list[Suggestion]:
    out: list[Suggestion] = []
    seen = {viewer_id, *blocked_either_way}
    ordered: list[tuple[UserSummary, Reason]] = [(inviter, "inviter")] if inviter is not None else []
    ordered += [(u, "followed_by_inviter") for u in inviter_follows]
    ordered += [(u, "active") for u in active]
    for user, reason in ordered:
        if len(out) >= limit:
            break
        if user.id in seen:
            continue
        seen.add(user.id)
        out.append(Suggestion(user, reason))
    return out
