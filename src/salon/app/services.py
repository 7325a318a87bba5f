"""App layer: the wiring — every port and shared object, built once at start-up (in the web app's lifespan or by a
CLI command) and handed to use cases. Nothing here is created at import time."""

from __future__ import annotations

from dataclasses import dataclass, field

from salon.app.ports import Clock, EventBus, Ids, MediaPort
from salon.app.ratelimit import RateLimits
from salon.app.settings import Settings
from salon.store.database import Database


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
