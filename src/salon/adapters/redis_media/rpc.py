"""Adapters layer: requests from one instance to another over Redis pub/sub — a channel per instance, a
correlation id per request, the reply on the asker's channel.

Publishing a request tells how many subscribers got it: none means the instance is gone (``InstanceGone``: its
channel died with its connection), which the asker learns at once instead of waiting for a timeout. A reply that does
not come within the asker's timeout raises ``TimeoutError``. Requests are served each in a task of its own, so a
slow media call never holds the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from salon.adapters.cancellation import stop_if_cancelled

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "salon:media:"
RETRY_MIN_S = 0.1
RETRY_MAX_S = 2.0
START_WAIT_S = 5.0
POLL_S = 5.0
CONNECT_TIMEOUT_S = 2.0
HEALTH_CHECK_S = 10

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class InstanceGone(Exception):
    """Nobody listens on that instance's channel: it stopped or died (its leases expire within their TTL)."""


class Transport(Protocol):
    """Requests between instances (Redis pub/sub here; in memory in the unit tests)."""

    me: str  # this instance's id: its leases hold it, its requests are answered to it

    async def start(self, handler: Handler) -> None:
        """Serve requests to ``me`` with ``handler`` (its reply goes back to the asker)."""
        ...

    async def stop(self) -> None: ...

    async def request(self, to: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:  # noqa: ASYNC109 - the reply's deadline, part of the request
        """Ask instance ``to``; its reply. ``InstanceGone``, ``TimeoutError``, or ``RedisError``/``OSError``."""
        ...


class RedisRpc:
    """``Transport`` on Redis pub/sub. Owns ``redis``: ``stop`` closes it."""

    def __init__(self, redis: Redis, *, me: str | None = None, prefix: str = CHANNEL_PREFIX) -> None:
        self.redis = redis
        self.me = me or secrets.token_hex(8)
        self.prefix = prefix
        self._handler: Handler | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._serving: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.connected = False

    def channel(self, instance: str) -> str:
        return self.prefix + instance

    async def start(self, handler: Handler) -> None:
        self._handler = handler
        self._task = asyncio.create_task(self._subscribe_loop(), name="media-rpc")
        try:
            async with asyncio.timeout(START_WAIT_S):
                await self._subscribed.wait()
        except TimeoutError:
            log.warning("media routing: Redis not reachable yet; rooms held elsewhere cannot be reached until it is")

    async def stop(self) -> None:
        self.connected = False
        tasks = [t for t in (self._task, *self._serving) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        await self.redis.aclose()

    async def request(self, to: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        corr = secrets.token_hex(8)
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[corr] = reply
        try:
            message = orjson.dumps({"k": "req", "id": corr, "from": self.me, "b": body})
            if not await self.redis.publish(self.channel(to), message):
                raise InstanceGone(to)
            async with asyncio.timeout(timeout):
                return await reply
        finally:
            self._pending.pop(corr, None)

    async def _subscribe_loop(self) -> None:
        delay, lost = RETRY_MIN_S, False
        while True:
            stop_if_cancelled()
            pubsub: PubSub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel(self.me))
                self.connected, lost, delay = True, False, RETRY_MIN_S
                self._subscribed.set()
                while True:
                    stop_if_cancelled()
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_S)
                    if message is not None and message["type"] == "message":
                        self._receive(message["data"])
            except (RedisError, OSError) as exc:
                if not lost:
                    log.warning("media routing: lost Redis (%s); retrying", exc)
                self.connected, lost = False, True
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    def _receive(self, raw: bytes) -> None:
        try:
            message = orjson.loads(raw)
            if message["k"] == "rep":
                waiting = self._pending.get(message["id"])
                if waiting is not None and not waiting.done():  # else: its asker gave up (timeout)
                    waiting.set_result(message["b"])
            elif message["k"] == "req":
                task = asyncio.create_task(self._answer(message), name="media-rpc-request")
                self._serving.add(task)
                task.add_done_callback(self._serving.discard)
        except Exception:  # one bad message (another version's, a bug) must not stop the subscriber
            log.exception("media routing: could not handle a message")

    async def _answer(self, message: dict[str, Any]) -> None:
        assert self._handler is not None
        try:
            reply = await self._handler(message["b"])
        except Exception as exc:
            log.exception("media routing: a request failed here")
            reply = {"error": "unavailable", "message": f"the room's media instance failed: {type(exc).__name__}"}
        body = orjson.dumps({"k": "rep", "id": message["id"], "b": reply})
        try:
            await self.redis.publish(self.channel(str(message["from"])), body)
        except (RedisError, OSError) as exc:
            log.warning("media routing: could not answer a request (%s); the asker times out", exc)


def connect(url: str) -> Redis:
    """The client of the leases and the requests. No retries inside it: a call fails at once as ``MediaUnavailable``
    (the member retries), and the subscriber sees every loss."""
    return Redis.from_url(
        url,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=HEALTH_CHECK_S,
    )
