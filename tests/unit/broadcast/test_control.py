"""``salon.broadcast.control``: the control API over a fake transport — its token, routes, bodies and answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest

from salon.broadcast.control import ControlProtocol
from salon.broadcast.node import Node
from salon.domain.audience_chunks import parse_policy
from tests.support.broadcast import FakeLoop, FakeTransport, split_head

TOKEN = "t0ken"


@pytest.fixture
def node() -> Node:
    return Node(
        cast(asyncio.AbstractEventLoop, FakeLoop()),
        name="w0",
        policy=parse_policy("inf:20"),
        max_listeners=5,
        max_buffer_bytes=1000,
        allow_origin="*",
    )


async def call(
    node: Node, method: str, path: str, body: object = None, *, token: str = TOKEN, raw: bytes | None = None
) -> tuple[int, Any]:
    headers = f"Host: n\r\nAuthorization: Bearer {token}\r\n"
    data = b""
    if raw is not None or body is not None:
        data = raw if raw is not None else json.dumps(body).encode()
        headers += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    protocol, transport = ControlProtocol(node, TOKEN), FakeTransport()
    protocol.connection_made(cast(asyncio.Transport, transport))
    protocol.data_received(f"{method} {path} HTTP/1.1\r\n{headers}\r\n".encode() + data)
    assert transport.closed
    protocol.connection_lost(None)
    head, answer = split_head(bytes(transport.data))
    return int(head.split(b" ")[1]), json.loads(answer)


async def test_every_call_needs_the_token(node: Node) -> None:
    for token in ["", "wrong", TOKEN + "x"]:
        status, body = await call(node, "GET", "/v1/stats", token=token)
        assert (status, body["code"]) == (401, "not_authenticated")


async def test_put_registers_a_room_and_stats_show_it(node: Node) -> None:
    answer = await call(node, "PUT", "/v1/rooms/r1", {"ssrc": 4294967295})
    assert answer == (200, {"room_id": "r1", "ssrc": 4294967295, "srtp": False})
    status, stats = await call(node, "GET", "/v1/stats")
    assert status == 200
    assert stats["rooms"] == {
        "r1": {
            "listeners": 0, "ssrc": 4294967295, "packets_in": 0, "chunks_out": 0, "dropped_slow": 0,
            "srtp": False, "srtp_failed": 0,
        }
    }  # fmt: skip


async def test_an_ssrc_feeds_one_room(node: Node) -> None:
    await call(node, "PUT", "/v1/rooms/r1", {"ssrc": 5})
    status, body = await call(node, "PUT", "/v1/rooms/r2", {"ssrc": 5})
    assert (status, body["code"]) == (409, "conflict")


async def test_delete_and_cut_answer_counts_and_are_idempotent(node: Node) -> None:
    await call(node, "PUT", "/v1/rooms/r1", {"ssrc": 5})
    node.open_stream(node.rooms["r1"], "u1", cast(asyncio.Transport, FakeTransport()))
    assert await call(node, "POST", "/v1/rooms/r1/cut", {"user_ids": ["u1", "u2"], "reason": "removed"}) == (
        200,
        {"cut": 1},
    )
    node.open_stream(node.rooms["r1"], "u3", cast(asyncio.Transport, FakeTransport()))
    assert await call(node, "DELETE", "/v1/rooms/r1?reason=removed") == (200, {"room_id": "r1", "ended": 1})
    assert await call(node, "DELETE", "/v1/rooms/r1") == (200, {"room_id": "r1", "ended": 0})
    assert await call(node, "POST", "/v1/rooms/r1/cut", {"user_ids": [], "reason": "removed"}) == (200, {"cut": 0})


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("GET", "/v1/nothing", None, (404, "not_found")),
        ("GET", "/v1/rooms/r1/other", None, (404, "not_found")),
        ("POST", "/v1/stats", None, (405, "not_allowed")),
        ("GET", "/v1/rooms/r1", None, (405, "not_allowed")),
        ("PUT", "/v1/rooms/bad%20id", {"ssrc": 1}, (400, "invalid_input")),
        ("PUT", "/v1/rooms/r1", {"ssrc": 0}, (400, "invalid_input")),
        ("PUT", "/v1/rooms/r1", {"ssrc": 2**32}, (400, "invalid_input")),
        ("PUT", "/v1/rooms/r1", {"ssrc": True}, (400, "invalid_input")),
        ("PUT", "/v1/rooms/r1", {"ssrc": "5"}, (400, "invalid_input")),
        ("PUT", "/v1/rooms/r1", {"ssrc": 1, "extra": 1}, (400, "invalid_input")),
        ("PUT", "/v1/rooms/r1", [1], (400, "invalid_input")),
        ("PUT", "/v1/rooms/r1", None, (415, "unsupported_media")),
        ("POST", "/v1/rooms/r1/cut", {"user_ids": "u1", "reason": "removed"}, (400, "invalid_input")),
        ("POST", "/v1/rooms/r1/cut", {"user_ids": ["a b"], "reason": "removed"}, (400, "invalid_input")),
        ("POST", "/v1/rooms/r1/cut", {"user_ids": ["u1"] * 10001, "reason": "removed"}, (400, "invalid_input")),
        ("POST", "/v1/rooms/r1/cut", {"user_ids": ["u1"], "reason": "too_slow"}, (400, "invalid_input")),
        ("POST", "/v1/rooms/r1/cut", {"user_ids": ["u1"], "reason": 3}, (400, "invalid_input")),
        ("DELETE", "/v1/rooms/r1?reason=replaced", None, (400, "invalid_input")),
        ("DELETE", "/v1/rooms/r1?why=x", None, (400, "invalid_input")),
        ("DELETE", "/v1/rooms/r1", {"reason": "removed"}, (400, "invalid_input")),
    ],
)
async def test_bad_calls_are_refused_in_the_error_shape(
    node: Node, method: str, path: str, body: object, expected: tuple[int, str]
) -> None:
    status, answer = await call(node, method, path, body)
    assert (status, answer["code"]) == expected
    assert set(answer) == {"code", "message", "data"}


async def test_a_body_that_is_not_json_is_refused(node: Node) -> None:
    status, answer = await call(node, "PUT", "/v1/rooms/r1", raw=b"{nope")
    assert (status, answer["message"]) == (400, "The body is not valid JSON.")
