"""Adapters layer: the Janus session that :class:`salon.adapters.janus.media.JanusMedia` works through, kept alive.

A :class:`Link` is one session with its two control handles (AudioBridge, Streaming) and a task pumping the
session's events to the media adapter. :class:`LinkKeeper` holds the current one: when its session is lost (Janus
restarted, or stopped answering the long poll) it tells the adapter once (``on_lost``) and looks for a new session
in the background, with backoff, until one opens or it is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from salon.adapters.janus.api import JanusError, JanusException, JanusSessionLost, JanusUnavailable, Subscription
from salon.adapters.janus.plugins import AUDIOBRIDGE, STREAMING
from salon.adapters.janus.transport import JanusEvent, JanusHandle, JanusSession, JanusTransport
from salon.app.request_ids import without_request_id

log = logging.getLogger(__name__)

RECONNECT_FIRST_S: Final = 0.2
RECONNECT_MAX_S: Final = 5.0


@dataclass(eq=False)
class Link:
    session: JanusSession
    bridge: JanusHandle  # control handles: rooms, forwarders, mute, kick
    streaming: JanusHandle
    events: Subscription  # every event of the session, read by the pump

    @property
    def alive(self) -> bool:
        return not self.session.closed


class LinkKeeper:
    """The current :class:`Link`, and a new one after it is lost. ``on_event`` runs for every event of the live
    link's session (synchronously, in order); ``on_lost`` once per lost link; ``on_connected`` after each new link
    is up, before ``reconnect`` returns."""

    def __init__(
        self,
        transport: JanusTransport,
        *,
        event_timeout: float,
        queue_size: int = 1000,
        on_event: Callable[[Link, JanusEvent], None],
        on_lost: Callable[[Link, JanusException | None], None],
        on_connected: Callable[[Link], Awaitable[None]],
    ) -> None:
        self.transport = transport
        self._event_timeout = event_timeout
        self._queue_size = queue_size
        self._dropped_before = 0  # events the pump lost on earlier links' subscriptions
        self._on_event = on_event
        self._on_lost = on_lost
        self._on_connected = on_connected
        self._link: Link | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    def current(self) -> Link | None:
        """The live link, or None while there is none (lost; not started; closed)."""
        link = self._link
        if link is not None and not link.alive:
            self._lost(link, link.session.lost)  # lost, and the pump has not run since
            return None
        return link

    @property
    def events_dropped(self) -> int:
        """Janus events lost since the start because the pump fell more than ``queue_size`` behind (every link's)."""
        link = self._link
        return self._dropped_before + (link.events.dropped if link is not None else 0)

    def require(self) -> Link:
        link = self.current()
        if link is None:
            raise JanusUnavailable("the media server is out of reach")
        return link

    async def start(self) -> None:
        """Open the first session (one attempt: ``JanusUnavailable`` if Janus does not answer)."""
        if self._link is None:
            await self._connect()

    async def reconnect(self, timeout: float) -> None:  # noqa: ASYNC109 - see JanusMedia.reconnect
        if self.closed:
            raise JanusUnavailable("the media adapter is closed")
        if self.current() is not None:
            return
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.create_task(
                self._reconnect_loop(None), name="janus-media-reconnect", context=without_request_id()
            )
        try:
            async with asyncio.timeout(timeout):
                # Shielded: the attempts go on after a caller gives up.
                await asyncio.shield(self._reconnecting)
        except TimeoutError:
            raise JanusUnavailable(f"Janus did not answer within {timeout:g} s") from None

    async def aclose(self) -> None:
        """Stop reconnecting and end the session in Janus (which ends its handles)."""
        self.closed = True
        tasks = [t for t in (self._reconnecting, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        link, self._link = self._link, None
        if link is not None:
            self._dropped_before += link.events.dropped
            await link.session.destroy()
        await self.transport.aclose()

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str, detached: bool = False) -> None:
        """Run a background task that ``aclose`` cancels; ``detached``: not as part of the request being served (a
        detach a request asked for still names it; the event pump, which outlives it, must not)."""
        task = asyncio.create_task(coro, name=name, context=without_request_id() if detached else None)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self) -> None:
        session = await self.transport.create_session(event_timeout=self._event_timeout, queue_size=self._queue_size)
        try:
            events = session.subscribe()  # before any handle exists: nothing is missed
            link = Link(session, await session.attach(AUDIOBRIDGE), await session.attach(STREAMING), events)
        except BaseException:
            await session.destroy()
            raise
        self._link = link
        self.spawn(self._pump(link, events), name=f"janus-media-events-{session.id}", detached=True)
        try:
            await self._on_connected(link)
        except JanusException as exc:
            # The link is up all the same: failing here would make the reconnect loop open a second session.
            log.warning("janus: after opening session %s: %s", session.id, exc)

    async def _pump(self, link: Link, events: Subscription) -> None:
        try:
            async for event in events:
                if link is not self._link:
                    return
                try:
                    self._on_event(link, event)
                except Exception:
                    log.exception("janus: failed to handle event %s", event.raw)
        except JanusException as exc:
            self._lost(link, exc)

    def _lost(self, link: Link, error: JanusException | None) -> None:
        if link is not self._link or self.closed:
            return
        log.warning("janus: media session %s lost: %s", link.session.id, error)
        self._link = None
        self._dropped_before += link.events.dropped
        self._on_lost(link, error)
        if self._reconnecting is None or self._reconnecting.done():
            loop = self._reconnect_loop(link.session.url)
            self._reconnecting = asyncio.create_task(loop, name="janus-media-reconnect", context=without_request_id())

    async def _reconnect_loop(self, abandoned: str | None) -> None:
        delay = RECONNECT_FIRST_S
        while not self.closed:
            try:
                if abandoned is not None:
                    # A session given up on after a network blip may live on in Janus, its participants seated
                    # until it times out: end it, so that their ids are free to join again.
                    with contextlib.suppress(JanusSessionLost, JanusError):
                        await self.transport.post(abandoned, {"janus": "destroy"})
                    abandoned = None
                await self._connect()
                log.info("janus: media session %s opened", self._link.session.id if self._link else "?")
                return
            except JanusException as exc:
                log.warning("janus: reconnecting failed (%s); next attempt in %.1f s", exc, delay)
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))  # noqa: S311 - jitter, not a secret
            delay = min(delay * 2, RECONNECT_MAX_S)
