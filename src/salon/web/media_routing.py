"""Web layer: which media port this instance runs — its own media adapter alone, or behind ``RoutedMedia`` when
``SALON_REDIS_URL`` is set (several instances: each room's media driven by the one holding its lease,
docs/ARCHITECTURE.md "Several instances: who drives a room's media") — and starting and stopping the routing."""

from __future__ import annotations

import functools

from salon.adapters.redis_media.lease import RedisLeases
from salon.adapters.redis_media.routing import LEASE_TTL_S, RPC_TIMEOUT_S, RoutedMedia
from salon.adapters.redis_media.rpc import RedisRpc, connect
from salon.app.media_events import live_room_ids, rebuild_room
from salon.app.ports import MediaPort
from salon.app.services import Services
from salon.app.settings import Settings


def make_media(settings: Settings, local: MediaPort) -> MediaPort:
    """``local`` itself with one instance; behind the lease's routing with Redis (started by :func:`start_media`)."""
    if settings.redis_url is None:
        return local
    return routed_media(local, settings.redis_url)


def routed_media(
    local: MediaPort, url: str, *, ttl_s: float = LEASE_TTL_S, rpc_timeout_s: float = RPC_TIMEOUT_S
) -> RoutedMedia:
    redis = connect(url)
    return RoutedMedia(local, RedisLeases(redis), RedisRpc(redis), ttl_s=ttl_s, rpc_timeout_s=rpc_timeout_s)


async def start_media(services: Services) -> None:
    """Serve the other instances' calls for the rooms held here and renew their leases (when routed); a room taken
    over is rebuilt from this database, which also says which rooms are live (to take those nobody drives)."""
    if isinstance(services.media, RoutedMedia):
        await services.media.start(
            functools.partial(rebuild_room, services), functools.partial(live_room_ids, services)
        )


async def stop_media(services: Services, *, release: bool = True) -> None:
    if isinstance(services.media, RoutedMedia):
        await services.media.stop(release=release)
