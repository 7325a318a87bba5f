"""Web layer: the follow graph and blocking — follow/unfollow, followers and following lists, block/unblock, my
blocks. Thin: validate, call one use case (``salon.app.social``), shape the answer. Every route needs a session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from salon.app import social
from salon.domain.paging import CURSOR_MAX, PAGE_DEFAULT, PAGE_MAX
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_social import BlockPageOut, FollowPageOut, RelationOut
from salon.web.schemas_text import ID_PATTERN

router = APIRouter(tags=["social"])

UserId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"Entries per page (at most {PAGE_MAX}).")]
CursorParam = Annotated[
    str | None, Query(min_length=1, max_length=CURSOR_MAX, description="`next_cursor` of the previous page.")
]


@router.put("/users/{user_id}/follow", summary="Follow a member")
async def follow(user_id: UserId, actor: CurrentActor, services: ServicesDep) -> RelationOut:
    """Following twice is fine. Refused for yourself (`self_target`), for someone who blocked you (`blocked`) and
    for someone you blocked (`unblock_first`). A new follow tells them (`followed_you`: once per pair ever, at most
    20 an hour per member)."""
    return RelationOut.from_relation(await social.follow(services, actor, user_id))


@router.delete("/users/{user_id}/follow", summary="Stop following a member")
async def unfollow(user_id: UserId, actor: CurrentActor, services: ServicesDep) -> RelationOut:
    return RelationOut.from_relation(await social.unfollow(services, actor, user_id))


@router.get("/users/{user_id}/followers", summary="Who follows a member")
async def followers(
    user_id: UserId,
    actor: CurrentActor,
    services: ServicesDep,
    limit: Limit = PAGE_DEFAULT,
    cursor: CursorParam = None,
) -> FollowPageOut:
    """Newest first, a page at a time. Refused (`blocked`) when that member blocked you."""
    return FollowPageOut.from_page(await social.list_followers(services, actor, user_id, cursor=cursor, limit=limit))


@router.get("/users/{user_id}/following", summary="Whom a member follows")
async def following(
    user_id: UserId,
    actor: CurrentActor,
    services: ServicesDep,
    limit: Limit = PAGE_DEFAULT,
    cursor: CursorParam = None,
) -> FollowPageOut:
    """Newest first, a page at a time. Refused (`blocked`) when that member blocked you."""
    return FollowPageOut.from_page(await social.list_following(services, actor, user_id, cursor=cursor, limit=limit))


@router.put("/users/{user_id}/block", summary="Block a member")
async def block(user_id: UserId, actor: CurrentActor, services: ServicesDep) -> RelationOut:
    """Follows between you end both ways; they cannot follow you, nor find or join rooms you moderate."""
    return RelationOut.from_relation(await social.block(services, actor, user_id))


@router.delete("/users/{user_id}/block", summary="Unblock a member")
async def unblock(user_id: UserId, actor: CurrentActor, services: ServicesDep) -> RelationOut:
    return RelationOut.from_relation(await social.unblock(services, actor, user_id))


@router.get("/me/blocks", summary="The members I blocked")
async def my_blocks(
    actor: CurrentActor, services: ServicesDep, limit: Limit = PAGE_DEFAULT, cursor: CursorParam = None
) -> BlockPageOut:
    return BlockPageOut.from_page(await social.list_my_blocks(services, actor, cursor=cursor, limit=limit))
