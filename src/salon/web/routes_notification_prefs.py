"""Web layer: my notification settings — which groups of notifications I get, and a pause (the rules:
``domain/notification_prefs.py``; applied in ``app/notifications.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from salon.app import notifications
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_notifications import NotificationSettingsIn, NotificationSettingsOut

router = APIRouter(tags=["notifications"])


@router.get("/me/notification-settings", summary="Which notifications I get, and my pause")
async def get_settings(actor: CurrentActor, services: ServicesDep) -> NotificationSettingsOut:
    return NotificationSettingsOut.of(await notifications.get_prefs(services, actor))


@router.put("/me/notification-settings", summary="Choose which notifications I get, or pause them")
async def put_settings(
    body: NotificationSettingsIn, actor: CurrentActor, services: ServicesDep
) -> NotificationSettingsOut:
    chosen = await notifications.set_prefs(services, actor, body.groups.off(), body.paused_until)
    return NotificationSettingsOut.of(chosen)
