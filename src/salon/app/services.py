"""App layer: the wiring — every port and shared object, built once at start-up (in the web app's lifespan or by a
CLI command) and handed to use cases. Nothing here is created at import time."""

from __future__ import annotations

from dataclasses import dataclass, field

from salon.app.ports import AudiencePace, Clock, EventBus, Ids, MediaPort
from salon.app.ratelimit import RateLimits
from salon.app.settings import Settings
from salon.app.system import RandomIds, SystemClock
from salon.store.database import Database
from salon.store.migrate import upgrade


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    ids: Ids
    bus: EventBus
    media: MediaPort
    limits: RateLimits
    secret: str
    # Batched rooms whose listener count changed quietly since the last flush (see app/audience.py).
    dirty_audiences: set[str] = field(default_factory=set)
    # Several instances: at most one listener count a second per room across all of them (adapters/redis_state).
    audience_pace: AudiencePace | None = None


async def build_services(
    settings: Settings, *, bus: EventBus, media: MediaPort, limits: RateLimits | None = None
) -> Services:
    """Everything the use cases need, built once, from the adapters the caller chose for the ports (``limits``: in
    this instance's memory unless given, shared through Redis by ``web/bus.py``). Applies the migrations first, so
    that a fresh data folder just works."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    from salon.app.backups import backup_before_migrations  # here: backups → avatars → services at import time

    try:
        await backup_before_migrations(settings, db)
    except BaseException:
        await db.dispose()
        raise
    await upgrade(db)
    return Services(
        settings=settings,
        db=db,
        clock=SystemClock(),
        ids=RandomIds(),
        bus=bus,
        media=media,
        limits=RateLimits(settings) if limits is None else limits,
        secret=settings.resolved_secret(),
    )
