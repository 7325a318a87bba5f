"""Adapters layer: the Redis connections of the shared state (``adapters/redis_state``), with short timeouts and no
retries of their own: a caller that cannot reach Redis learns it at once and falls back (docs/ARCHITECTURE.md,
"Several instances: shared live state")."""

from __future__ import annotations

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

CONNECT_TIMEOUT_S = 1.0
COMMAND_TIMEOUT_S = 1.0
KEY_PREFIX = "salon:"


def pool(url: str) -> ConnectionPool:
    return ConnectionPool.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )


def client(connections: ConnectionPool) -> Redis:
    return Redis(connection_pool=connections)
