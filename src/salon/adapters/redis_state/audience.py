"""Adapters layer: ``AudiencePace`` in Redis — one key per room, set only if absent (``SET … NX PX``), all of a
flush's rooms in one pipelined round trip: whichever instance sets it publishes the room's listener count, the others
keep the room for their next tick."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from salon.adapters.redis_state.client import KEY_PREFIX, client, pool
from salon.app.ports import SharedStateUnavailable

PREFIX = f"{KEY_PREFIX}audience:"


class RedisAudiencePace:
    def __init__(self, url: str) -> None:
        self._pool: ConnectionPool = pool(url)
        self._redis: Redis = client(self._pool)

    async def claim(self, room_ids: Sequence[str], seconds: float) -> set[str]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for room_id in room_ids:
                    pipe.set(PREFIX + room_id, b"1", px=max(1, int(seconds * 1000)), nx=True)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise SharedStateUnavailable(f"listener counts: {exc}") from exc
        return {room_id for room_id, taken in zip(room_ids, results, strict=True) if taken}

    async def close(self) -> None:
        await self._redis.aclose()
        await self._pool.aclose()
