"""Web layer: the request id and the request metrics, as one pure ASGI middleware.

Every HTTP request and WebSocket connection gets a request id (app/request_ids.py): the incoming ``X-Request-ID``
when a proxy or client sent a plain one, else a new one. It is set in a context variable for the whole of the
request, so every log record written meanwhile (use cases, the Janus adapter during a media call, tasks spawned)
carries it, and an HTTP response echoes it in ``X-Request-ID``. Each HTTP request is then counted under its route's
template and status, with its duration (web/metrics.py). With ``access_log`` (JSON logs: uvicorn's own access log is
off then, since it runs outside the request and knows no id) one line per request is logged, by template too: a
raw path may hold an invite code.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salon.app.request_ids import REQUEST_ID, accepted_request_id
from salon.web.metrics import UNMATCHED, SalonMetrics, method_label

log = logging.getLogger("salon.access")

REQUEST_ID_HEADER = "X-Request-ID"


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (``/api/v1/rooms/{room_id}``; a mount's ``/static/{path}``).

    A route of an included router knows its own template without the router's prefix (``/rooms/{room_id}``), so
    the prefix is read off the front of the request's path: the shortest one whose rest the route matches. The
    prefixes Salon includes routers under are fixed text (``/api/v1``), never templates themselves."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED
    if isinstance(route, Mount):
        return f"{template}/{{path}}"
    regex = getattr(route, "path_regex", None)
    path = scope.get("path", "")
    if regex is None or not isinstance(path, str) or regex.match(path):
        return template
    for cut in (i for i, char in enumerate(path) if char == "/" and i > 0):
        if regex.match(path[cut:]):
            return path[:cut] + template
    return template


class Observe:
    def __init__(self, app: ASGIApp, *, metrics: SalonMetrics, access_log: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = REQUEST_ID.set(request_id)
        if scope["type"] == "http":
            await self._http(scope, receive, send, request_id)
        else:
            await self.app(scope, receive, send)
        # Reset only after a normal end. After an exception the id stays set: the server logs the exception that
        # ServerErrorMiddleware (inside this one) re-raised after its 500, and that line must name the request. (A
        # server runs each request in a task of its own, so the id goes no further.)
        REQUEST_ID.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        status = 500  # what the client gets if the app raises before answering (ServerErrorMiddleware's answer)
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            method = method_label(scope["method"])
            self.metrics.observe(method, route, status, seconds)
            if self.access_log:
                log.info("%s %s %d %.1f ms", method, route, status, seconds * 1000)
