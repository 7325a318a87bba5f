"""Web layer: the ASGI application — wiring built in the lifespan, routers, error handlers, OpenAPI docs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from salon.adapters.janus.runtime import open_media_plane
from salon.adapters.null_media import NullMedia
from salon.adapters.turn.runtime import open_turn
from salon.app.audience import run_flusher
from salon.app.media_events import recover_media, release_media, run_media_events
from salon.app.ports import Liveness, MediaPort
from salon.app.reminders import run_reminders
from salon.app.services import Services
from salon.app.services import build_services as build_app_services
from salon.app.settings import Settings
from salon.domain.api_paths import API_PREFIX
from salon.web.api_docs import OPENAPI_PATH, install_api_docs
from salon.web.bus import local_hub, make_audience_pace, make_bus, make_limits, make_liveness, start_bus, stop_bus
from salon.web.errors import ERROR_RESPONSES, install_error_handlers
from salon.web.hallway_live import run_ticker
from salon.web.headers import SalonAPI
from salon.web.hub import Hub
from salon.web.media_routing import make_media, start_media, stop_media
from salon.web.metrics import SalonMetrics
from salon.web.openapi import install_openapi
from salon.web.pages import STATIC
from salon.web.pages import router as pages_router
from salon.web.presence import Departures
from salon.web.routes_accounts import router as accounts_router
from salon.web.routes_admin import router as admin_router
from salon.web.routes_hallway import router as hallway_router
from salon.web.routes_health import router as health_router
from salon.web.routes_media import router as media_router
from salon.web.routes_moderation import router as moderation_router
from salon.web.routes_notification_prefs import router as notification_prefs_router
from salon.web.routes_notifications import router as notifications_router
from salon.web.routes_onboarding import router as onboarding_router
from salon.web.routes_rooms import router as rooms_router
from salon.web.routes_scheduled_events import router as scheduled_events_router
from salon.web.routes_social import router as social_router
from salon.web.sweeper import run_sweeper
from salon.web.ws import router as ws_router

log = logging.getLogger(__name__)

SHUTDOWN_MEDIA_S = 10.0  # releasing rooms' media must not hold a shutdown forever


async def build_services(settings: Settings, media: MediaPort | None = None) -> Services:
    """The web app's services: the in-process hub as the event bus (behind the Redis bus with ``SALON_REDIS_URL``:
    web/bus.py), and ``media`` as the media plane. Without one (console commands, seeding: no audio) the media port
    is ``NullMedia``; ``salon serve`` passes Janus."""
    plane = NullMedia() if media is None else make_media(settings, media)  # routed by room with several instances
    services = await build_app_services(settings, bus=make_bus(settings), media=plane, limits=make_limits(settings))
    services.audience_pace = make_audience_pace(settings)
    return services


def install_presence(services: Services, hub: Hub, liveness: Liveness | None = None) -> None:
    """Presence (web/presence.py): its start-up rule, then members with no live connection (to any instance, with
    Redis) and no sign of life in a room leave it. ``hub.close_all`` stops it."""
    if hub.departures is None:
        hub.departures = Departures(services, make_liveness(services.settings, hub) if liveness is None else liveness)
        hub.departures.start()


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Build the app. Tests pass ready-made ``services``; ``salon serve`` lets the lifespan build them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        stack = contextlib.AsyncExitStack()
        if owned:
            plane = await stack.enter_async_context(open_media_plane(settings))
            await stack.enter_async_context(open_turn(settings))  # the managed coturn, if SALON_TURN=managed
            app.state.stream_origins = plane.stream_origins  # the pages' CSP lets the browser fetch streams there
            app.state.services = await build_services(settings, plane.media)
            await start_bus(app.state.services)  # subscribed before serving: no event of another instance missed
            await start_media(app.state.services)  # serving the rooms' calls before claiming rooms to re-create
            await recover_media(app.state.services)  # rooms live before a restart get their stage and audience back
        else:
            app.state.services = services
        background = [
            asyncio.create_task(run_flusher(app.state.services), name="listener-count-flusher"),
            asyncio.create_task(run_media_events(app.state.services), name="media-events"),
            asyncio.create_task(run_reminders(app.state.services), name="event-reminders"),
        ]
        hub = local_hub(app.state.services.bus)
        if hub is not None:
            install_presence(app.state.services, hub)
            background.append(asyncio.create_task(run_sweeper(app.state.services, hub)))
            background.append(asyncio.create_task(run_ticker(app.state.services, hub), name="hallway-ticker"))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if hub is not None:
                await hub.close_all()
            if owned:
                await stop_bus(app.state.services)  # before the database goes: a gap fill reads it
                await app.state.services.limits.aclose()
                if app.state.services.audience_pace is not None:
                    await app.state.services.audience_pace.close()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SHUTDOWN_MEDIA_S):
                        await release_media(app.state.services)
                await stop_media(app.state.services)  # after releasing: the rooms' leases go with their media
                await app.state.services.db.dispose()
            await stack.aclose()

    app = SalonAPI(
        hsts=settings.https,  # every response says nosniff; HSTS too when the public URL is https (web/headers.py)
        metrics=SalonMetrics(),  # this app's own registry (web/metrics.py)
        access_log=settings.log_format == "json",
        title="Salon",
        version="1",
        summary="Live audio rooms: invites, rooms, the stage and a live event stream.",
        lifespan=lifespan,
        docs_url=None,  # ours, under the app's CSP: web/api_docs.py
        openapi_url=OPENAPI_PATH,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.state.metrics = app.metrics
    install_api_docs(app)
    app.include_router(accounts_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(rooms_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(hallway_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(social_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(onboarding_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(moderation_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(admin_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(scheduled_events_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(notifications_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(notification_prefs_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(media_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(health_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(ws_router, prefix=API_PREFIX)
    install_openapi(app, settings)  # security schemes and the settings' limits in the OpenAPI document
    return app
