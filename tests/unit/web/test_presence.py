"""The departure timers on their own: a grace period per member, cancelled by coming back, never run after the
server started shutting down, and a failing leave is logged rather than lost in a task."""

from __future__ import annotations

import logging

import pytest

from salon.app.fakes import FakeClock
from salon.web.presence import Departures

GRACE_S = 60.0


async def test_timers_run_out_or_are_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    left: list[str] = []

    async def leave(user_id: str) -> None:
        if user_id == "broken":
            raise RuntimeError("database down")
        left.append(user_id)

    clock = FakeClock()
    departures = Departures(GRACE_S, leave, clock)
    departures.gone("ann")
    departures.gone("ann")  # twice: one timer
    departures.gone("bob")
    departures.gone("broken")
    departures.back("bob")
    assert departures.pending() == {"ann", "broken"}
    with caplog.at_level(logging.ERROR):
        await clock.elapse(GRACE_S - 1)
        assert left == []
        await clock.elapse(1)
    assert left == ["ann"]
    assert departures.pending() == set()
    assert "broken" in caplog.text


async def test_nothing_runs_once_closed() -> None:
    left: list[str] = []

    async def leave(user_id: str) -> None:
        left.append(user_id)

    clock = FakeClock()
    departures = Departures(GRACE_S, leave, clock)
    departures.gone("ann")
    await departures.close()
    departures.gone("bob")
    await clock.elapse(GRACE_S * 3)
    assert left == []
    assert departures.pending() == set()
