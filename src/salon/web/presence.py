"""Web layer: presence on this instance — the timers of the rule in docs/ARCHITECTURE.md ("Presence"), whose state
is in the database (``app/presence.py``).

The hub says when a member's last live connection closes (``gone``) and when one opens (``back``); departures are
written in batches, each with the time it happened. A sweep every few seconds takes out of their rooms the members
whose deadline passed and who have no live connection here — or, with several instances, to any running instance
(``adapters/redis_state/presence.py``); members of an instance that died are held for the grace period from when it
is found dead. The first thing the timers do is the start-up rule:
everyone in a room is held for the grace period from the start, as if their connection had closed then, so members
who never come back after a restart do not stay in the audience until the room ends. A shutdown is nobody going
away: ``close`` drops departures not yet written, and the next start applies the start-up rule anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from salon.app import presence, stage_invites
from salon.app.ports import Liveness, SharedStateUnavailable
from salon.app.services import Services

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 5.0  # at most; a shorter grace period is swept four times per period


class LocalLiveness:
    """``Liveness`` of one instance: a live connection is one to this instance's hub (``is_connected``)."""

    def __init__(self, is_connected: Callable[[str], bool]) -> None:
        self._is_connected = is_connected

    def arrived(self, user_id: str) -> None:
        pass

    def left(self, user_id: str) -> None:
        pass

    async def connected(self, user_ids: Sequence[str]) -> set[str]:
        return {u for u in user_ids if self._is_connected(u)}

    async def vanished(self) -> set[str]:
        return set()  # no other instance to lose

    async def close(self) -> None:
        pass


class Departures:
    """Departures waiting to be written, and the sweeper. ``liveness``: who has a live connection (here, or to any
    instance with Redis: ``adapters/redis_state/presence.py``). The timers run on the services' clock, so tests move
    time on instead of waiting."""

    def __init__(self, services: Services, liveness: Liveness) -> None:
        self._services = services
        self.liveness = liveness
        self._clock = services.clock
        self.sweep_every_s = min(SWEEP_EVERY_S, services.settings.presence_grace_s / 4)
        self._gone: dict[str, datetime] = {}
        self._writer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._started_at = services.clock.now()
        self._closed = False

    def start(self) -> None:
        """Apply the start-up rule, then sweep for as long as the app runs."""
        if self._sweeper is None and not self._closed:
            self._sweeper = asyncio.create_task(self._run(), name="presence-sweeper")

    def gone(self, user_id: str) -> None:
        """The member's last connection closed: their rooms are held for the grace period from now."""
        if self._closed:
            return
        self.liveness.left(user_id)
        self._gone[user_id] = self._clock.now()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="presence-departures")

    def back(self, user_id: str) -> None:
        """The member connected again; while connected, they stay in every room of theirs."""
        self._gone.pop(user_id, None)
        if not self._closed:
            self.liveness.arrived(user_id)

    def pending(self) -> set[str]:
        """Members whose departure is not written yet."""
        return set(self._gone)

    async def settle(self) -> None:
        """Until the departures known so far are written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    async def close(self) -> None:
        """Shutting down: nobody leaves because the server stops."""
        if self._closed:
            return
        self._closed = True
        self._gone.clear()
        for task in (self._writer, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.liveness.close()

    async def sweep_once(self) -> list[tuple[str, str]]:
        """Members of instances found dead are held for the grace period from now; then the sweep."""
        vanished = await self.liveness.vanished()
        if vanished:
            await presence.record_departures(self._services, dict.fromkeys(vanished, self._clock.now()))
        return await presence.sweep(self._services, self.liveness.connected)

    async def _write(self) -> None:
        while self._gone:
            batch, self._gone = self._gone, {}
            try:
                await presence.record_departures(self._services, batch)
            except Exception:
                log.exception("could not record that %d member(s) went away", len(batch))

    async def _run(self) -> None:
        try:
            cut = await presence.after_start(self._services, self._started_at)
            if cut:
                log.info("presence: %d member(s) of live rooms are held for the grace period after the start", cut)
        except Exception:
            log.exception("could not apply the start-up presence rule")
        while True:
            await self._clock.sleep(self.sweep_every_s)
            await self.settle()
            try:
                await self.sweep_once()
            except SharedStateUnavailable as exc:  # nobody is taken out on a guess
                log.info("presence sweep skipped: %s", exc)
            except Exception:
                log.exception("presence sweep failed; retrying next tick")
            try:  # the same timer lets unanswered invitations up lapse (app/stage_invites.py)
                await stage_invites.expire_lapsed(self._services)
            except Exception:
                log.exception("stage invitation sweep failed; retrying next tick")
