"""The broadcast node as a real process with ``--tls-cert``/``--tls-key``: listeners over TLS (Python's ssl client,
verifying the test's own certificate) hear the hello and every audio record, plain HTTP on that port opens no
stream, a connection that never completes a handshake is closed after 5 s, a listener that stops reading is still
dropped, SIGTERM still ends every stream with its notice, the control API stays plain, and bad TLS arguments stop
the node with a message. Also: uvloop's SSL transport is recognised, so the fan-out never writes around it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest
import uvloop

from salon.broadcast.node import Stream
from salon.broadcast.tls import server_context
from tests.support.broadcast import opus_payload
from tests.support.broadcast_node import HOST, SECRET, Listener, NodeProcess, RtpSender, running_node
from tests.support.broadcast_node import stream as open_stream
from tests.support.tls import CertFiles, self_signed

CHUNK_MS = 60
MAX_BUFFER = 16384
PACKETS = 1500
BATCH = 15
PADDING = 4000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, files: CertFiles) -> Iterator[NodeProcess]:
    args = ["--chunks", f"inf:{CHUNK_MS}", "--max-buffer-bytes", str(MAX_BUFFER)]
    args += ["--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    with running_node(tmp_path_factory.mktemp("broadcast-tls"), *args, name="tls0") as process:
        yield process


@pytest.fixture
def senders() -> Iterator[list[RtpSender]]:
    opened: list[RtpSender] = []
    yield opened
    for sender in opened:
        sender.close()


_ssrcs = iter(range(5000, 2**31))


async def new_room(node: NodeProcess, senders: list[RtpSender]) -> tuple[str, RtpSender]:
    room, ssrc = f"room-{secrets.token_hex(4)}", next(_ssrcs)
    async with node.control_client() as control:  # plain HTTP: the control API is never TLS
        answer = await control.put(f"/v1/rooms/{room}", json={"ssrc": ssrc})
    assert answer.status_code == 200
    senders.append(RtpSender(node, ssrc))
    return room, senders[-1]


async def room_stats(node: NodeProcess, room: str) -> dict[str, int]:
    async with node.control_client() as control:
        answer = await control.get("/v1/stats")
    assert answer.status_code == 200
    numbers: dict[str, int] = answer.json()["rooms"][room]
    return numbers


def has_audio(count: int) -> Callable[[Listener], bool]:
    return lambda listener: len(listener.audio()) >= count


def audio_seqs(listener: Listener) -> list[int]:
    return [r.seq for r in listener.audio()]


async def test_a_tls_listener_hears_the_hello_then_every_record(
    node: NodeProcess, files: CertFiles, senders: list[RtpSender]
) -> None:
    assert node.tls is True
    room, rtp = await new_room(node, senders)
    listener = await open_stream(node, room, "ada", tls=files.client_context())
    try:
        tls = listener.writer.get_extra_info("ssl_object")
        assert (tls.version(), tls.selected_alpn_protocol()) == ("TLSv1.3", "http/1.1")
        assert listener.headers["content-type"] == "application/vnd.salon.opus-stream"
        assert listener.records[0].kind == 2
        assert listener.records[0].json()["room_id"] == room
        await rtp.send_paced(range(30))
        await listener.read_until(lambda x: len(x.audio()) >= 30)
        # Decrypted as TLS records and parsed exactly: a chunk written around the SSL transport would have broken
        # the client's record layer.
        assert [(r.seq, r.payload) for r in listener.audio()] == [(s, opus_payload(s)) for s in range(30)]
        assert (await room_stats(node, room))["listeners"] == 1
    finally:
        await listener.close()


async def test_plain_http_to_the_tls_port_opens_no_stream(node: NodeProcess, senders: list[RtpSender]) -> None:
    room, rtp = await new_room(node, senders)
    reader, writer = await asyncio.open_connection(HOST, node.listen)
    try:
        ticket = node.ticket(room, "plain")
        writer.write(f"GET /v1/stream/{room}?ticket={ticket} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        rtp.send(0)
        answer = await asyncio.wait_for(reader.read(), 5)  # to EOF: the node closes the connection
    except ConnectionResetError:
        answer = b""
    finally:
        writer.close()
    assert b"HTTP/1.1" not in answer
    assert opus_payload(0) not in answer
    assert (await room_stats(node, room))["listeners"] == 0


async def test_a_connection_that_never_finishes_its_handshake_is_closed_after_5_s(node: NodeProcess) -> None:
    reader, writer = await asyncio.open_connection(HOST, node.listen)
    opened = time.monotonic()
    try:
        assert await asyncio.wait_for(reader.read(), 15) == b""  # nothing sent, then EOF: no slot held for long
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    assert 4.5 < time.monotonic() - opened < 10


def tls_socket_that_never_reads(node: NodeProcess, room: str, files: CertFiles) -> ssl.SSLSocket:
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window it announces
    raw.settimeout(5)
    raw.connect((HOST, node.listen))
    sock = files.client_context().wrap_socket(raw, server_hostname=HOST)
    sock.sendall(f"GET /v1/stream/{room}?ticket={node.ticket(room, 'slow')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def drain(sock: ssl.SSLSocket) -> bytes:
    data = bytearray()
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ssl.SSLEOFError, ConnectionResetError):  # aborted rather than closed: what arrived is still checked
        pass
    return bytes(data)


async def test_a_tls_listener_that_does_not_read_is_dropped_and_the_other_hears_everything(
    node: NodeProcess, files: CertFiles, senders: list[RtpSender]
) -> None:
    # As test_node_process's plain test: ~6 MB, past the kernel's buffers and the node's limit. Over TLS the limit
    # counts what waits in the SSL transport, above its TCP transport's own buffer: the drop must still happen.
    room, rtp = await new_room(node, senders)
    fast = await open_stream(node, room, "fast", tls=files.client_context())
    slow = await asyncio.to_thread(tls_socket_that_never_reads, node, room, files)
    try:
        tail = b""
        for start in range(0, PACKETS, BATCH):
            for seq in range(start, start + BATCH):
                rtp.send(seq, payload=opus_payload(seq) + bytes(PADDING))
            await fast.read_until(has_audio(start + BATCH), within=10)
            if not tail and (await room_stats(node, room))["dropped_slow"]:
                tail = await asyncio.to_thread(drain, slow)
        assert b'{"code":"too_slow"' in tail[-200:]
        assert tail.endswith(b"\r\n0\r\n\r\n")
        assert audio_seqs(fast) == list(range(PACKETS))
        assert fast.notices() == []
        assert (await room_stats(node, room))["dropped_slow"] == 1
    finally:
        slow.close()
        await fast.close()


async def test_sigterm_ends_tls_streams_with_their_notice_and_exits_0_within_2_s(
    tmp_path: Path, files: CertFiles, senders: list[RtpSender]
) -> None:
    tls_args = ["--tls-cert", str(files.cert), "--tls-key", str(files.key)]
    with running_node(tmp_path, *tls_args, name="leaving") as leaving:
        room, _ = await new_room(leaving, senders)
        streams = [await open_stream(leaving, room, user, tls=files.client_context()) for user in ("a", "b")]
        asked = time.monotonic()
        leaving.process.send_signal(signal.SIGTERM)
        for listener in streams:
            await listener.read_until(lambda x: x.closed, within=2)
            assert (listener.notices(), listener.ended) == (["shutting_down"], True)
            await listener.close()
        assert await asyncio.to_thread(leaving.process.wait, 2) == 0
        assert time.monotonic() - asked < 2


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        (["--tls-cert", "CERT"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "CERT", "--tls-key", "MISSING"], "MISSING' cannot be read: No such file or directory"),
        (["--tls-cert", "CERT", "--tls-key", "OTHER"], "is not the private key of --tls-cert"),
    ],
)
def test_bad_tls_arguments_stop_the_node_with_a_message(
    given: list[str], complaint: str, files: CertFiles, tmp_path: Path
) -> None:
    names = {"CERT": str(files.cert), "OTHER": str(self_signed(tmp_path).key), "MISSING": str(tmp_path / "MISSING")}
    argv = [sys.executable, "-m", "salon.broadcast", "--name", "w0", *(names.get(a, a) for a in given)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=30, env={**os.environ, "SALON_BROADCAST_SECRET": SECRET}
    )
    assert done.returncode == 2
    assert done.stdout == ""  # no ready line
    assert complaint in done.stderr
    assert "Traceback" not in done.stderr


def test_uvloops_ssl_transport_is_never_written_around(files: CertFiles) -> None:
    """``Stream`` on uvloop's real transports, with direct writes allowed: a plain one gets the socket's descriptor
    (the control that this can fail), the SSL one does not — yet its "socket" is the TCP socket under the
    encryption, which a direct write would reach."""

    async def descriptor(tls: ssl.SSLContext | None) -> int:
        made: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                # uvloop's SSL transport is not an asyncio.Transport subclass, but it has every method the node uses.
                made.set_result(Stream(cast(asyncio.Transport, transport), "r", "u", direct=True).fd)
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, HOST, 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        client = files.client_context() if tls else None
        _, writer = await asyncio.open_connection(HOST, port, ssl=client, server_hostname=HOST if tls else None)
        try:
            return await asyncio.wait_for(made, 5)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    async def both() -> tuple[int, int]:
        return await descriptor(None), await descriptor(server_context(files.cert, files.key))

    plain, tls = uvloop.run(both())
    assert plain >= 0
    assert tls == -1
