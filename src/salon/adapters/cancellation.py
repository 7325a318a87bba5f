"""Adapters layer: the check each background loop of the Redis adapters makes every turn, so that ``stop()`` (cancel,
then wait for the task) ends.

A cancellation can be lost on the way: one that lands inside the Redis client's own timeouts comes out as a
``RedisError``/``TimeoutError`` (which the loops catch, to retry), and the task is left "cancelling" with nothing
left to raise. Seen in the media lease's renewals: a test's shutdown waited on them for ever, 1 run in ~10 under
load. The task still counts the request (``Task.cancelling()``), so the loop raises it again here.
"""

from __future__ import annotations

import asyncio


def stop_if_cancelled() -> None:
    """Raise ``CancelledError`` when this task was asked to stop, whatever swallowed the request since."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
