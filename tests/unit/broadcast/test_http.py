"""``salon.broadcast.http``: the strict request reader — what it accepts, what it refuses with which status, and
the one-request-per-connection protocol (limits, the request deadline, the error shape)."""

from __future__ import annotations

import asyncio
import json
from typing import cast

import pytest

from salon.broadcast import http
from salon.broadcast.http import HttpError, Request, RequestProtocol, content_length, parse_head, response
from tests.support.broadcast import FakeTransport, split_head


def test_a_request_head_reads() -> None:
    request = parse_head(
        b"GET /v1/stream/r1?ticket=a.b&x=%41 HTTP/1.1\r\nHost: n\r\nX-Many: 1\r\nx-many:  2 \r\nAccept:"
    )
    assert request == Request(
        "GET", "/v1/stream/r1", {"ticket": "a.b", "x": "A"}, {"host": "n", "x-many": "1, 2", "accept": ""}
    )


def status_of(head: bytes) -> tuple[int, str]:
    with pytest.raises(HttpError) as exc:
        parse_head(head)
    return exc.value.status, exc.value.message


@pytest.mark.parametrize(
    ("head", "status", "complaint"),
    [
        (b"GET / HTTP/1.1\nHost: n", 400, "CRLF"),
        (b"GET / HTTP/1.1\r\nHost: n\rX: y", 400, "CRLF"),
        (b"get / HTTP/1.1\r\nHost: n", 400, "request line"),
        (b"GET  / HTTP/1.1\r\nHost: n", 400, "request line"),
        (b"GET /\xff HTTP/1.1\r\nHost: n", 400, "request line"),
        (b"GET / HTTP/1.0\r\nHost: n", 505, "HTTP/1.1"),
        (b"GET / HTTP/2.0\r\nHost: n", 505, "HTTP/1.1"),
        (b"GET http://x/ HTTP/1.1\r\nHost: n", 400, "target"),
        (b"GET /#f HTTP/1.1\r\nHost: n", 400, "target"),
        (b"GET /" + b"a" * 2048 + b" HTTP/1.1\r\nHost: n", 400, "target"),
        (b"GET /?" + b"&".join(b"k%d=v" % i for i in range(17)) + b" HTTP/1.1\r\nHost: n", 400, "Too many query"),
        (b"GET /?t=1&t=2 HTTP/1.1\r\nHost: n", 400, "repeated"),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 64 + b"Host: n", 431, "Too many header"),
        (b"GET / HTTP/1.1\r\nHost: n\r\n folded", 400, "Malformed header"),
        (b"GET / HTTP/1.1\r\nHost : n", 400, "Malformed header"),
        (b"GET / HTTP/1.1\r\nHost: n\r\nX: a\x00b", 400, "Malformed header"),
        (b"GET / HTTP/1.1\r\nHost: n\r\nno colon", 400, "Malformed header"),
        (b"GET / HTTP/1.1\r\nHost: n\r\nHost: m", 400, "host header is repeated"),
        (b"GET / HTTP/1.1\r\nX: y", 400, "Host header is missing"),
        (b"POST / HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked", 400, "Content-Length"),
    ],
)
def test_malformed_requests_are_refused(head: bytes, status: int, complaint: str) -> None:
    got_status, message = status_of(head)
    assert got_status == status
    assert complaint in message


@pytest.mark.parametrize(("value", "status"), [("12x", 400), ("-1", 400), ("1" * 13, 400), ("101", 413)])
def test_a_bad_or_large_content_length_is_refused(value: str, status: int) -> None:
    request = parse_head(b"PUT / HTTP/1.1\r\nHost: n\r\nContent-Length: " + value.encode())
    with pytest.raises(HttpError) as exc:
        content_length(request, 100)
    assert exc.value.status == status
    assert content_length(parse_head(b"GET / HTTP/1.1\r\nHost: n"), 0) == 0


def test_a_response_states_its_length_and_closes() -> None:
    assert response(200, [("X-A", "b")], b"ok") == (
        b"HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    )


class Echo(RequestProtocol):
    """Answers each request with its method, path and body, so the tests see what the reader handed over."""

    max_body = 64
    extra_headers = (("X-Port", "test"),)

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []

    def handle(self, request: Request) -> None:
        self.requests.append(request)
        self.send_and_close(response(200, [], request.method.encode() + b" " + request.body))


def connect() -> tuple[Echo, FakeTransport]:
    protocol, transport = Echo(), FakeTransport()
    protocol.connection_made(cast(asyncio.Transport, transport))
    return protocol, transport


def error_of(transport: FakeTransport) -> tuple[bytes, dict[str, object]]:
    head, body = split_head(bytes(transport.data))
    assert b"\r\nContent-Type: application/json\r\n" in head
    assert b"\r\nX-Port: test\r\n" in head  # the port's own headers (CORS on the listener port) on every error
    assert transport.closed
    return head.split(b"\r\n")[0], json.loads(body)


async def test_a_request_in_pieces_with_its_body_is_handled_once() -> None:
    protocol, transport = connect()
    for piece in [b"PUT /x HTTP/1.1\r\nHo", b"st: n\r\nContent-Length: 5\r\n\r", b"\nab", b"cde", b"GET / again"]:
        protocol.data_received(piece)
    assert [(r.method, r.path, r.body) for r in protocol.requests] == [("PUT", "/x", b"abcde")]
    assert transport.data.endswith(b"\r\n\r\nPUT abcde")
    assert transport.closed
    protocol.connection_lost(None)


async def test_a_malformed_request_gets_the_error_shape_and_the_connection_closes() -> None:
    protocol, transport = connect()
    protocol.data_received(b"GET / HTTP/1.1\r\n\r\n")
    assert error_of(transport) == (
        b"HTTP/1.1 400 Bad Request",
        {"code": "invalid_input", "message": "The Host header is missing.", "data": {}},
    )
    assert protocol.requests == []


async def test_a_head_past_8_kib_is_refused_without_waiting_for_its_end() -> None:
    protocol, transport = connect()
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: n\r\nX: " + b"a" * 8200)
    assert error_of(transport)[0] == b"HTTP/1.1 431 Request Header Fields Too Large"


async def test_a_body_past_the_limit_is_refused() -> None:
    protocol, transport = connect()
    protocol.data_received(b"PUT / HTTP/1.1\r\nHost: n\r\nContent-Length: 65\r\n\r\n")
    status, body = error_of(transport)
    assert status == b"HTTP/1.1 413 Content Too Large"
    assert body["code"] == "payload_too_large"


async def test_a_request_that_does_not_arrive_in_time_gets_408(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "HEAD_TIMEOUT_S", 0.05)
    protocol, transport = connect()
    closed = asyncio.get_running_loop().create_future()
    transport.close = lambda: closed.set_result(None)  # type: ignore[method-assign]
    protocol.data_received(b"GET / HTTP/1.1\r\n")
    await asyncio.wait_for(closed, 5)
    head, body = split_head(bytes(transport.data))
    assert head.startswith(b"HTTP/1.1 408 Request Timeout")
    assert json.loads(body)["code"] == "invalid_input"
    protocol.data_received(b"Host: n\r\n\r\n")  # too late: ignored
    assert protocol.requests == []


async def test_nothing_is_written_to_a_connection_already_closing() -> None:
    protocol, transport = connect()
    transport.closed = True
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: n\r\n\r\n")
    assert transport.data == b""


async def test_a_client_that_stops_sending_is_closed() -> None:
    protocol, _ = connect()
    assert protocol.eof_received() is False


async def test_the_base_protocol_has_no_handler() -> None:
    protocol = RequestProtocol()
    protocol.connection_made(cast(asyncio.Transport, FakeTransport()))
    with pytest.raises(NotImplementedError):
        protocol.data_received(b"GET / HTTP/1.1\r\nHost: n\r\n\r\n")
    protocol.connection_lost(None)
