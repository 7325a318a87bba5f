"""Test support for scheduled events: members as actors, an event starting at a given time, and the app with the
events and notifications routers (a no-op once ``web/app.py`` includes them)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from salon.app import scheduled_events
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.rooms import RoomType
from salon.web.errors import ERROR_RESPONSES
from salon.web.routes_notifications import router as notifications_router
from salon.web.routes_scheduled_events import router as scheduled_events_router
from tests.support.people import add_member

API_PREFIX = "/api/v1"


async def actor(services: Services, username: str, *, admin: bool = False) -> Actor:
    """A member inserted straight into the database, as the actor the use cases take."""
    user_id = await add_member(services, username, admin=admin)
    return Actor(user_id=user_id, username=username, is_admin=admin, session_hash="")


async def schedule(
    services: Services,
    host: Actor,
    *,
    in_minutes: float = 24 * 60,
    room_type: RoomType = RoomType.OPEN,
    cohosts: list[str] | None = None,
    title: str = "Jazz standards",
    topics: list[str] | None = None,
    timezone: str = "Europe/Paris",
) -> scheduled_events.EventView:
    spec = scheduled_events.NewEvent(
        title=title,
        description="Agreed in advance: ballads, then the bridge.",
        topics=["jazz", "piano"] if topics is None else topics,
        starts_at=services.clock.now() + timedelta(minutes=in_minutes),
        timezone=timezone,
        room_type=room_type,
        cohosts=cohosts or [],
    )
    return await scheduled_events.create_event(services, host, spec)


def with_event_routes(app: FastAPI) -> FastAPI:
    """Include the events and notifications routers unless the app already has them."""
    included = {id(getattr(route, "original_router", None)) for route in app.routes}
    for router in (scheduled_events_router, notifications_router):
        if id(router) not in included:
            app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    return app
