"""Web layer: the admin area's API — members (search, admin flag), reports (resolve), the waitlist (dismiss), live
rooms, the instance settings and the instance's log. Granting invites and disabling/enabling members are in
``routes_accounts.py``; ending a room is ``POST /rooms/{room_id}/end``; reading reports is in
``routes_moderation.py``. Thin: parse, call one use case of ``salon.app.admin`` (which refuses non-admins), shape
the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from salon.app import admin
from salon.domain.paging import CURSOR_MAX, PAGE_DEFAULT, PAGE_MAX
from salon.web.auth import CurrentActor
from salon.web.deps import ServicesDep
from salon.web.schemas_admin import (
    AdminFlagIn,
    AdminFlagOut,
    AdminLogOut,
    DismissedOut,
    LiveRoomOut,
    LiveRoomsOut,
    MembersOut,
    ResolvedOut,
    ResolveIn,
    SearchText,
    SettingsIn,
    SettingsOut,
)
from salon.web.schemas_text import ID_PATTERN

router = APIRouter(tags=["admin"])

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
PageCursor = Annotated[str | None, Query(max_length=CURSOR_MAX, description="`next_cursor` of the previous page")]
PageSize = Annotated[int, Query(ge=1, le=PAGE_MAX)]


@router.get("/admin/users", summary="Members, newest first, with their state (admin)")
async def list_members(
    actor: CurrentActor,
    services: ServicesDep,
    q: Annotated[SearchText, Query(description="a username's start or part of a display name")] = "",
    cursor: PageCursor = None,
    limit: PageSize = PAGE_DEFAULT,
) -> MembersOut:
    return MembersOut.from_page(await admin.search_members(services, actor, q, cursor, limit))


@router.post("/admin/users/{user_id}/admin", summary="Make a member an admin, or take it back (admin)")
async def set_admin(user_id: Id, body: AdminFlagIn, actor: CurrentActor, services: ServicesDep) -> AdminFlagOut:
    """The instance's last enabled admin cannot step down (``last_admin``)."""
    await admin.set_admin(services, actor, user_id, body.admin)
    return AdminFlagOut(id=user_id, is_admin=body.admin)


@router.post("/admin/reports/{report_id}/resolve", summary="Resolve a report with a note (admin)")
async def resolve_report(report_id: Id, body: ResolveIn, actor: CurrentActor, services: ServicesDep) -> ResolvedOut:
    await admin.resolve_report(services, actor, report_id, body.note)
    return ResolvedOut(id=report_id, resolved=True)


@router.post("/admin/waitlist/{entry_id}/dismiss", summary="Take someone off the waitlist (admin)")
async def dismiss_waitlist_entry(entry_id: Id, actor: CurrentActor, services: ServicesDep) -> DismissedOut:
    """Letting someone in is ``POST /waitlist/{entry_id}/nominate``."""
    await admin.dismiss_waitlist_entry(services, actor, entry_id)
    return DismissedOut(id=entry_id, dismissed=True)


@router.get("/admin/rooms", summary="Every live room (admin)")
async def live_rooms(actor: CurrentActor, services: ServicesDep) -> LiveRoomsOut:
    rooms = await admin.live_rooms(services, actor)
    return LiveRoomsOut(rooms=[LiveRoomOut.from_room(room, people) for room, people in rooms])


@router.get("/admin/settings", summary="The instance settings an admin may change live (admin)")
async def get_settings(actor: CurrentActor, services: ServicesDep) -> SettingsOut:
    return SettingsOut.from_settings(await admin.read_settings(services, actor))


@router.patch("/admin/settings", summary="Change instance settings (admin)")
async def patch_settings(body: SettingsIn, actor: CurrentActor, services: ServicesDep) -> SettingsOut:
    return SettingsOut.from_settings(await admin.change_settings(services, actor, body.changes()))


@router.get("/admin/log", summary="The instance's log: what admins did, newest first (admin)")
async def instance_log(
    actor: CurrentActor, services: ServicesDep, cursor: PageCursor = None, limit: PageSize = PAGE_DEFAULT
) -> AdminLogOut:
    return AdminLogOut.from_page(await admin.read_instance_log(services, actor, cursor, limit))
