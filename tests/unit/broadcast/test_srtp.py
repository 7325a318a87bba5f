"""The node's SRTP input: a room registered with a key (through the control API) hears only what authenticates with
that key — encrypted here with libsrtp as Janus does — and counts what it drops; a room without a key keeps plain
RTP."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, cast

import pytest
from pylibsrtp import Policy, Session

from salon.broadcast.node import Node
from salon.broadcast.srtp import inbound
from salon.domain.audience_chunks import parse_policy
from salon.domain.forward_keys import DEFAULT_SUITE, KEY_BYTES, ForwardKey
from tests.support.broadcast import FakeLoop, FakeTransport, opus_payload, rtp_packet
from tests.unit.broadcast.test_control import call

SSRC = 0xA1B2C3
KEY = bytes(range(KEY_BYTES))
OTHER_KEY = bytes(range(1, KEY_BYTES + 1))
SUITE_32 = "AES_CM_128_HMAC_SHA1_32"


def sender(key: bytes, suite: str = DEFAULT_SUITE) -> Session:
    profile = Policy.SRTP_PROFILE_AES128_CM_SHA1_80 if suite == DEFAULT_SUITE else Policy.SRTP_PROFILE_AES128_CM_SHA1_32
    return Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))


def plain(seq: int, ssrc: int = SSRC) -> bytes:
    return rtp_packet(seq, seq * 960, ssrc, opus_payload(seq))


def srtp_body(key: bytes, suite: str = DEFAULT_SUITE) -> dict[str, Any]:
    return {"ssrc": SSRC, "srtp": {"suite": suite, "key": base64.b64encode(key).decode()}}


@pytest.fixture
def node() -> Node:
    # One packet a chunk: every packet the room takes reaches its listener at once.
    return Node(
        cast(asyncio.AbstractEventLoop, FakeLoop()), name="w0", policy=parse_policy("inf:20"),
        max_listeners=5, max_buffer_bytes=100_000, allow_origin="*",
    )  # fmt: skip


def heard(transport: FakeTransport) -> list[int]:
    return [r.seq for r in transport.records() if r.kind == 0]


async def stats(node: Node) -> dict[str, Any]:
    status, body = await call(node, "GET", "/v1/stats")
    assert status == 200
    return cast(dict[str, Any], body)


@pytest.mark.parametrize("suite", [DEFAULT_SUITE, SUITE_32])
async def test_srtp_with_the_rooms_key_feeds_the_room(node: Node, suite: str) -> None:
    assert await call(node, "PUT", "/v1/rooms/r1", srtp_body(KEY, suite)) == (
        200, {"room_id": "r1", "ssrc": SSRC, "srtp": True},
    )  # fmt: skip
    transport = FakeTransport()
    node.open_stream(node.rooms["r1"], "u1", cast(asyncio.Transport, transport))
    janus = sender(KEY, suite)
    for seq in range(1, 6):
        node.datagram_received(janus.protect(plain(seq)))
    assert heard(transport) == [1, 2, 3, 4, 5]
    assert [r.payload for r in transport.records() if r.kind == 0] == [opus_payload(s) for s in range(1, 6)]
    numbers = await stats(node)
    assert numbers["rooms"]["r1"]["srtp"] is True
    assert (numbers["srtp_failed"], numbers["rooms"]["r1"]["packets_in"]) == (0, 5)


async def test_tampered_plain_wrong_key_and_replayed_packets_are_dropped_and_counted(node: Node) -> None:
    await call(node, "PUT", "/v1/rooms/r1", srtp_body(KEY))
    transport = FakeTransport()
    node.open_stream(node.rooms["r1"], "u1", cast(asyncio.Transport, transport))
    janus = sender(KEY)
    first = janus.protect(plain(1))
    node.datagram_received(first)
    tampered = bytearray(janus.protect(plain(2)))
    tampered[20] ^= 0x01  # one bit of the encrypted payload
    node.datagram_received(bytes(tampered))
    node.datagram_received(plain(3))  # plain RTP with the room's SSRC: someone who guessed it
    node.datagram_received(sender(OTHER_KEY).protect(plain(4)))
    node.datagram_received(first)  # replayed
    node.datagram_received(first[:11])  # too short to name a room: not SRTP's business
    node.datagram_received(janus.protect(plain(5)))
    assert heard(transport) == [1, 5]
    numbers = await stats(node)
    assert numbers["srtp_failed"] == 4
    assert numbers["rooms"]["r1"]["srtp_failed"] == 4
    assert numbers["rooms"]["r1"]["packets_in"] == 2
    assert numbers["rejected_packets"] == 1  # the truncated datagram


async def test_a_new_put_replaces_the_key_and_starts_a_fresh_session(node: Node) -> None:
    await call(node, "PUT", "/v1/rooms/r1", srtp_body(KEY))
    transport = FakeTransport()
    node.open_stream(node.rooms["r1"], "u1", cast(asyncio.Transport, transport))
    old = sender(KEY)
    for seq in range(1000, 1003):
        node.datagram_received(old.protect(plain(seq)))
    # Janus re-created the forward (a restart): a new key, and a sequence that starts again far below.
    await call(node, "PUT", "/v1/rooms/r1", srtp_body(OTHER_KEY))
    node.datagram_received(old.protect(plain(1003)))  # the old key no longer feeds the room
    new = sender(OTHER_KEY)
    for seq in range(1, 3):
        node.datagram_received(new.protect(plain(seq)))
    assert heard(transport) == [1000, 1001, 1002, 1, 2]
    assert (await stats(node))["srtp_failed"] == 1


async def test_a_room_without_a_key_keeps_plain_rtp_and_a_key_can_be_dropped(node: Node) -> None:
    await call(node, "PUT", "/v1/rooms/r1", {"ssrc": SSRC})
    transport = FakeTransport()
    node.open_stream(node.rooms["r1"], "u1", cast(asyncio.Transport, transport))
    node.datagram_received(plain(1))
    await call(node, "PUT", "/v1/rooms/r1", srtp_body(KEY))
    node.datagram_received(plain(2))
    await call(node, "PUT", "/v1/rooms/r1", {"ssrc": SSRC})
    node.datagram_received(plain(3))
    assert heard(transport) == [1, 3]
    assert (await stats(node))["rooms"]["r1"]["srtp"] is False


def test_an_oversized_datagram_does_not_authenticate() -> None:
    unprotect = inbound(ForwardKey(DEFAULT_SUITE, KEY))
    assert unprotect(plain(1) + bytes(2000)) is None
    assert unprotect(sender(KEY).protect(plain(1))) == plain(1)


@pytest.mark.parametrize(
    "srtp",
    [
        None,
        "key",
        {"suite": DEFAULT_SUITE},
        {"suite": "AES_256_CM_HMAC_SHA1_80", "key": base64.b64encode(KEY).decode()},
        {"suite": DEFAULT_SUITE, "key": base64.b64encode(KEY[:29]).decode()},
        {"suite": DEFAULT_SUITE, "key": "not base64!"},
    ],
)
async def test_a_malformed_key_is_refused_and_registers_nothing(node: Node, srtp: object) -> None:
    status, answer = await call(node, "PUT", "/v1/rooms/r1", {"ssrc": SSRC, "srtp": srtp})
    assert (status, answer["code"]) == (400, "invalid_input")
    assert answer["message"].startswith("srtp")
    assert set(answer) == {"code", "message", "data"}
    assert "r1" not in node.rooms
