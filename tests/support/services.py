"""Test support: the one place tests wire ``Services`` (the app builds its own in the web app's lifespan).

Every port not given is a fake: a ``FakeClock``, a ``RecordingBus``, ``FakeMedia``; identifiers are the real random
ones. Tests that serve real sockets pass ``bus=Hub(settings)``.
"""

from __future__ import annotations

from salon.app.fakes import FakeClock, FakeMedia, RecordingBus
from salon.app.ports import Clock, EventBus, MediaPort
from salon.app.ratelimit import RateLimits
from salon.app.services import Services
from salon.app.settings import Settings
from salon.app.system import RandomIds
from salon.store.database import Database


def make_services(
    settings: Settings,
    db: Database,
    *,
    clock: Clock | None = None,
    bus: EventBus | None = None,
    media: MediaPort | None = None,
) -> Services:
    return Services(
        settings=settings,
        db=db,
        clock=clock if clock is not None else FakeClock(),
        ids=RandomIds(),
        bus=bus if bus is not None else RecordingBus(),
        media=media if media is not None else FakeMedia(),
        limits=RateLimits(settings),
        secret=settings.secret_key,
    )
