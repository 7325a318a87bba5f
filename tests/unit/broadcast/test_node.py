"""``salon.broadcast.node``: rooms, streams and the fan-out, on a fake loop and fake transports — what each listener
is written, when chunks flush, and how streams end (replaced, cut, room ended, too slow, lost)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import cast

import pytest

from salon.broadcast.node import ABORT_AFTER_S, Node, Room, Stream
from salon.broadcast.rtp import RtpPacket
from salon.domain.audience_chunks import parse_policy
from tests.support.broadcast import FakeLoop, FakeTransport, Record, opus_payload

SSRC = 0x1234


def make_node(
    loop: FakeLoop, *, policy: str = "inf:60", max_listeners: int = 10, max_buffer: int = 1000, direct: bool = True
) -> tuple[Node, Room]:
    node = Node(
        cast(asyncio.AbstractEventLoop, loop),
        name="w0",
        policy=parse_policy(policy),
        max_listeners=max_listeners,
        max_buffer_bytes=max_buffer,
        allow_origin="https://salon.example",
        direct_writes=direct,
    )
    assert node.put_room("r1", SSRC)
    return node, node.rooms["r1"]


def listen(node: Node, room: Room, user: str, transport: FakeTransport | None = None) -> tuple[Stream, FakeTransport]:
    transport = transport or FakeTransport()
    return node.open_stream(room, user, cast(asyncio.Transport, transport)), transport


def packet(seq: int, *, ssrc: int = SSRC, pt: int = 111, payload: bytes | None = None) -> RtpPacket:
    return RtpPacket(pt, False, seq, seq * 960, ssrc, opus_payload(seq) if payload is None else payload)


def audio(transport: FakeTransport) -> list[tuple[int, int, bytes]]:
    return [(r.seq, r.timestamp, r.payload) for r in transport.records() if r.kind == 0]


def notices(transport: FakeTransport) -> list[str]:
    return [r.json()["code"] for r in transport.records() if r.kind == 1]


def expected(seqs: range) -> list[tuple[int, int, bytes]]:
    return [(s, s * 960, opus_payload(s)) for s in seqs]


@pytest.fixture
def loop() -> FakeLoop:
    return FakeLoop()


def test_a_stream_starts_with_the_head_and_the_hello(loop: FakeLoop) -> None:
    node, room = make_node(loop)
    _, transport = listen(node, room, "u1")
    assert transport.data.startswith(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.salon.opus-stream\r\nTransfer-Encoding: chunked\r\n"
        b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
        b"Access-Control-Allow-Origin: https://salon.example\r\nConnection: keep-alive\r\n\r\n"
    )
    [hello] = transport.records()
    assert hello == Record(2, 0, 0, b'{"room_id":"r1","chunk_ms":60,"sample_rate":48000}')
    assert node.listeners == 1


def test_records_are_flushed_as_one_chunk_once_they_span_the_chunk(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:60")
    _, a = listen(node, room, "a")
    _, b = listen(node, room, "b")
    for seq in range(5):
        node.packet_received(packet(seq))
    assert audio(a) == audio(b) == expected(range(3))  # 3 × 20 ms = 60 ms: one chunk; 2 still pending
    assert a.data.count(b"\r\n") == b.data.count(b"\r\n")
    assert room.chunks_out == 1
    assert room.packets_in == 5


def test_a_chunk_is_one_write_of_one_prebuilt_bytes_object(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:40")
    writes: list[bytes] = []
    transports = [FakeTransport() for _ in range(3)]
    for i, t in enumerate(transports):
        listen(node, room, f"u{i}", t)
        t.write = writes.append  # type: ignore[method-assign,assignment]
    node.packet_received(packet(0))
    node.packet_received(packet(1))
    assert len(writes) == 3
    assert all(w is writes[0] for w in writes)  # the same object: built once per flush


def test_the_timer_flushes_a_chunk_that_waited_past_its_length_and_a_packet(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:100")
    _, t = listen(node, room, "u1")
    node.packet_received(packet(0))
    node.packet_received(packet(1))
    loop.advance(0.119)
    assert audio(t) == []
    loop.advance(0.002)  # 100 ms + 20 ms after the first record
    assert audio(t) == expected(range(2))
    assert loop.pending() == []


def test_a_full_chunk_cancels_its_timer(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:40")
    node.packet_received(packet(0))
    [timer] = loop.pending()
    node.packet_received(packet(1))
    assert timer.cancelled
    assert room.pending == []


def test_a_new_listener_hears_the_last_chunk_at_once_then_every_chunk(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:40")
    for seq in range(4):
        node.packet_received(packet(seq))
    _, late = listen(node, room, "late")
    assert audio(late) == expected(range(2, 4))
    node.packet_received(packet(4))
    node.packet_received(packet(5))
    assert audio(late) == expected(range(2, 6))


def test_a_stale_last_chunk_is_not_replayed(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:40")
    node.packet_received(packet(0))
    node.packet_received(packet(1))
    loop.advance(6)  # the forwarder stopped: no RTP since
    _, t = listen(node, room, "u1")
    assert audio(t) == []


@pytest.mark.parametrize(
    "bad",
    [None, packet(1, ssrc=999), packet(1, pt=0), packet(1, payload=b"")],
    ids=["not RTP", "unknown SSRC", "not Opus", "empty"],
)
def test_other_packets_are_counted_and_not_forwarded(loop: FakeLoop, bad: RtpPacket | None) -> None:
    node, room = make_node(loop, policy="inf:20")
    _, t = listen(node, room, "u1")
    node.packet_received(bad)
    assert node.rejected_packets == 1
    assert (audio(t), room.packets_in) == ([], 0)


def test_a_second_stream_of_the_same_member_replaces_the_first(loop: FakeLoop) -> None:
    node, room = make_node(loop)
    first, old = listen(node, room, "u1")
    _, new = listen(node, room, "u1")
    assert notices(old) == ["replaced"]
    assert old.ended()
    assert old.closed
    assert first.ended
    assert room.streams["u1"].transport is cast(asyncio.Transport, new)
    assert node.listeners == 1
    node.stream_lost(first)  # its connection closing later changes nothing
    assert (node.listeners, list(room.streams)) == (1, ["u1"])


def test_a_cut_ends_the_named_members_streams_with_the_reason(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:20")
    _, a = listen(node, room, "a")
    _, b = listen(node, room, "b")
    assert node.cut("r1", ["a", "nobody"], "on_stage") == 1
    assert node.cut("elsewhere", ["b"], "removed") == 0
    node.packet_received(packet(0))
    assert (notices(a), audio(a)) == (["on_stage"], [])
    assert a.ended()
    assert a.closed
    assert audio(b) == expected(range(1))
    assert node.listeners == 1


def test_a_deleted_room_ends_every_stream_and_forgets_its_ssrc(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:100")
    _, a = listen(node, room, "a")
    node.packet_received(packet(0))  # a timer is pending
    assert node.delete_room("r1", "room_ended") == 1
    assert node.delete_room("r1", "room_ended") == 0
    assert notices(a) == ["room_ended"]
    assert loop.pending() != []
    assert all(t.callback != node.flush for t in loop.pending())
    node.packet_received(packet(1))
    assert node.rejected_packets == 1
    assert (node.rooms, node.rooms_by_ssrc, node.listeners) == ({}, {}, 0)


def test_a_listener_past_the_buffer_limit_is_dropped_and_the_others_keep_every_chunk(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:20", max_buffer=1000)
    _, slow = listen(node, room, "slow")
    _, fine = listen(node, room, "fine")
    node.packet_received(packet(0))
    slow.buffered = 1001
    node.packet_received(packet(1))
    node.packet_received(packet(2))
    assert audio(slow) == expected(range(2))  # nothing after the write that went past the limit
    assert notices(slow) == ["too_slow"]
    assert slow.closed
    assert audio(fine) == expected(range(3))
    assert (room.dropped_slow, node.listeners) == (1, 1)


def test_a_stream_ended_on_purpose_is_aborted_if_still_open_after_5_s(loop: FakeLoop) -> None:
    node, room = make_node(loop)
    s1, t1 = listen(node, room, "a")
    s2, t2 = listen(node, room, "b")
    node.cut("r1", ["a", "b"], "removed")
    node.stream_lost(s2)  # b's client read its notice and closed
    loop.advance(ABORT_AFTER_S)
    assert (t1.aborted, t2.aborted) == (True, False)
    node.stream_lost(s1)
    assert node.connections == 0


def test_a_lost_connection_leaves_its_room(loop: FakeLoop) -> None:
    node, room = make_node(loop)
    stream, _ = listen(node, room, "u1")
    node.stream_lost(stream)
    node.stream_lost(stream)
    assert (room.streams, node.listeners, node.connections) == ({}, 0, 0)


def test_a_broken_transport_does_not_stop_the_fan_out(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:20")
    _, broken = listen(node, room, "a")
    _, fine = listen(node, room, "b")
    broken.fail_writes = True
    node.packet_received(packet(0))
    assert audio(fine) == expected(range(1))
    assert list(room.streams) == ["b"]


def test_the_chunk_follows_the_node_total_listeners(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="2:20,inf:60")
    assert node.put_room("r2", 77)
    listen(node, room, "a")
    listen(node, room, "b")
    assert node.chunk_ms == 20
    last, t = listen(node, node.rooms["r2"], "c")  # a third listener, in another room
    assert node.chunk_ms == 60
    assert t.records()[0].json()["chunk_ms"] == 60
    node.stream_lost(last)
    assert node.chunk_ms == 60  # 2 is not 10 % below the step
    node.cut("r1", ["a", "b"], "removed")
    assert node.chunk_ms == 20


def test_room_registration_and_ssrc_changes(loop: FakeLoop) -> None:
    node, room = make_node(loop)
    assert node.put_room("r2", 99)
    assert not node.put_room("r2", SSRC)  # r1's
    assert node.put_room("r1", 5)  # r1 moves to another SSRC
    assert node.rooms["r1"] is room
    assert room.ssrc == 5
    assert set(node.rooms_by_ssrc) == {5, 99}


def test_budget_counts_the_node_and_lets_a_member_replace_their_own(loop: FakeLoop) -> None:
    node, room = make_node(loop, max_listeners=1)
    assert node.has_room_for("r1", "a")
    listen(node, room, "a")
    assert not node.has_room_for("r1", "b")
    assert node.has_room_for("r1", "a")
    assert not node.has_room_for("nowhere", "a")


def test_stats_have_the_specs_shape(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:20")
    listen(node, room, "a")
    node.packet_received(packet(0))
    node.packet_received(None)
    assert node.stats() == {
        "node": "w0",
        "listeners": 1,
        "max_listeners": 10,
        "chunk_ms": 20,
        "rooms": {
            "r1": {
                "listeners": 1, "ssrc": SSRC, "packets_in": 1, "chunks_out": 1, "dropped_slow": 0,
                "srtp": False, "srtp_failed": 0,
            }
        },
        "rejected_packets": 1,
        "srtp_failed": 0,
    }  # fmt: skip


def test_shutting_down_ends_every_stream(loop: FakeLoop) -> None:
    node, room = make_node(loop)
    assert node.put_room("r2", 77)
    _, a = listen(node, room, "a")
    _, b = listen(node, node.rooms["r2"], "b")
    assert len(node.end_all("shutting_down")) == 2
    assert notices(a) == notices(b) == ["shutting_down"]


def read_all(sock: socket.socket) -> bytes:
    got = bytearray()
    with contextlib.suppress(BlockingIOError):
        while data := sock.recv(1 << 20):
            got += data
    return bytes(got)


def test_a_chunk_goes_straight_to_the_socket_while_nothing_waits_in_the_transport(loop: FakeLoop) -> None:
    node, room = make_node(loop, policy="inf:20")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        theirs.setblocking(False)
        _, direct = listen(node, room, "a", FakeTransport(sock=ours))
        _, other = listen(node, room, "b")  # no socket to write to: everything through its transport
        through_transport, before = len(direct.data), len(other.data)
        node.packet_received(packet(0))
        chunk = bytes(other.data[before:])
        assert chunk
        assert read_all(theirs) == chunk, "the chunk reached the socket itself"
        assert len(direct.data) == through_transport, "and not the transport"

        direct.buffered = 1  # bytes wait in the transport: the next chunk queues behind them, never overtakes
        before = len(other.data)
        node.packet_received(packet(1))
        assert read_all(theirs) == b""
        assert bytes(direct.data[through_transport:]) == bytes(other.data[before:])

        direct.buffered = 0
        direct.closed = True  # closing: its descriptor may already be someone else's
        written = len(direct.data)
        node.packet_received(packet(2))
        assert read_all(theirs) == b""
        assert len(direct.data) == written, "nothing more for a closing transport"


@pytest.mark.parametrize("why", ["a TLS node", "a TLS transport"])
def test_tls_bytes_never_go_straight_to_the_socket(loop: FakeLoop, why: str) -> None:
    # Either is enough: the node's switch (server.py turns it off with --tls-cert) or the transport saying it is an
    # SSL one (whose "socket" is the TCP socket under the encryption).
    node, room = make_node(loop, policy="inf:20", direct=why != "a TLS node")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.setblocking(False)
        theirs.setblocking(False)
        transport = FakeTransport(sock=ours)
        if why == "a TLS transport":
            transport.sslcontext = object()
        stream, tls = listen(node, room, "a", transport)
        _, other = listen(node, room, "b")
        assert stream.fd == -1
        before_tls, before_other = len(tls.data), len(other.data)
        node.packet_received(packet(0))
        node.packet_received(packet(1))
        assert read_all(theirs) == b"", "nothing reached the socket around the transport"
        assert bytes(tls.data[before_tls:]) == bytes(other.data[before_other:]) != b""
        assert audio(tls) == expected(range(2))
