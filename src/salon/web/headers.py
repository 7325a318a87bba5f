"""Web layer: the headers every HTTP response carries, whatever produced it (a route, an error handler, the static
files, Starlette's own 500 or FastAPI's body limit): ``X-Content-Type-Options: nosniff`` always, and
``Strict-Transport-Security`` when the public URL is https (never over plain http, which a browser would ignore
anyway and a mistaken setting could not undo for a year).

A pure ASGI middleware, not ``BaseHTTPMiddleware``: it only adds headers to the ``http.response.start`` message, so
streamed bodies pass through untouched and WebSocket connections (with their ``salon.frames`` extension) are not
touched at all. :class:`SalonAPI` puts it outside FastAPI's own middlewares, which ``add_middleware`` cannot, and the
request id and metrics middleware (web/observe.py) just inside it, so a 500 carries the id its log line names."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salon.web.metrics import SalonMetrics
from salon.web.observe import Observe

HSTS = "max-age=31536000"  # a year; no includeSubDomains or preload: the operator's other hosts are theirs to decide


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = {"X-Content-Type-Options": "nosniff"}
        if hsts:
            self.headers["Strict-Transport-Security"] = HSTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SalonAPI(FastAPI):
    """FastAPI with :class:`SecurityHeaders` and then :class:`Observe` as the outermost layers, so that the responses
    of the middlewares FastAPI puts first (``ServerErrorMiddleware``'s 500, the body limit's 413) carry the headers,
    the request id included, and are counted with the status the client got."""

    def __init__(self, *, hsts: bool, metrics: SalonMetrics, access_log: bool, **kwargs: Any) -> None:
        self.hsts = hsts
        self.metrics = metrics
        self.access_log = access_log
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        observed = Observe(super().build_middleware_stack(), metrics=self.metrics, access_log=self.access_log)
        return SecurityHeaders(observed, hsts=self.hsts)
