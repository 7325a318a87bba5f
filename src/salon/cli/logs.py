"""CLI layer: how ``salon serve`` logs — ``SALON_LOG_FORMAT=text`` (the default: one readable line per record, the
request id in brackets after the level when the record was written while serving one) or ``json``: one JSON object
per line with ``time``, ``level``, ``logger``, ``message``, ``request_id`` (the HTTP request's or WebSocket op's,
app/request_ids.py; null outside one) and ``exception`` (the traceback, when there is one), for a log shipper to
read without parsing prose. In JSON mode uvicorn's own logging setup is not used (its loggers go through the same
handler) and its access log is replaced by the app's (web/observe.py), which knows the request id and logs the
route's template rather than the raw path."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from salon.app.request_ids import current_request_id

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s%(request_id_part)s %(name)s: %(message)s"


def _request_id(record: logging.LogRecord) -> str | None:
    # Read when the record is formatted, which a StreamHandler does at once, in the task that logged it.
    given = getattr(record, "request_id", None)
    return given if isinstance(given, str) and given else current_request_id()


class TextFormatter(logging.Formatter):
    """``TEXT_FORMAT``: ``... INFO [3f2a9c01d4e5b6a7] salon.app.rooms: ...``; no brackets outside a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        request_id = _request_id(record)
        record.request_id_part = f" [{request_id}]" if request_id else ""
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: LogFormat, stream: Any = None) -> logging.Handler:
    """One handler on the root logger, in the chosen format (replacing any earlier one); the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Janus request, long polls included
    return handler


def uvicorn_log_options(log_format: LogFormat) -> dict[str, Any]:
    """uvicorn.run's logging arguments: its own setup for text; none (ours, above) and no access log for JSON."""
    if log_format == "json":
        return {"log_config": None, "access_log": False}
    return {}
