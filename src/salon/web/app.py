"""Web layer: the ASGI application — wiring built in the lifespan, routers, error handlers, OpenAPI docs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from salon.adapters.db.database import Database
from salon.adapters.db.migrate import upgrade
from salon.app.audience import run_flusher
from salon.app.fakes import FakeMedia
from salon.app.media_events import run_media_events
from salon.app.ratelimit import RateLimits
from salon.app.services import Services
from salon.app.settings import Settings
from salon.app.system import RandomIds, SystemClock
from salon.web.errors import ERROR_RESPONSES, install_error_handlers
from salon.web.hub import Hub
from salon.web.pages import STATIC
from salon.web.pages import router as pages_router
from salon.web.routes_accounts import router as accounts_router
from salon.web.routes_rooms import router as rooms_router
from salon.web.sweeper import run_sweeper
from salon.web.ws import router as ws_router

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


async def build_services(settings: Settings) -> Services:
    """Everything the app needs, built once. Applies migrations so a fresh data folder just works."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    await upgrade(db)
    return Services(
        settings=settings,
        db=db,
        clock=SystemClock(),
        ids=RandomIds(),
        bus=Hub(settings),
        # Until the Janus adapter lands (issue "Real audio"), media calls are recorded, not carried out.
        media=FakeMedia(),
        limits=RateLimits(settings),
        secret=settings.resolved_secret(),
    )


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """Build the app. Tests pass ready-made ``services``; ``salon serve`` lets the lifespan build them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services if services is not None else await build_services(settings)
        background = [
            asyncio.create_task(run_flusher(app.state.services), name="listener-count-flusher"),
            asyncio.create_task(run_media_events(app.state.services), name="media-events"),
        ]
        if isinstance(app.state.services.bus, Hub):
            background.append(asyncio.create_task(run_sweeper(app.state.services, app.state.services.bus)))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if isinstance(app.state.services.bus, Hub):
                await app.state.services.bus.close_all()
            if owned:
                await app.state.services.db.dispose()

    app = FastAPI(
        title="Salon",
        version="1",
        summary="Live audio rooms: invites, rooms, the stage and a live event stream.",
        lifespan=lifespan,
        docs_url=f"{API_PREFIX}/docs",
        openapi_url=f"{API_PREFIX}/openapi.json",
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(accounts_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(rooms_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(ws_router, prefix=API_PREFIX)
    return app
