"""Adapters layer: the rate limits across instances — the ``limits`` library's own async Redis storage (on the
``redis`` client, ``implementation="redispy"``) for the windows, and ``RedisFailures``, the log-in lock's failures
(``app/ratelimit.Backoff``) in one Redis hash per key, changed by Lua scripts so that failures counted at once on
several instances all count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from limits.aio.storage import RedisStorage
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from salon.adapters.redis_state.client import KEY_PREFIX, client, pool
from salon.app.ports import FailureRecord, SharedStateUnavailable
from salon.app.ratelimit import LOGIN_PAIR_MEMORY_S, SharedStores

WINDOWS_PREFIX = f"{KEY_PREFIX}limits"
FAILURES_PREFIX = f"{KEY_PREFIX}failures:"

# KEYS[1] the key's hash; ARGV: now, forget_before (epoch seconds), ttl (s). The count restarts after a quiet spell.
_ADD_FAILURE = """
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if last == nil or last <= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if last == nil or tonumber(ARGV[1]) > last then redis.call('HSET', KEYS[1], 'last', ARGV[1]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return n
"""
# KEYS[1]; ARGV[1] until: the later lock wins (two instances locking at once for 60 s and 120 s keep 120 s).
_LOCK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'until'))
if current == nil or current < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'until', ARGV[1]) end
return 1
"""


class RedisFailures:
    """``FailureStore`` in Redis: fields ``n`` (count), ``last`` and ``until`` (epoch seconds). The key expires a
    quiet ``memory_s`` after its last failure, which is also when the rule forgets it."""

    def __init__(self, redis: Redis, memory_s: int = LOGIN_PAIR_MEMORY_S) -> None:
        self._redis = redis
        self._memory_s = memory_s
        self._add = redis.register_script(_ADD_FAILURE)
        self._lock = redis.register_script(_LOCK)

    async def get(self, key: str) -> FailureRecord | None:
        try:
            count, last, until = await self._redis.hmget(self._key(key), ["n", "last", "until"])
        except (RedisError, OSError) as exc:
            raise SharedStateUnavailable(str(exc)) from exc
        if count is None or last is None:
            return None
        return FailureRecord(int(count), _time(last), None if until is None else _time(until))

    async def add_failure(self, key: str, now: datetime, forget_before: datetime) -> int:
        try:
            count = await self._add([self._key(key)], [now.timestamp(), forget_before.timestamp(), self._memory_s])
        except (RedisError, OSError) as exc:
            raise SharedStateUnavailable(str(exc)) from exc
        return int(cast(int, count))

    async def lock(self, key: str, until: datetime) -> None:
        try:
            await self._lock([self._key(key)], [until.timestamp()])
        except (RedisError, OSError) as exc:
            raise SharedStateUnavailable(str(exc)) from exc

    async def forget(self, key: str) -> None:
        try:
            await self._redis.delete(self._key(key))
        except (RedisError, OSError) as exc:
            raise SharedStateUnavailable(str(exc)) from exc

    @staticmethod
    def _key(key: str) -> str:
        return FAILURES_PREFIX + key


def _time(raw: bytes | str) -> datetime:
    return datetime.fromtimestamp(float(raw), UTC)


def windows_uri(url: str) -> str:
    """``SALON_REDIS_URL`` as the ``limits`` library writes it (``async+redis://``, ``async+redis+unix://``)."""
    if url.startswith("unix://"):
        return "async+redis+unix://" + url.removeprefix("unix://")
    return "async+" + url


def shared_limits(url: str) -> SharedStores:
    """The rate limits' stores for every instance on the Redis at ``url``: one connection pool for both."""
    connections: ConnectionPool = pool(url)
    windows = RedisStorage(
        windows_uri(url),
        implementation="redispy",
        wrap_exceptions=True,  # a lost Redis is a limits.errors.StorageError: app/ratelimit.py falls back on it
        key_prefix=WINDOWS_PREFIX,
        connection_pool=cast(str, connections),  # the library types its options as scalars; a pool is accepted
    )
    redis = client(connections)

    async def close() -> None:
        await redis.aclose()
        await connections.aclose()

    return SharedStores(windows=windows, failures=RedisFailures(redis), close=close)
