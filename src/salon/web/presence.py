"""Web layer: presence — a member whose last live connection closed, and who does not come back within a grace
period, leaves the rooms they were in (a closed tab, a phone that lost the network for good), as "leave quietly"
would. A reconnection inside the grace (a reload, a network blip: the web app reconnects in under 10 s) cancels it,
so nobody loses their place on stage for a glitch. Members who never open a live connection (API scripts) are never
affected. Server shutdown does not count as leaving: rooms survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from salon.app.ports import Clock
from salon.app.system import SystemClock

log = logging.getLogger(__name__)


class Departures:
    """The timers of members who went away; ``leave(user_id)`` runs when one runs out. They run on ``clock``
    (the system's by default), so tests move time on instead of waiting for it."""

    def __init__(self, grace_s: float, leave: Callable[[str], Awaitable[object]], clock: Clock | None = None) -> None:
        self.grace_s = grace_s
        self._leave = leave
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def gone(self, user_id: str) -> None:
        """The member's last connection closed: start their grace period."""
        if self._closed or user_id in self._timers:
            return
        self._timers[user_id] = asyncio.create_task(self._after_grace(user_id), name=f"departure-{user_id}")

    def back(self, user_id: str) -> None:
        """The member connected again: they stay."""
        timer = self._timers.pop(user_id, None)
        if timer is not None:
            timer.cancel()

    def pending(self) -> set[str]:
        return set(self._timers)

    async def close(self) -> None:
        """Shutting down: nobody leaves because the server stops."""
        self._closed = True
        timers = list(self._timers.values())
        self._timers.clear()
        for timer in timers:
            timer.cancel()
        for timer in timers:
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _after_grace(self, user_id: str) -> None:
        await self._clock.sleep(self.grace_s)
        self._timers.pop(user_id, None)
        try:
            await self._leave(user_id)
        except Exception:
            log.exception("could not take %s out of their rooms after they went away", user_id)
