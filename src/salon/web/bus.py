"""Web layer: which event bus this instance runs — the in-process hub alone, or the hub behind the Redis bus when
``SALON_REDIS_URL`` is set (several instances) — and the hub inside either, for the WebSocket endpoint, presence,
the sweeper, the hallway ticker and the metrics."""

from __future__ import annotations

import functools

from salon.adapters.redis_bus.bus import RedisBus
from salon.app.ports import EventBus
from salon.app.rooms import committed_events_after
from salon.app.services import Services
from salon.app.settings import Settings
from salon.web.hub import Hub


def make_bus(settings: Settings) -> EventBus:
    """A new hub; behind a Redis bus when ``settings.redis_url`` is set (started by :func:`start_bus`)."""
    hub = Hub(settings)
    if settings.redis_url is None:
        return hub
    return redis_bus(hub, settings.redis_url)


def redis_bus(hub: Hub, url: str) -> RedisBus:
    bus = RedisBus(hub, url)
    hub.on_following = bus.sequencer.known
    return bus


def local_hub(bus: EventBus) -> Hub | None:
    """This instance's hub: the bus itself, or the one behind the Redis bus."""
    if isinstance(bus, Hub):
        return bus
    if isinstance(bus, RedisBus) and isinstance(bus.local, Hub):
        return bus.local
    return None


async def start_bus(services: Services) -> None:
    """Subscribe to Redis (when the bus is the Redis one), filling missed room events from this database."""
    if isinstance(services.bus, RedisBus):
        await services.bus.start(functools.partial(committed_events_after, services))


async def stop_bus(services: Services) -> None:
    if isinstance(services.bus, RedisBus):
        await services.bus.stop()
