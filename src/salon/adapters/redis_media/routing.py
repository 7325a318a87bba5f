"""Adapters layer: the media port of one instance among several — every call of a room runs on the instance that
holds the room's lease (``lease``), here or over Redis (``rpc``).

Each instance wraps its own media adapter (``local``: Janus) in a ``RoutedMedia``. A call for a room:
* held here: runs on ``local``;
* held by another live instance: is sent to it, and its result (or refusal) comes back. Every call, the
  per-connection ones too (``open_listen``, ``answer_listen``, ``add_candidate``...): the holder then keeps every
  handle of the room, as a single instance does;
* held by nobody: this instance takes the lease, and unless the call is ``create_room`` (a new room) it first
  rebuilds the room's media from the database (``rebuild``: the app's ``rebuild_room``, which also tells the room's
  followers to reconnect their media) — the room's previous driver died (its lease expired) or never was.
* held by an instance that is gone (no subscriber on its channel): the call waits for its lease to expire (at most
  ``ttl_s``) and takes the room over, within ``rpc_timeout_s``; past that, ``MediaUnavailable``.

The holder renews its leases every ``ttl_s / 3``; a lease found taken by another instance (this one stalled past its
TTL) is dropped. ``destroy_room`` releases the lease on the holder; ``destroy_room(restarting=True)`` (this instance
stopping) only acts on rooms held here, so that the next call elsewhere takes them over.
Why this shape: docs/ARCHITECTURE.md, "Several instances: who drives a room's media".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from redis.exceptions import RedisError

from salon.adapters.cancellation import stop_if_cancelled
from salon.adapters.redis_media import codec
from salon.adapters.redis_media.calls import ROOM_OPS, RoomCalls
from salon.adapters.redis_media.lease import Leases
from salon.adapters.redis_media.rpc import InstanceGone, Transport
from salon.app.media_health import MediaHealth, ReportsHealth
from salon.app.ports import (
    MediaEvent,
    MediaPort,
    MediaUnavailable,
)

log = logging.getLogger(__name__)

LEASE_TTL_S = 5.0
RPC_TIMEOUT_S = 15.0  # past the Janus adapter's own request timeout (10 s): its refusal comes back, not ours
RETRY_S = 0.05  # between two looks at a lease that is about to change hands

Rebuild = Callable[[str], Awaitable[bool]]
LiveRooms = Callable[[], Awaitable[list[str]]]

# The room whose media this task is rebuilding: the rebuild's own calls run here without waiting for the room.
_rebuilding: ContextVar[str | None] = ContextVar("rebuilding", default=None)


class RoutedMedia(RoomCalls):
    def __init__(
        self,
        local: MediaPort,
        leases: Leases,
        transport: Transport,
        *,
        ttl_s: float = LEASE_TTL_S,
        rpc_timeout_s: float = RPC_TIMEOUT_S,
    ) -> None:
        self.local = local
        self.leases = leases
        self.transport = transport
        self.me = transport.me
        self.ttl_s = ttl_s
        self.rpc_timeout_s = rpc_timeout_s
        self.held: set[str] = set()  # rooms whose lease this instance holds, their media built here
        self._taking: set[str] = set()  # taken, being rebuilt (renewed too; calls wait for the room's lock)
        self._locks: dict[str, asyncio.Lock] = {}
        self._tracks: dict[str, dict[str, str]] = {}  # the last per-speaker tracks of rooms held elsewhere
        self._rebuild: Rebuild | None = None
        self._live_rooms: LiveRooms | None = None
        self._orphans: set[str] = set()  # live rooms nobody held at the last look
        self._leaving = False  # this instance is stopping: it hands its rooms over and takes none by itself
        self._tasks: list[asyncio.Task[None]] = []
        # For the logs and tests.
        self.forwarded = 0
        self.served = 0
        self.taken_over = 0
        self.lost = 0

    # --- life ----------------------------------------------------------------------------------------------------

    async def start(self, rebuild: Rebuild, live_rooms: LiveRooms | None = None) -> None:
        """Serve the other instances' calls for rooms held here, and renew the leases; ``rebuild`` re-creates a
        room taken over (False: the room is not live). With ``live_rooms`` (the database's), also look every
        ``ttl_s`` for live rooms nobody holds (``watch``), so a dead instance's rooms come back without waiting
        for a call."""
        self._rebuild = rebuild
        self._live_rooms = live_rooms
        await self.transport.start(self._serve)
        self._tasks.append(asyncio.create_task(self._renew_loop(), name="media-leases"))
        if live_rooms is not None:
            self._tasks.append(asyncio.create_task(self._watch_loop(), name="media-orphans"))

    async def stop(self, *, release: bool = True) -> None:
        """Stop serving and renewing; ``release``: end the leases still held (a graceful stop: the next call
        elsewhere takes those rooms over at once). Without it the leases expire after ``ttl_s``, as a dead
        instance's do."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if release:
            for room_id in sorted(self.held):
                with contextlib.suppress(RedisError, OSError):
                    await self.leases.release(room_id, self.me)
        self.held.clear()
        await self.transport.stop()

    async def _renew_loop(self) -> None:
        while True:
            stop_if_cancelled()
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.renew()
            except Exception:  # a bug must not stop the renewals: the rooms would be taken over while driven here
                log.exception("media routing: renewing the leases failed")

    async def renew(self) -> None:
        """Extend every lease held here; drop those another instance holds now."""
        rooms = sorted(self.held | self._taking)
        try:
            kept = await self.leases.renew_many(rooms, self.me, self._ttl_ms)
        except (RedisError, OSError) as exc:  # nobody else can take them while Redis is away either
            log.warning("media routing: renewing %d leases failed (%s)", len(rooms), exc)
            return
        for room_id, ok in zip(rooms, kept, strict=True):
            if not ok and room_id in self.held:
                self.held.discard(room_id)
                self.lost += 1
                log.warning("media routing: room %s is driven by another instance now (this one was late)", room_id)

    async def _watch_loop(self) -> None:
        while True:
            stop_if_cancelled()
            await asyncio.sleep(self.ttl_s)
            try:
                await self.watch()
            except Exception:  # the database or Redis away: the next look, or the room's next call, takes it
                log.exception("media routing: looking for rooms nobody drives failed")

    async def watch(self) -> None:
        """Take over the live rooms that nobody held at the last look and still nobody holds (twice: a room just
        opened is taken by its ``create_room`` in between), rebuilding each; end the media of rooms held here that
        are no longer live (ended by a process that does not drive media: ``salon room end``)."""
        assert self._live_rooms is not None
        if self._leaving:
            return
        held_before = set(self.held)  # taken before the read: a room missing from it has ended
        live = await self._live_rooms()
        for room_id in sorted(held_before & self.held - set(live)):  # ended where its holder was not told (console)
            log.info("media routing: room %s ended elsewhere; its media goes", room_id)
            await self._here("destroy_room", room_id, [room_id], {})
        rooms = [r for r in live if r not in self.held and r not in self._taking]
        holders = await self.leases.holders(rooms)
        orphans = {room_id for room_id, holder in zip(rooms, holders, strict=True) if holder is None}
        for room_id in sorted(orphans & self._orphans):
            try:
                await self._holder(room_id, "watch")
            except MediaUnavailable as exc:
                log.warning("media routing: room %s not taken over: %s", room_id, exc)
        self._orphans = orphans - self.held

    @property
    def _ttl_ms(self) -> int:
        return int(self.ttl_s * 1000)

    # --- which instance drives a room ----------------------------------------------------------------------------

    def _lock(self, room_id: str) -> asyncio.Lock:
        return self._locks.setdefault(room_id, asyncio.Lock())

    async def _holder(self, room_id: str, op: str) -> str | None:
        """None when the room is driven here (held, or taken now: rebuilt first unless the call makes it); the
        holder's id otherwise. ``destroy_room`` takes no lease: a room nobody drives has no media to end."""
        if room_id in self.held or _rebuilding.get() == room_id:
            return None
        try:
            async with self._lock(room_id):
                if room_id in self.held:
                    return None
                holder = await self.leases.holder(room_id)
                if holder == self.me:  # taken again by a renewal after Redis came back empty
                    self.held.add(room_id)
                    return None
                if holder is not None or op == "destroy_room":
                    return holder
                if not await self.leases.acquire(room_id, self.me, self._ttl_ms):
                    return await self.leases.holder(room_id) or self.me  # lost the race: ask again (loop)
                await self._take(room_id, rebuild=op != "create_room")
                return None
        except (RedisError, OSError) as exc:
            raise MediaUnavailable(f"which instance drives room {room_id} is unknown: Redis is away ({exc})") from None

    async def _take(self, room_id: str, *, rebuild: bool) -> None:
        if not rebuild:
            self.held.add(room_id)
            return
        assert self._rebuild is not None, "RoutedMedia.start() first"
        self._taking.add(room_id)
        token = _rebuilding.set(room_id)
        try:
            live = await self._rebuild(room_id)
        except BaseException:
            await self.leases.release(room_id, self.me)
            raise
        finally:
            _rebuilding.reset(token)
            self._taking.discard(room_id)
        if not live:  # it ended meanwhile: nothing to drive
            await self.leases.release(room_id, self.me)
            return
        self.held.add(room_id)
        self.taken_over += 1
        log.info("media routing: room %s taken over (no live instance held it)", room_id)

    async def claim(self, room_ids: list[str]) -> list[str]:
        """``SharesRooms``: of these live rooms, those held here and those nobody holds (taken now, not rebuilt:
        the caller re-creates them). Redis away: none (the next call for each room takes it)."""
        mine: list[str] = []
        try:
            for room_id in room_ids:
                async with self._lock(room_id):
                    if room_id not in self.held:
                        holder = await self.leases.holder(room_id)
                        if holder != self.me and (
                            holder is not None or not await self.leases.acquire(room_id, self.me, self._ttl_ms)
                        ):
                            continue
                        self.held.add(room_id)
                    mine.append(room_id)
        except (RedisError, OSError) as exc:
            log.warning("media routing: could not claim rooms (%s); their next call takes them", exc)
        return mine

    # --- carrying a call -----------------------------------------------------------------------------------------

    async def _call(self, room_id: str, op: str, *args: Any, **kwargs: Any) -> object:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.rpc_timeout_s
        while True:
            holder = await self._holder(room_id, op)
            if holder is None:
                return await self._here(op, room_id, list(args), kwargs)
            left = deadline - loop.time()
            if left <= 0:
                raise MediaUnavailable(f"room {room_id}'s media instance {holder} did not free it in time")
            if holder == self.me:  # a race lost on taking it: look again
                await asyncio.sleep(RETRY_S)
                continue
            body = {"op": op, "room": room_id, "a": codec.encode_args(list(args)), "kw": kwargs}
            try:
                self.forwarded += 1
                reply = await self.transport.request(holder, body, left)
            except InstanceGone:  # dead: its lease expires within ttl_s, then this instance takes the room
                await asyncio.sleep(min(RETRY_S, left))
                continue
            except TimeoutError:
                raise MediaUnavailable(
                    f"room {room_id}'s media instance did not answer within {self.rpc_timeout_s:g} s"
                ) from None
            except (RedisError, OSError) as exc:
                raise MediaUnavailable(f"room {room_id}'s media instance is unreachable: {exc}") from None
            if reply.get("error") == codec.NOT_HOLDER:
                await asyncio.sleep(min(RETRY_S, left))
                continue
            if "error" in reply:
                raise codec.refusal(reply)
            if "tracks" in reply:
                self._tracks[room_id] = {str(k): str(v) for k, v in reply["tracks"].items()}
            return reply.get("ok")

    async def _here(self, op: str, room_id: str, args: list[Any], kwargs: dict[str, Any]) -> object:
        result: object = await getattr(self.local, op)(*args, **kwargs)
        if op == "destroy_room":
            self.held.discard(room_id)
            self._tracks.pop(room_id, None)
            lock = self._locks.get(room_id)
            if lock is not None and not lock.locked():
                del self._locks[room_id]  # else a room's lock outlives it (one per room this instance ever saw)
            with contextlib.suppress(RedisError, OSError):  # else it expires within ttl_s
                await self.leases.release(room_id, self.me)
        return result

    async def _serve(self, body: dict[str, Any]) -> dict[str, Any]:
        """Another instance's call for a room held here."""
        op, room_id = str(body["op"]), str(body["room"])
        if op not in ROOM_OPS:
            return {"error": "unavailable", "message": f"unknown media call {op!r}"}
        if room_id not in self.held:
            return {"error": codec.NOT_HOLDER}
        self.served += 1
        try:
            result = await self._here(op, room_id, codec.decode_args(body["a"]), dict(body.get("kw", {})))
        except codec.REFUSALS as exc:
            return codec.error_reply(exc)
        reply: dict[str, Any] = {"ok": codec.encode_result(result)}
        if op == "open_speaker_mix":  # the asker's app reads them next, synchronously (app/media.py)
            reply["tracks"] = self.local.speaker_tracks(room_id)
        return reply

    # --- MediaPort -----------------------------------------------------------------------------------------------

    async def create_room(self, room_id: str) -> None:
        await self._call(room_id, "create_room", room_id)

    async def destroy_room(self, room_id: str, *, restarting: bool = False) -> None:
        if restarting:  # this instance is stopping: only its own rooms, handed over by releasing their leases
            self._leaving = True
            if room_id in self.held:
                await self._here("destroy_room", room_id, [room_id], {"restarting": True})
            return
        await self._call(room_id, "destroy_room", room_id)

    def speaker_tracks(self, room_id: str) -> dict[str, str]:
        """Held here: the local adapter's; held elsewhere: as its last ``open_speaker_mix`` reply said (the app
        reads them right after that call; their changes are signalled by the holder's own app)."""
        if room_id in self.held:
            return self.local.speaker_tracks(room_id)
        return dict(self._tracks.get(room_id, {}))

    async def reconnect(self) -> None:
        await self.local.reconnect()

    def events(self) -> AsyncIterator[MediaEvent]:
        """This instance's media adapter's events: those of the rooms it drives (their speaking lights and resets
        are published by this instance's app, on the shared bus)."""
        return self.local.events()

    async def health(self) -> MediaHealth:
        """This instance's own media plane."""
        if isinstance(self.local, ReportsHealth):
            return await self.local.health()
        return MediaHealth([], [])
