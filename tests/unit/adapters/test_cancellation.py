"""A background loop whose cancellation something swallowed still stops (adapters/cancellation.py)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from salon.adapters.cancellation import stop_if_cancelled


async def test_a_loop_whose_cancellation_was_swallowed_still_stops() -> None:
    turns = 0

    async def loop() -> None:
        nonlocal turns
        while True:
            stop_if_cancelled()
            turns += 1
            with contextlib.suppress(asyncio.CancelledError):  # as a client library's own timeouts can do
                await asyncio.sleep(0.01)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.05)
    task.cancel()
    async with asyncio.timeout(2):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert turns >= 2  # every turn before the cancel went through the check without raising
