"""Adapters layer: who is connected to any running instance (``Liveness``), in Redis.

Each instance (a random ``instance_id`` per process) keeps, under ``salon:presence:members:<id>``, the set of
members with a live connection to it, and proves it is running with ``salon:presence:alive:<id>``, a key that
expires ``ttl_s`` after its last heartbeat; ``salon:presence:instances`` lists the instances. One writer task sends
every change in order: arrivals and departures as they happen, and every ``beat_s`` the whole set again (which
also rebuilds it after Redis restarted empty).

- ``connected(users)`` is one Lua script for the whole batch: a member counts when they are in the set of an
  instance whose ``alive`` key still exists. Members connected here are answered without asking.
- ``vanished()`` is one script too: the sets of instances whose ``alive`` key expired (the process died without
  closing its sockets) are taken out, and their members connected nowhere else are handed back once, so that
  presence holds them for the grace period from then, as if their connections had just closed.
- While the state is younger than ``settle_s`` (Redis restarted: the other instances have not written theirs
  yet), or Redis does not answer, ``connected`` raises ``SharedStateUnavailable``: the sweep then takes nobody
  out (docs/ARCHITECTURE.md, "Several instances: shared live state").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from salon.adapters.cancellation import stop_if_cancelled
from salon.adapters.redis_state.client import KEY_PREFIX, client, pool
from salon.app.ports import SharedStateUnavailable

log = logging.getLogger(__name__)

PREFIX = f"{KEY_PREFIX}presence:"
INSTANCES = f"{PREFIX}instances"
BORN = f"{PREFIX}born"  # when this Redis first held presence (server time): the state is complete a beat later
BEAT_S = 5.0
TTL_S = 20.0  # four beats: a busy instance is not taken for dead
RETRY_S = 1.0
CHUNK = 1000  # members per SADD inside a script (Lua's unpack has a bounded stack)

# KEYS: instances, born, alive, members; ARGV: id, ttl_ms, members...
_BEAT = """
local t = redis.call('TIME')
redis.call('SET', KEYS[2], t[1], 'NX')
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
redis.call('DEL', KEYS[4])
for i = 3, #ARGV, 1000 do
  redis.call('SADD', KEYS[4], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return 1
"""
# The live instances' member sets, as a Lua fragment (KEYS[1] instances, ARGV[1] the prefix).
_LIVE = """
local live, dead = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'alive:' .. id) == 1 then
    live[#live + 1] = ARGV[1] .. 'members:' .. id
  else
    dead[#dead + 1] = id
  end
end
local function anywhere(user)
  for _, key in ipairs(live) do
    if redis.call('SISMEMBER', key, user) == 1 then return 1 end
  end
  return 0
end
"""
# KEYS: instances, born; ARGV: prefix, users... → {age of the state in s (-1: none), {0|1 per user}}
_CONNECTED = (
    _LIVE
    + """
local t = redis.call('TIME')
local born = redis.call('GET', KEYS[2])
local age = -1
if born then age = tonumber(t[1]) - tonumber(born) end
local out = {}
for i = 2, #ARGV do out[#out + 1] = anywhere(ARGV[i]) end
return {age, out}
"""
)
# KEYS: instances; ARGV: prefix → members of dead instances connected to no live one (the dead sets are removed)
_REAP = (
    _LIVE
    + """
local gone = {}
for _, id in ipairs(dead) do
  local key = ARGV[1] .. 'members:' .. id
  for _, user in ipairs(redis.call('SMEMBERS', key)) do
    if anywhere(user) == 0 then gone[#gone + 1] = user end
  end
  redis.call('DEL', key)
  redis.call('SREM', KEYS[1], id)
end
return gone
"""
)


class RedisLiveness:
    """``Liveness`` across instances. ``local_users()`` lists the members connected here (the hub's view)."""

    def __init__(
        self,
        url: str,
        local_users: Callable[[], Iterable[str]],
        *,
        beat_s: float = BEAT_S,
        ttl_s: float = TTL_S,
        settle_s: float | None = None,
        instance_id: str | None = None,
    ) -> None:
        self.instance_id = instance_id or secrets.token_hex(8)
        self._local_users = local_users
        self.beat_s = beat_s
        self.ttl_s = ttl_s
        self.settle_s = 2 * beat_s if settle_s is None else settle_s
        self._pool: ConnectionPool = pool(url)
        self._redis: Redis = client(self._pool)
        self._beat = self._redis.register_script(_BEAT)
        self._connected = self._redis.register_script(_CONNECTED)
        self._reap = self._redis.register_script(_REAP)
        self._changes: dict[str, bool] = {}  # member → connected here, not yet written
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._failing = False
        self.beats = 0  # for tests and the logs: heartbeats written

    @property
    def alive_key(self) -> str:
        return f"{PREFIX}alive:{self.instance_id}"

    @property
    def members_key(self) -> str:
        return f"{PREFIX}members:{self.instance_id}"

    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="presence-redis")

    async def stop_beating(self) -> None:
        """Stop writing, leaving this instance's record to expire as a dead one's would (tests: an instance dies)."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    async def close(self) -> None:
        """Shutting down: the record is left to expire, so members who do not reconnect elsewhere are held for the
        grace period from then by whichever instance notices (a shutdown is nobody going away, here or there)."""
        await self.stop_beating()
        await self._redis.aclose()
        await self._pool.aclose()

    # --- Liveness --------------------------------------------------------------------------------------------------

    def arrived(self, user_id: str) -> None:
        self._changes[user_id] = True
        self._wake.set()

    def left(self, user_id: str) -> None:
        self._changes[user_id] = False
        self._wake.set()

    async def connected(self, user_ids: Sequence[str]) -> set[str]:
        here = set(self._local_users())
        found = {u for u in user_ids if u in here}
        ask = [u for u in dict.fromkeys(user_ids) if u not in found]
        if not ask:
            return found
        try:
            age, flags = cast(tuple[int, list[int]], await self._connected([INSTANCES, BORN], [PREFIX, *ask]))
        except (RedisError, OSError) as exc:
            raise SharedStateUnavailable(f"presence: {exc}") from exc
        if age < 0 or age < self.settle_s:
            raise SharedStateUnavailable("presence: the shared state is being rebuilt (Redis restarted)")
        return found | {u for u, flag in zip(ask, flags, strict=True) if flag}

    async def vanished(self) -> set[str]:
        try:
            gone = cast(list[bytes], await self._reap([INSTANCES], [PREFIX]))
        except (RedisError, OSError) as exc:
            raise SharedStateUnavailable(f"presence: {exc}") from exc
        users = {g.decode() for g in gone}
        if users:
            log.info("presence: %d member(s) of instances that stopped answering are connected nowhere", len(users))
        return users

    # --- the writer ------------------------------------------------------------------------------------------------

    async def beat(self) -> None:
        """Write the whole record now: alive for ``ttl_s``, and every member connected here."""
        self._changes.clear()
        members = sorted(set(self._local_users()))
        keys = [INSTANCES, BORN, self.alive_key, self.members_key]
        await self._beat(keys, [self.instance_id, int(self.ttl_s * 1000), *members])
        self.beats += 1

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        while True:
            stop_if_cancelled()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_beat - loop.time())):
                    await self._wake.wait()
            self._wake.clear()
            try:
                if loop.time() >= next_beat:
                    await self.beat()
                    next_beat = loop.time() + self.beat_s
                elif self._changes:
                    await self._write_changes()
                if self._failing:
                    self._failing = False
                    log.warning("presence: Redis answers again")
            except (RedisError, OSError) as exc:
                if not self._failing:
                    log.warning("presence: writing to Redis failed (%s); retrying", exc)
                self._failing = True
                next_beat = loop.time() + RETRY_S  # then the whole record, not just what changed meanwhile

    async def _write_changes(self) -> None:
        changes, self._changes = self._changes, {}
        came = [u for u, here in changes.items() if here]
        went = [u for u, here in changes.items() if not here]
        async with self._redis.pipeline(transaction=True) as pipe:
            for start in range(0, len(came), CHUNK):
                pipe.sadd(self.members_key, *came[start : start + CHUNK])
            for start in range(0, len(went), CHUNK):
                pipe.srem(self.members_key, *went[start : start + CHUNK])
            await pipe.execute()
