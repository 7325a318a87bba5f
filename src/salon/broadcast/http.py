"""Broadcast layer: the little HTTP/1.1 the node speaks — a strict request reader on asyncio Protocols, and the
responses it writes.

Both of the node's ports serve one request per connection: a listener's stream, a refusal, a control call or a
health check, then the connection closes (or, for a stream, stays a stream). So there is no keep-alive, no
pipelining and no request body in chunked encoding to handle, and whatever does not fit the narrow shape below is
refused with the one error shape ``{code, message, data}`` instead of being guessed at: the request head within
8 KiB and 5 s, ASCII request line, ``HTTP/1.1``, a ``Host`` header, tokens for header names, no control
characters, a body only with a ``Content-Length`` within the port's limit.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import parse_qsl

MAX_HEAD_BYTES = 8192
MAX_HEADERS = 64
MAX_TARGET_CHARS = 2048
MAX_QUERY_FIELDS = 16
HEAD_TIMEOUT_S = 5.0  # the whole request, head and body: a client that trickles bytes holds no slot for long

REASONS = {
    200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}  # fmt: skip
_REQUEST_LINE = re.compile(r"([A-Z]{1,16}) ([!-~]+) HTTP/(\d\.\d)")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # visible ASCII, space, tab and obs-text: no controls
_SINGLE = frozenset({"host", "content-length", "authorization", "content-type", "origin"})

Headers = Iterable[tuple[str, str]]


class HttpError(Exception):
    """A request the node refuses: the status, and the error shape's ``code`` and ``message``."""

    def __init__(self, status: int, code: str, message: str, headers: Headers = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = str(code)  # an ErrorCode is a str: its value
        self.message = message
        self.headers = tuple(headers)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # as sent, not percent-decoded: the node's paths hold ids only
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes = field(default=b"")


def _bad(message: str) -> HttpError:
    return HttpError(400, "invalid_input", message)


def parse_head(head: bytes) -> Request:
    """The request whose head (up to, without, the blank line) is ``head``; :class:`HttpError` if it is not one."""
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    if "\n" in text.replace("\r\n", "") or "\r" in text.replace("\r\n", ""):
        raise _bad("Lines must end with CRLF.")
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise _bad("Malformed request line.")
    method, target, version = match.groups()
    if version != "1.1":
        raise HttpError(505, "invalid_input", "Only HTTP/1.1 is served.")
    if not target.startswith("/") or len(target) > MAX_TARGET_CHARS or "#" in target:
        raise _bad("Malformed request target.")
    path, _, query_text = target.partition("?")
    try:
        pairs = parse_qsl(query_text, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError as exc:
        raise _bad("Too many query parameters.") from exc
    query = dict(pairs)
    if len(query) != len(pairs):
        raise _bad("A query parameter is repeated.")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, "invalid_input", "Too many header fields.")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or _TOKEN.fullmatch(name) is None or _FIELD_VALUE.fullmatch(value) is None:
            raise _bad("Malformed header field.")
        name = name.lower()
        value = value.strip(" \t")
        if name in headers:
            if name in _SINGLE:
                raise _bad(f"The {name} header is repeated.")
            value = f"{headers[name]}, {value}"
        headers[name] = value
    if "host" not in headers:
        raise _bad("The Host header is missing.")
    if "transfer-encoding" in headers:
        raise _bad("Request bodies must come with a Content-Length, not a Transfer-Encoding.")
    return Request(method, path, query, headers)


def content_length(request: Request, limit: int) -> int:
    """How many body bytes follow the head: at most ``limit`` (413 past it)."""
    text = request.headers.get("content-length", "0")
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise _bad("Malformed Content-Length.")
    length = int(text)
    if length > limit:
        raise HttpError(413, "payload_too_large", f"The body may hold at most {limit} bytes.")
    return length


def response(status: int, headers: Headers, body: bytes = b"") -> bytes:
    """A whole response that ends the connection: status line, headers, ``Content-Length`` and the body."""
    lines = [f"HTTP/1.1 {status} {REASONS[status]}", *(f"{name}: {value}" for name, value in headers)]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def json_response(status: int, value: object, headers: Headers = ()) -> bytes:
    body = json.dumps(value, separators=(",", ":")).encode()
    return response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *headers], body)


def error_response(status: int, code: str, message: str, headers: Headers = (), data: object = None) -> bytes:
    return json_response(status, {"code": code, "message": message, "data": data or {}}, headers)


class RequestProtocol(asyncio.Protocol):
    """Reads one request (head, then a body of at most ``max_body`` bytes) within :data:`HEAD_TIMEOUT_S`, then
    hands it to :meth:`handle`. A malformed or late request is answered with the error shape and the connection
    closed. Bytes after the request are ignored: neither port serves a second request on a connection."""

    max_body = 0
    extra_headers: tuple[tuple[str, str], ...] = ()  # on every error this protocol writes (e.g. CORS)

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._request: Request | None = None
        self._body_length = 0
        self._done = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        self._timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT_S, self._too_late)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return
        self._buffer += data
        try:
            request = self._complete_request()
        except HttpError as error:
            self._finish()
            self.refuse(error)
            return
        if request is not None:
            self._finish()
            self.handle(request)

    def _complete_request(self) -> Request | None:
        if self._request is None:
            end = self._buffer.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES + 4)
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise HttpError(431, "invalid_input", f"The request head may hold at most {MAX_HEAD_BYTES} bytes.")
                return None
            self._request = parse_head(bytes(self._buffer[:end]))
            self._body_length = content_length(self._request, self.max_body)
            del self._buffer[: end + 4]
        if len(self._buffer) < self._body_length:
            return None
        body = bytes(self._buffer[: self._body_length])
        request = self._request
        return Request(request.method, request.path, request.query, request.headers, body)

    def _finish(self) -> None:
        self._done = True
        self._buffer = bytearray()
        if self._timer is not None:
            self._timer.cancel()

    def _too_late(self) -> None:
        if not self._done:
            self._finish()
            self.refuse(HttpError(408, "invalid_input", f"The request must arrive within {HEAD_TIMEOUT_S:g} s."))

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def eof_received(self) -> bool:
        return False  # a client that stops sending is done: close our side too

    def handle(self, request: Request) -> None:
        raise NotImplementedError

    def refuse(self, error: HttpError) -> None:
        """Write ``error`` in the error shape and close the connection."""
        headers = (*self.extra_headers, *error.headers)
        self.send_and_close(error_response(error.status, error.code, error.message, headers))

    def send_and_close(self, data: bytes) -> None:
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(data)
            self.transport.close()
