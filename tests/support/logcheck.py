"""Test support: catching what the server logs as a fault (ERROR and above, or any record with a traceback).

Records are caught where every logger hands them to its handlers (``Logger.callHandlers``), from every thread, so
neither a logger that does not propagate nor a logging configuration applied meanwhile hides one: uvicorn's own,
applied whenever a test server starts, replaces the handlers of its loggers and stops them short of the root.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def describe(record: logging.LogRecord) -> str:
    text = f"{record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def is_fault(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR or (record.levelno >= logging.WARNING and bool(record.exc_info))


@contextmanager
def server_faults_logged() -> Iterator[list[str]]:
    """The faults logged while the block runs (a list, filled as they come)."""
    faults: list[str] = []
    lock = threading.Lock()
    call_handlers = logging.Logger.callHandlers

    def collect_then_handle(logger: logging.Logger, record: logging.LogRecord) -> None:
        if is_fault(record):
            with lock:
                faults.append(describe(record))
        call_handlers(logger, record)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(logging.Logger, "callHandlers", collect_then_handle)
        yield faults
