"""domain/onboarding.py: the inviter first, then whom they follow, then active members; once each, never the viewer
or anyone with a block, at most ``limit``."""

from __future__ import annotations

from salon.domain.accounts import UserSummary
from salon.domain.onboarding import Suggestion, suggestions


def u(name: str) -> UserSummary:
    return UserSummary(name, name, name.title(), None)


def test_order_and_reasons() -> None:
    found = suggestions(
        "me",
        inviter=u("ada"),
        inviter_follows=[u("bob"), u("me"), u("ada")],
        active=[u("bob"), u("cat"), u("dan"), u("eve")],
        blocked_either_way={"dan"},
    )
    assert found == [
        Suggestion(u("ada"), "inviter"),
        Suggestion(u("bob"), "followed_by_inviter"),
        Suggestion(u("cat"), "active"),
        Suggestion(u("eve"), "active"),
    ]


def test_no_inviter_and_a_limit() -> None:
    found = suggestions("me", inviter=None, inviter_follows=[], active=[u("a"), u("b"), u("c")], limit=2)
    assert [s.user.id for s in found] == ["a", "b"]
    assert suggestions("me", inviter=None, inviter_follows=[], active=[]) == []
