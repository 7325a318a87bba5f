"""Web layer: which event bus this instance runs — the in-process hub alone, or the hub behind the Redis bus when
``SALON_REDIS_URL`` is set (several instances) — and the hub inside either, for the WebSocket endpoint, presence,
the sweeper, the hallway ticker and the metrics. With Redis, the rest of the live state is shared there too: the
rate limits (``make_limits``), who is connected anywhere (``make_liveness``) and the listener counts' pace
(``make_audience_pace``); adapters/redis_state."""

from __future__ import annotations

import functools

from salon.adapters.redis_bus.bus import RedisBus
from salon.adapters.redis_state.audience import RedisAudiencePace
from salon.adapters.redis_state.limits import shared_limits
from salon.adapters.redis_state.presence import RedisLiveness
from salon.app.ports import EventBus, Liveness
from salon.app.ratelimit import RateLimits
from salon.app.rooms import committed_events_after
from salon.app.services import Services
from salon.app.settings import Settings
from salon.web.hub import Hub
from salon.web.presence import LocalLiveness


def make_bus(settings: Settings) -> EventBus:
    """A new hub; behind a Redis bus when ``settings.redis_url`` is set (started by :func:`start_bus`)."""
    hub = Hub(settings)
    if settings.redis_url is None:
        return hub
    return redis_bus(hub, settings.redis_url)


def make_limits(settings: Settings) -> RateLimits:
    """The rate limits: in this instance's memory, or in Redis for every instance (closed by ``aclose``)."""
    return RateLimits(settings, None if settings.redis_url is None else shared_limits(settings.redis_url))


def make_audience_pace(settings: Settings) -> RedisAudiencePace | None:
    """Several instances: one listener count a second per room across them all (app/audience.py)."""
    return None if settings.redis_url is None else RedisAudiencePace(settings.redis_url)


def make_liveness(settings: Settings, hub: Hub) -> Liveness:
    """Who counts as connected for presence: this hub's members, or any running instance's (Redis; started)."""
    if settings.redis_url is None:
        return LocalLiveness(hub.is_connected)
    liveness = RedisLiveness(settings.redis_url, hub.user_ids)
    liveness.start()
    return liveness


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
