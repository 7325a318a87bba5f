"""Adapters layer: a room's media lease — which instance drives it — as one Redis key per room.

The key holds the holder's instance id and expires ``ttl`` after its last renewal: taken with ``SET NX PX``, renewed
and released by its holder only (a Lua script compares the id, so an instance that lost its lease never extends or
deletes the next holder's). A renewal that finds the key gone takes it again: Redis restarted empty, or the holder
was late, and nobody took the room meanwhile.
"""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

PREFIX = "salon:media-lease:"

# Renew each key held by ARGV[1] (or take it again from nobody: Redis restarted empty, or the holder was late and
# nobody took it); one round trip per renewal tick. A list of 1 (held by ARGV[1] now) / 0 (another holds it).
_RENEW_MANY = """
local out = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if held == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  elseif not held then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Leases(Protocol):
    """Rooms' leases (Redis here; an in-memory one in the unit tests). Every call may raise ``RedisError`` /
    ``OSError`` when the store is away."""

    async def acquire(self, room_id: str, holder: str, ttl_ms: int) -> bool:
        """Take the room's lease if nobody holds it."""
        ...

    async def renew_many(self, room_ids: list[str], holder: str, ttl_ms: int) -> list[bool]:
        """Extend each of ``holder``'s leases (or take one again if nobody holds it); False where another instance
        holds it. In ``room_ids``' order."""
        ...

    async def release(self, room_id: str, holder: str) -> None:
        """End ``holder``'s lease (nothing if another instance holds it)."""
        ...

    async def holder(self, room_id: str) -> str | None: ...

    async def holders(self, room_ids: list[str]) -> list[str | None]:
        """``holder`` of each room, in order (one round trip)."""
        ...


class RedisLeases:
    def __init__(self, redis: Redis, *, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.prefix = prefix
        self._renew_many = redis.register_script(_RENEW_MANY)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, room_id: str, holder: str, ttl_ms: int) -> bool:
        return bool(await self.redis.set(self.prefix + room_id, holder, nx=True, px=ttl_ms))

    async def renew_many(self, room_ids: list[str], holder: str, ttl_ms: int) -> list[bool]:
        if not room_ids:
            return []
        keys = [self.prefix + room_id for room_id in room_ids]
        return [bool(v) for v in await self._renew_many(keys=keys, args=[holder, ttl_ms])]

    async def release(self, room_id: str, holder: str) -> None:
        await self._release(keys=[self.prefix + room_id], args=[holder])

    async def holder(self, room_id: str) -> str | None:
        value = await self.redis.get(self.prefix + room_id)
        return _text(value)

    async def holders(self, room_ids: list[str]) -> list[str | None]:
        if not room_ids:
            return []
        return [_text(v) for v in await self.redis.mget([self.prefix + room_id for room_id in room_ids])]


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
