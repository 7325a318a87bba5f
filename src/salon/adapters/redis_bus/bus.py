"""Adapters layer: the ``EventBus`` for several instances — Redis pub/sub in front of each instance's own hub.

Every instance keeps its hub (``local``) for its own connections. Publishing delivers to the local hub at once (the
publisher's clients never wait on Redis, and keep working while it is away) and publishes one message on one
channel; every other instance's subscriber hands it to its hub. Room events go through a ``RoomSequencer`` on both
paths, so that each room's events reach the hub once and in ``seq`` order, a lost message being read back from the
database. The other kinds (signals, user events, closes, "leave room", "room opened") are at most once: signals are
passing states that the next one replaces, and a lost close is caught by each instance's session sweeper
(web/sweeper.py) within its interval.

When Redis goes away the subscriber logs it, counts it, retries every ``RETRY_MAX_S`` at most and, once subscribed
again, catches up every room it knows from the database. Publishing while Redis is away is skipped (the local hub
still delivers); the other instances catch up when they reconnect. Why pub/sub rather than streams:
docs/ARCHITECTURE.md, "Several instances: the event bus".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from salon.adapters.cancellation import stop_if_cancelled
from salon.adapters.redis_bus.sequencer import Fetch, RoomSequencer
from salon.app.ports import EventBus, RoomMessage

log = logging.getLogger(__name__)

CHANNEL = "salon:events"
RETRY_MIN_S = 0.1
RETRY_MAX_S = 2.0
CONNECT_TIMEOUT_S = 2.0
START_WAIT_S = 5.0  # how long start() waits for the first subscription before serving without it
POLL_S = 5.0  # the subscriber's read timeout: a health check (PING) goes out on a quiet connection
HEALTH_CHECK_S = 10


class RedisBus:
    """``EventBus`` across instances: ``local`` (this instance's hub) delivers, Redis carries between instances."""

    def __init__(self, local: EventBus, url: str, *, channel: str = CHANNEL) -> None:
        self.local = local
        self.url = url
        self.channel = channel
        self.origin = secrets.token_hex(8)  # this instance: its own messages come back from Redis and are skipped
        self.sequencer = RoomSequencer(local.publish_room)
        self._redis = _client(url)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        # For the metrics (web/metrics.py) and the logs.
        self.connected = False
        self.reconnects = 0
        self.publish_failures = 0
        self.publish_skipped = 0
        self.received = 0

    # --- life ----------------------------------------------------------------------------------------------------

    async def start(self, fetch: Fetch) -> None:
        """Subscribe (waiting up to ``START_WAIT_S``; the subscriber keeps trying after that) with ``fetch`` to
        read missed room events from the database."""
        self.sequencer.fetch = fetch
        self._task = asyncio.create_task(self._subscribe_loop(), name="redis-bus")
        try:
            async with asyncio.timeout(START_WAIT_S):
                await self._subscribed.wait()
        except TimeoutError:
            log.warning("event bus: Redis at %s not reachable yet; serving, and still trying", _safe(self.url))

    async def stop(self) -> None:
        self.connected = False  # what is published from now on (a shutdown's last events) stays here
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._redis.aclose()

    # --- EventBus ------------------------------------------------------------------------------------------------

    async def publish_room(self, messages: list[RoomMessage]) -> None:
        await self.sequencer.offer(messages)
        await self._send({"k": "room", "m": [[m.room_id, m.seq, m.name, m.data] for m in messages]})

    async def publish_user(self, user_id: str, name: str, data: dict[str, Any]) -> None:
        await self.local.publish_user(user_id, name, data)
        await self._send({"k": "user", "u": user_id, "n": name, "d": data})

    async def publish_signal(self, room_id: str, name: str, data: dict[str, Any]) -> None:
        await self.local.publish_signal(room_id, name, data)
        await self._send({"k": "signal", "r": room_id, "n": name, "d": data})

    async def room_opened(self, room_id: str) -> None:
        await self.local.room_opened(room_id)
        await self._send({"k": "opened", "r": room_id})

    async def close_sessions(self, token_hashes: list[str], reason: str) -> None:
        await self.local.close_sessions(token_hashes, reason)
        await self._send({"k": "close_sessions", "h": token_hashes, "why": reason})

    async def close_user(self, user_id: str, reason: str) -> None:
        await self.local.close_user(user_id, reason)
        await self._send({"k": "close_user", "u": user_id, "why": reason})

    async def leave_room(self, room_id: str, user_id: str, reason: str) -> None:
        await self.local.leave_room(room_id, user_id, reason)
        await self._send({"k": "leave_room", "r": room_id, "u": user_id, "why": reason})

    # --- Redis ---------------------------------------------------------------------------------------------------

    async def _send(self, body: dict[str, Any]) -> None:
        if not self.connected:  # the others catch up room events from the database when it is back
            self.publish_skipped += 1
            return
        body["o"] = self.origin
        try:
            await self._redis.publish(self.channel, orjson.dumps(body))
        except (RedisError, OSError) as exc:
            self.publish_failures += 1
            log.warning("event bus: publishing to Redis failed (%s); the other instances will catch up", exc)

    async def _subscribe_loop(self) -> None:
        delay = RETRY_MIN_S
        lost = False
        while True:
            stop_if_cancelled()
            pubsub: PubSub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self.connected = True
                if lost:
                    self.reconnects += 1
                    log.warning("event bus: Redis is back at %s; catching up from the database", _safe(self.url))
                    try:
                        await self.sequencer.catch_up()
                    except Exception:  # the database is away too: each room's next message fills its gap
                        log.exception("event bus: catching up from the database failed")
                lost, delay = False, RETRY_MIN_S
                self._subscribed.set()
                while True:
                    stop_if_cancelled()
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
                    if message is not None and message["type"] == "message":
                        await self._receive(message["data"])
            except (RedisError, OSError) as exc:
                if not lost:
                    log.warning("event bus: lost Redis at %s (%s); retrying", _safe(self.url), exc)
                self.connected, lost = False, True
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    async def _receive(self, raw: bytes) -> None:
        try:
            body = orjson.loads(raw)
            if body.get("o") == self.origin:
                return
            self.received += 1
            await self._dispatch(body)
        except (RedisError, OSError):
            raise
        except Exception:  # one bad message (another version's, a bug) must not stop the subscriber
            log.exception("event bus: could not handle a message")

    async def _dispatch(self, body: dict[str, Any]) -> None:
        kind = body["k"]
        if kind == "room":
            await self.sequencer.offer([RoomMessage(r, seq, name, data) for r, seq, name, data in body["m"]])
        elif kind == "user":
            await self.local.publish_user(body["u"], body["n"], body["d"])
        elif kind == "signal":
            await self.local.publish_signal(body["r"], body["n"], body["d"])
        elif kind == "opened":
            await self.local.room_opened(body["r"])
        elif kind == "close_sessions":
            await self.local.close_sessions(body["h"], body["why"])
        elif kind == "close_user":
            await self.local.close_user(body["u"], body["why"])
        elif kind == "leave_room":
            await self.local.leave_room(body["r"], body["u"], body["why"])
        else:
            log.warning("event bus: unknown message kind %r", kind)


def _client(url: str) -> Redis:
    # No retries inside the client: the subscriber sees every loss, so that it catches up after it.
    return Redis.from_url(
        url,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=HEALTH_CHECK_S,
    )


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
