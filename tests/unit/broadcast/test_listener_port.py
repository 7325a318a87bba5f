"""``salon.broadcast.listener_port``: the public port's routes over a fake transport — health, CORS preflight,
methods, paths — and a stream that opens and leaves its room when its connection goes."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import cast

import pytest

from salon.broadcast.admission import Admission
from salon.broadcast.listener_port import ListenerProtocol
from salon.broadcast.node import Node
from salon.domain.audience_chunks import parse_policy
from salon.domain.stream_tickets import sign_ticket
from tests.support.broadcast import FakeLoop, FakeTransport, split_head

SECRET = "k" * 40
ORIGIN = "https://salon.example"


@pytest.fixture
def node() -> Node:
    node = Node(
        cast(asyncio.AbstractEventLoop, FakeLoop()),
        name="w0",
        policy=parse_policy("inf:20"),
        max_listeners=5,
        max_buffer_bytes=1000,
        allow_origin=ORIGIN,
    )
    node.put_room("r1", 1)
    return node


async def connect(node: Node, request: bytes) -> tuple[ListenerProtocol, FakeTransport]:
    protocol, transport = ListenerProtocol(node, Admission(SECRET, node), ORIGIN), FakeTransport()
    protocol.connection_made(cast(asyncio.Transport, transport))
    protocol.data_received(request)
    return protocol, transport


def answer(transport: FakeTransport) -> tuple[list[bytes], bytes]:
    head, body = split_head(bytes(transport.data))
    assert transport.closed
    return head.split(b"\r\n"), body


async def test_health(node: Node) -> None:
    _, transport = await connect(node, b"GET /healthz HTTP/1.1\r\nHost: n\r\n\r\n")
    lines, body = answer(transport)
    assert (lines[0], body) == (b"HTTP/1.1 200 OK", b"ok")


async def test_a_preflight_is_answered_with_cors(node: Node) -> None:
    _, transport = await connect(
        node, b"OPTIONS /v1/stream/r1 HTTP/1.1\r\nHost: n\r\nOrigin: " + ORIGIN.encode() + b"\r\n\r\n"
    )
    lines, _ = answer(transport)
    assert lines[0] == b"HTTP/1.1 204 No Content"
    assert b"Access-Control-Allow-Origin: " + ORIGIN.encode() in lines
    assert b"Access-Control-Allow-Methods: GET, OPTIONS" in lines


@pytest.mark.parametrize(
    ("request_line", "status", "code"),
    [
        (b"POST /v1/stream/r1 HTTP/1.1", b"405", "not_allowed"),
        (b"HEAD /healthz HTTP/1.1", b"405", "not_allowed"),
        (b"GET /v1/other HTTP/1.1", b"404", "not_found"),
        (b"GET /v1/stream/ HTTP/1.1", b"400", "invalid_input"),
        (b"GET /v1/stream/r%201 HTTP/1.1", b"400", "invalid_input"),
        (b"GET /v1/stream/r1/more HTTP/1.1", b"400", "invalid_input"),
        (b"GET /v1/stream/r1 HTTP/1.1", b"400", "invalid_input"),  # no ticket
    ],
)
async def test_refusals_carry_the_cors_header_and_the_error_shape(
    node: Node, request_line: bytes, status: bytes, code: str
) -> None:
    _, transport = await connect(node, request_line + b"\r\nHost: n\r\n\r\n")
    lines, body = answer(transport)
    assert lines[0].split(b" ")[1] == status
    assert b"Access-Control-Allow-Origin: " + ORIGIN.encode() in lines
    assert json.loads(body)["code"] == code


async def test_a_stream_opens_and_leaves_when_its_connection_goes(node: Node) -> None:
    text = sign_ticket(
        SECRET,
        room="r1",
        user="u1",
        conn="c",
        node="w0",
        expires_at=int(time.time()) + 30,
        nonce=secrets.token_urlsafe(16),
    )
    protocol, transport = await connect(node, f"GET /v1/stream/r1?ticket={text} HTTP/1.1\r\nHost: n\r\n\r\n".encode())
    assert transport.data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert not transport.closed
    assert [r.kind for r in transport.records()] == [2]
    assert list(node.rooms["r1"].streams) == ["u1"]
    protocol.connection_lost(None)
    assert (node.rooms["r1"].streams, node.listeners) == ({}, 0)
