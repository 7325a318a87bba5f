"""App layer: the request id — one per HTTP request and per WebSocket connection and op, carried by a context
variable so that every log record written while serving it (a use case's, the Janus adapter's during a media call,
a task it spawned) names it without being handed it. The web layer sets it (web/observe.py, web/ws.py); the log
formatter reads it (cli/logs.py), and the Janus adapter puts it in each request's ``transaction``, which Janus echoes
in its answers, events and logs (adapters/janus/api.py). A task outliving the request it was started in (a long
poll, a reconnect loop) is started in ``without_request_id()``, so that it does not go on naming that request."""

from __future__ import annotations

import re
import secrets
from contextvars import Context, ContextVar, copy_context

# An incoming X-Request-ID is kept when it is this plain (a proxy's or load balancer's id); anything else is
# replaced, since the id goes into every log line and response header as it is.
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

REQUEST_ID: ContextVar[str | None] = ContextVar("salon_request_id", default=None)


def new_request_id() -> str:
    return secrets.token_hex(8)


def accepted_request_id(incoming: str | None) -> str:
    """The id for a request: the client's or proxy's ``X-Request-ID`` when it is plain enough, else a new one."""
    if incoming is not None and _VALID.fullmatch(incoming):
        return incoming
    return new_request_id()


def current_request_id() -> str | None:
    return REQUEST_ID.get()


def without_request_id() -> Context:
    """A copy of the current context with no request id: for ``asyncio.create_task(..., context=...)``."""
    context = copy_context()
    context.run(REQUEST_ID.set, None)
    return context
