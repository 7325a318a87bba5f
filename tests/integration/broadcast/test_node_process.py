"""The broadcast node as a real process on loopback: RTP in over UDP, listeners' streams over raw TCP, the control
API over HTTP — what a listener receives, every refusal, cuts, replacement, a slow listener, and SIGTERM.

One node serves the module (each test uses its own rooms); the tests that need other settings or end the process
start their own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.broadcast import opus_payload
from tests.support.broadcast_node import (
    HOST,
    Listener,
    NodeProcess,
    RtpSender,
    open_listener,
    refusal,
    running_node,
    stream,
)

T = TypeVar("T")
ORIGIN = "https://salon.test"
CHUNK_MS = 60  # three 20 ms packets per HTTP chunk
MAX_BUFFER = 16384
PACKETS = 1500
BATCH = 15  # five chunks: ~60 KB, well within the node's UDP receive buffer
PADDING = 4000


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    args = ["--chunks", f"inf:{CHUNK_MS}", "--allow-origin", ORIGIN, "--max-buffer-bytes", str(MAX_BUFFER)]
    with running_node(tmp_path_factory.mktemp("broadcast"), *args) as process:
        yield process


_ssrcs = iter(range(1000, 2**31))


async def new_room(node: NodeProcess) -> tuple[str, RtpSender]:
    """A registered room of its own for a test, and an RTP sender with its SSRC."""
    room, ssrc = f"room-{secrets.token_hex(4)}", next(_ssrcs)
    async with node.control_client() as control:
        answer = await control.put(f"/v1/rooms/{room}", json={"ssrc": ssrc})
    assert (answer.status_code, answer.json()) == (200, {"room_id": room, "ssrc": ssrc, "srtp": False})
    return room, sender(node, ssrc)


_senders: list[RtpSender] = []


def sender(node: NodeProcess, ssrc: int, *, source: str = HOST) -> RtpSender:
    """An RTP sender, closed after the test."""
    _senders.append(RtpSender(node, ssrc, source=source))
    return _senders[-1]


@pytest.fixture(autouse=True)
def _close_senders() -> Iterator[None]:
    yield
    while _senders:
        _senders.pop().close()


async def stats(node: NodeProcess) -> dict[str, object]:
    async with node.control_client() as control:
        answer = await control.get("/v1/stats")
    assert answer.status_code == 200
    body: dict[str, object] = answer.json()
    return body


async def room_stats(node: NodeProcess, room: str) -> dict[str, int]:
    rooms = (await stats(node))["rooms"]
    assert isinstance(rooms, dict)
    room_stats: dict[str, int] = rooms[room]
    return room_stats


async def until(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 5) -> T:
    """Poll ``read`` until ``done`` holds of its value (a wait for the node's state, not an assertion)."""
    deadline = time.monotonic() + within
    while not done(value := await read()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {value!r}")
        await asyncio.sleep(0.02)
    return value


@pytest.fixture
async def listeners() -> AsyncIterator[list[Listener]]:
    """Listeners a test opens, closed after it."""
    opened: list[Listener] = []
    yield opened
    for listener in opened:
        await listener.close()


def has_audio(count: int) -> Callable[[Listener], bool]:
    return lambda listener: len(listener.audio()) >= count


def seqs_of(listener: Listener) -> list[int]:
    return [r.seq for r in listener.audio()]


# --- the stream ---------------------------------------------------------------------------------------------------


async def test_ready_line_ports_and_health(node: NodeProcess) -> None:
    assert min(node.listen, node.control, node.rtp) > 0
    health = await open_listener(node, "/healthz")
    await health.read_until(lambda _: False)
    assert (health.status, health.body, health.closed) == (200, b"ok", True)
    await health.close()


async def test_records_arrive_in_order_hello_first_with_exact_payloads(
    node: NodeProcess, listeners: list[Listener]
) -> None:
    room, rtp = await new_room(node)
    listener = await stream(node, room, "ada")
    listeners.append(listener)
    assert listener.headers == {
        "content-type": "application/vnd.salon.opus-stream",
        "transfer-encoding": "chunked",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "access-control-allow-origin": ORIGIN,
        "connection": "keep-alive",
    }
    await rtp.send_paced(range(30))
    await listener.read_until(has_audio(30))
    hello = listener.records[0]
    assert (hello.kind, hello.json()) == (2, {"room_id": room, "chunk_ms": CHUNK_MS, "sample_rate": 48000})
    assert [(r.kind, r.seq, r.timestamp, r.payload) for r in listener.records[1:]] == [
        (0, seq, seq * 960, opus_payload(seq)) for seq in range(30)
    ]
    # several records per HTTP chunk: 60 ms chunks of 20 ms packets
    assert listener.records_per_chunk[0] == 1  # the hello, alone
    assert sum(listener.records_per_chunk[1:]) == 30
    assert max(listener.records_per_chunk[1:]) == 3
    assert listener.records_per_chunk[1:].count(3) >= 8


async def test_a_late_listener_starts_with_the_last_chunk(node: NodeProcess, listeners: list[Listener]) -> None:
    room, rtp = await new_room(node)
    await rtp.send_paced(range(3))  # one full chunk, flushed to nobody
    await until(lambda: room_stats(node, room), lambda s: s["chunks_out"] == 1)
    listener = await stream(node, room, "bob")
    listeners.append(listener)
    await rtp.send_paced(range(3, 6))
    await listener.read_until(has_audio(6))
    assert seqs_of(listener) == [0, 1, 2, 3, 4, 5]


async def test_rtp_from_another_ssrc_payload_type_or_source_is_dropped_and_counted(
    node: NodeProcess, listeners: list[Listener]
) -> None:
    room, rtp = await new_room(node)
    listener = await stream(node, room, "cy")
    listeners.append(listener)
    before = (await stats(node))["rejected_packets"]
    assert isinstance(before, int)
    stranger = sender(node, rtp.ssrc, source="127.0.0.2")  # a source not allowed
    rtp.send(0)
    rtp.send(1, ssrc=rtp.ssrc + 7_000_000)  # no room has it
    rtp.send(2, pt=96)  # not Opus's payload type
    rtp.sock.sendto(b"\x00" * 20, rtp.target)  # not RTP
    stranger.send(3)
    await asyncio.sleep(0.05)
    rtp.send(4)
    rtp.send(5)
    await listener.read_until(has_audio(3))
    assert seqs_of(listener) == [0, 4, 5]
    assert (await stats(node))["rejected_packets"] == before + 4
    assert (await room_stats(node, room))["packets_in"] == 3


# --- refusals -------------------------------------------------------------------------------------------------------


async def test_refusals_have_the_status_code_shape_and_cors_header(node: NodeProcess) -> None:
    room, _ = await new_room(node)
    used = node.ticket(room, "dee")
    first = await open_listener(node, f"/v1/stream/{room}?ticket={used}")
    assert first.status == 200
    await first.close()
    cases = {
        f"/v1/stream/{room}": (400, "invalid_input"),
        f"/v1/stream/{room}?ticket={node.ticket(room, 'dee', secret='y' * 40)}": (401, "ticket_invalid"),
        f"/v1/stream/{room}?ticket={node.ticket(room, 'dee', node='w9')}": (401, "ticket_invalid"),
        f"/v1/stream/{room}?ticket={node.ticket(room, 'dee', ttl=-1)}": (401, "ticket_expired"),
        f"/v1/stream/{room}?ticket={node.ticket('other', 'dee')}": (403, "ticket_wrong_room"),
        f"/v1/stream/{room}?ticket={used}": (409, "ticket_used"),
        f"/v1/stream/nowhere?ticket={node.ticket('nowhere', 'dee')}": (404, "not_found"),
    }
    for path, expected in cases.items():
        status, headers, body = await refusal(node, path)
        assert (status, body["code"]) == expected, path
        assert set(body) == {"code", "message", "data"}
        assert headers["content-type"] == "application/json"
        assert headers["access-control-allow-origin"] == ORIGIN
    status, headers, body = await refusal(node, f"/v1/stream/{room}", method="POST")
    assert (status, body["code"], headers["allow"]) == (405, "not_allowed", "GET, OPTIONS")


async def test_a_full_node_refuses_with_503(tmp_path: Path) -> None:
    with running_node(tmp_path, "--max-listeners", "2", name="small") as small:
        room, _ = await new_room(small)
        a, b = await stream(small, room, "a"), await stream(small, room, "b")
        status, _, body = await refusal(small, f"/v1/stream/{room}?ticket={small.ticket(room, 'c')}")
        assert (status, body["code"]) == (503, "room_full")
        again = await stream(small, room, "a")  # a member replacing their own stream is no newcomer
        for listener in (a, b, again):
            await listener.close()


async def test_the_control_api_needs_its_token(node: NodeProcess) -> None:
    for token in [None, "not-the-token", "Bearer"]:
        async with node.control_client(token=token) as control:
            answer = await control.get("/v1/stats")
        assert (answer.status_code, answer.json()["code"]) == (401, "not_authenticated")
        assert answer.headers["www-authenticate"] == "Bearer"


# --- streams ended on purpose -------------------------------------------------------------------------------------


async def test_a_cut_reaches_the_listener_within_2_s_and_spares_the_others(
    node: NodeProcess, listeners: list[Listener]
) -> None:
    room, rtp = await new_room(node)
    cut, kept = await stream(node, room, "eve"), await stream(node, room, "fay")
    listeners += [cut, kept]
    async with node.control_client() as control:
        answer = await control.post(f"/v1/rooms/{room}/cut", json={"user_ids": ["eve"], "reason": "on_stage"})
    asked = time.monotonic()
    assert answer.json() == {"cut": 1}
    await cut.read_until(lambda x: x.closed, within=2)
    assert time.monotonic() - asked < 2
    assert (cut.notices(), cut.ended, cut.audio()) == (["on_stage"], True, [])
    await rtp.send_paced(range(3))
    await kept.read_until(has_audio(3))
    assert (seqs_of(kept), kept.notices()) == ([0, 1, 2], [])


async def test_deleting_a_room_ends_its_streams_with_room_ended(node: NodeProcess, listeners: list[Listener]) -> None:
    room, _ = await new_room(node)
    a, b = await stream(node, room, "gil"), await stream(node, room, "hal")
    listeners += [a, b]
    async with node.control_client() as control:
        answer = await control.delete(f"/v1/rooms/{room}", params={"reason": "room_ended"})
    assert answer.json() == {"room_id": room, "ended": 2}
    for listener in (a, b):
        await listener.read_until(lambda x: x.closed, within=2)
        assert (listener.notices(), listener.ended) == (["room_ended"], True)
    assert room not in (await stats(node))["rooms"]  # type: ignore[operator]


async def test_a_second_stream_of_a_member_replaces_the_first(node: NodeProcess, listeners: list[Listener]) -> None:
    room, rtp = await new_room(node)
    old = await stream(node, room, "ivy")
    new = await stream(node, room, "ivy")
    listeners += [old, new]
    await old.read_until(lambda x: x.closed, within=2)
    assert (old.notices(), old.ended) == (["replaced"], True)
    await rtp.send_paced(range(3))
    await new.read_until(has_audio(3))
    assert seqs_of(new) == [0, 1, 2]
    assert (await room_stats(node, room))["listeners"] == 1


# --- a slow listener ----------------------------------------------------------------------------------------------


async def test_a_listener_that_does_not_read_is_dropped_and_the_others_hear_everything_in_time(
    node: NodeProcess, listeners: list[Listener]
) -> None:
    room, rtp = await new_room(node)
    fast = await stream(node, room, "fast")
    listeners.append(fast)
    slow = socket_that_never_reads(node, room)
    try:
        # ~6 MB: past the kernel's send buffer, which on loopback grows to ~4 MB (tcp_wmem), then past the node's
        # limit. Sent in batches the node's UDP buffer holds, each read by the fast listener before the next (so a
        # starved CPU delays the test rather than losing packets); the slow one is drained as soon as it is dropped,
        # well before the node would abort it.
        tail = b""
        async with node.control_client() as control:
            for start in range(0, PACKETS, BATCH):
                for seq in range(start, start + BATCH):
                    rtp.send(seq, payload=opus_payload(seq) + bytes(PADDING))
                await fast.read_until(has_audio(start + BATCH), within=10)
                if not tail and (await control.get("/v1/stats")).json()["rooms"][room]["dropped_slow"]:
                    slow.settimeout(5)
                    tail = drain(slow)  # what the node had buffered, then the notice and the end of the body
        assert b'{"code":"too_slow"' in tail[-200:]
        assert tail.endswith(b"\r\n0\r\n\r\n")
        assert seqs_of(fast) == list(range(PACKETS))
        assert fast.notices() == []
        delays = [fast.arrived_at[i] - rtp.sent_at[r.seq] for i, r in enumerate(fast.records) if r.kind == 0]
        assert max(delays) < 1.0  # a chunk waits at most its length plus a packet; 1 s leaves room for a busy CI
        numbers = await room_stats(node, room)
        assert numbers | {"chunks_out": 0} == {
            "listeners": 1,
            "ssrc": rtp.ssrc,
            "packets_in": PACKETS,
            "chunks_out": 0,
            "dropped_slow": 1,
            "srtp": False,
            "srtp_failed": 0,
        }
        assert numbers["chunks_out"] >= PACKETS // 3  # more when a starved node's timer flushed a partial chunk
    finally:
        slow.close()


def socket_that_never_reads(node: NodeProcess, room: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window it announces
    sock.connect((HOST, node.listen))
    sock.sendall(f"GET /v1/stream/{room}?ticket={node.ticket(room, 'slow')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def drain(sock: socket.socket) -> bytes:
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


# --- the process --------------------------------------------------------------------------------------------------


async def test_sigterm_tells_every_stream_and_exits_0_within_2_s(tmp_path: Path) -> None:
    with running_node(tmp_path, name="leaving") as leaving:
        room, _ = await new_room(leaving)
        a, b = await stream(leaving, room, "a"), await stream(leaving, room, "b")
        pid = leaving.process.pid
        asked = time.monotonic()
        leaving.process.send_signal(signal.SIGTERM)
        for listener in (a, b):
            await listener.read_until(lambda x: x.closed, within=2)
            assert (listener.notices(), listener.ended) == (["shutting_down"], True)
            await listener.close()
        assert await asyncio.to_thread(leaving.process.wait, 2) == 0
        assert time.monotonic() - asked < 2
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
