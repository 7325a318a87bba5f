"""Web layer: presence on this instance — the timers of the rule in docs/ARCHITECTURE.md ("Presence"), whose state
is in the database (``app/presence.py``).

The hub says when a member's last live connection closes (``gone``) and when one opens (``back``); departures are
written in batches, each with the time it happened. A sweep every few seconds takes out of their rooms the members
whose deadline passed and who have no live connection here. The first thing the timers do is the start-up rule:
everyone in a room is held for the grace period from the start, as if their connection had closed then, so members
who never come back after a restart do not stay in the audience until the room ends. A shutdown is nobody going
away: ``close`` drops departures not yet written, and the next start applies the start-up rule anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from salon.app import presence, stage_invites
from salon.app.services import Services

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 5.0  # at most; a shorter grace period is swept four times per period


class Departures:
    """Departures waiting to be written, and the sweeper. ``connected(user_id)``: whether the member has a live
    connection to this instance. The timers run on the services' clock, so tests move time on instead of waiting."""

    def __init__(self, services: Services, connected: Callable[[str], bool]) -> None:
        self._services = services
        self._connected = connected
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
        self._gone[user_id] = self._clock.now()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="presence-departures")

    def back(self, user_id: str) -> None:
        """The member connected again; while connected, they stay in every room of theirs."""
        self._gone.pop(user_id, None)

    def pending(self) -> set[str]:
        """Members whose departure is not written yet."""
        return set(self._gone)

    async def settle(self) -> None:
        """Until the departures known so far are written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    async def close(self) -> None:
        """Shutting down: nobody leaves because the server stops."""
        self._closed = True
        self._gone.clear()
        for task in (self._writer, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

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
                await presence.sweep(self._services, self._connected)
            except Exception:
                log.exception("presence sweep failed; retrying next tick")
            try:  # the same timer lets unanswered invitations up lapse (app/stage_invites.py)
                await stage_invites.expire_lapsed(self._services)
            except Exception:
                log.exception("stage invitation sweep failed; retrying next tick")
