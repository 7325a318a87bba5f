"""Web layer: response models of the follow graph and blocking API (paged lists of members, relations)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from salon.app.social import Page, Relation
from salon.domain.social import Entry
from salon.web.schemas_accounts import Response, UserSummaryOut


class RelationOut(Response):
    """How you and a member stand now."""

    user_id: str
    followed_by_you: bool
    follows_you: bool
    blocked_by_you: bool
    followers_count: int

    @classmethod
    def from_relation(cls, r: Relation) -> RelationOut:
        return cls(
            user_id=r.user_id,
            followed_by_you=r.followed_by_you,
            follows_you=r.follows_you,
            blocked_by_you=r.blocked_by_you,
            followers_count=r.followers_count,
        )


class FollowEntryOut(Response):
    user: UserSummaryOut
    since: datetime = Field(description="When this follow began.")
    followed_by_you: bool


class FollowPageOut(Response):
    users: list[FollowEntryOut] = Field(description="Newest follows first.")
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page; None on the last page.")

    @classmethod
    def from_page(cls, page: Page) -> FollowPageOut:
        return cls(
            users=[
                FollowEntryOut(user=_user(e), since=e.since, followed_by_you=e.followed_by_viewer) for e in page.entries
            ],
            next_cursor=page.next_cursor,
        )


class BlockEntryOut(Response):
    user: UserSummaryOut
    since: datetime = Field(description="When you blocked them.")


class BlockPageOut(Response):
    users: list[BlockEntryOut] = Field(description="Most recent blocks first.")
    next_cursor: str | None = Field(description="Pass it as `cursor` for the next page; None on the last page.")

    @classmethod
    def from_page(cls, page: Page) -> BlockPageOut:
        return cls(
            users=[BlockEntryOut(user=_user(e), since=e.since) for e in page.entries], next_cursor=page.next_cursor
        )


def _user(e: Entry) -> UserSummaryOut:
    return UserSummaryOut.of(e.user)
