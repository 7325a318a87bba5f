"""Web layer: my notifications — the list (newest first, with the unread count) and marking them read. The same
notifications arrive live on the WebSocket as ``user_event`` frames named ``notification`` (unless a pause holds
them back: ``routes_notification_prefs.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from salon.app import notifications
from salon.domain.paging import CURSOR_MAX, PAGE_DEFAULT, PAGE_MAX
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_notifications import MarkRead, NotificationOut, NotificationPageOut, UnreadOut

router = APIRouter(tags=["notifications"])


@router.get("/notifications", summary="My notifications, newest first")
async def list_notifications(
    actor: CurrentActor,
    services: ServicesDep,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
) -> NotificationPageOut:
    page = await notifications.list_notifications(services, actor, cursor, limit)
    return NotificationPageOut(
        notifications=[NotificationOut.from_record(n, page.live_rooms) for n in page.notifications],
        unread_count=page.unread_count,
        next_cursor=page.next_cursor,
    )


@router.post("/notifications/read", summary="Mark some or all of my notifications read")
async def mark_read(body: MarkRead, actor: CurrentActor, services: ServicesDep) -> UnreadOut:
    ids = None if body.all else body.ids
    return UnreadOut(unread_count=await notifications.mark_read(services, actor, ids))
