"""Broadcast layer: the node's public port — ``GET /v1/stream/{room_id}?ticket=…`` opens a listener's stream;
``OPTIONS`` answers a CORS preflight and ``GET /healthz`` says the node is up. Every refusal is the error shape,
with the CORS header so a page can read it, and closes the connection."""

from __future__ import annotations

import time

from salon.broadcast.admission import Admission
from salon.broadcast.http import HttpError, Request, RequestProtocol, response
from salon.broadcast.node import Node, Stream
from salon.domain.errors import ErrorCode
from salon.domain.stream_tickets import FIELD_MAX_CHARS
from salon.domain.text import is_id

STREAM_PREFIX = "/v1/stream/"
ALLOWED_METHODS = "GET, OPTIONS"


def room_of(path: str) -> str | None:
    """The room id of a stream path; None for any other path. ``HttpError`` for a stream path with a bad id."""
    if not path.startswith(STREAM_PREFIX):
        return None
    room_id = path[len(STREAM_PREFIX) :]
    if len(room_id) > FIELD_MAX_CHARS or not is_id(room_id):
        raise HttpError(400, ErrorCode.INVALID_INPUT, "The room id in the path is malformed.")
    return room_id


class ListenerProtocol(RequestProtocol):
    """One connection to the public port: a request, then a stream or a refusal."""

    def __init__(self, node: Node, admission: Admission, allow_origin: str) -> None:
        super().__init__()
        self.node = node
        self.admission = admission
        self.allow_origin = allow_origin
        self.extra_headers = (("Access-Control-Allow-Origin", allow_origin),)
        self.stream: Stream | None = None

    def handle(self, request: Request) -> None:
        try:
            self._route(request)
        except HttpError as error:
            self.refuse(error)

    def _route(self, request: Request) -> None:
        room_id = room_of(request.path)
        if room_id is None and request.path != "/healthz":
            raise HttpError(404, ErrorCode.NOT_FOUND, "There is nothing at this path.")
        if request.method == "OPTIONS":
            preflight = [*self.extra_headers, ("Access-Control-Allow-Methods", ALLOWED_METHODS)]
            self.send_and_close(response(204, [*preflight, ("Access-Control-Max-Age", "600")]))
            return
        if request.method != "GET":
            allow = ("Allow", ALLOWED_METHODS)
            raise HttpError(405, ErrorCode.NOT_ALLOWED, f"{request.method} is not served here.", [allow])
        if room_id is None:
            self.send_and_close(response(200, [*self.extra_headers, ("Content-Type", "text/plain")], b"ok"))
            return
        room, ticket = self.admission.admit(room_id, request.query, now=time.time())
        assert self.transport is not None
        self.stream = self.node.open_stream(room, ticket.user, self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.stream is not None:
            self.node.stream_lost(self.stream)
