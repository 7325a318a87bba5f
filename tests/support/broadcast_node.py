"""Test support: a real broadcast node process (``python -m salon.broadcast``) on loopback, and the clients the
tests drive it with — a listener over a raw TCP connection that decodes what a browser would, RTP over UDP, and the
control API over httpx. Every process started here is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from salon.domain.stream_tickets import control_token, sign_ticket
from tests.support.broadcast import Record, dechunk, opus_payload, rtp_packet, split_head

SECRET = "broadcast-test-secret-" + "x" * 20
HOST = "127.0.0.1"


@dataclass
class NodeProcess:
    process: subprocess.Popen[bytes]
    name: str
    listen: int
    control: int
    rtp: int
    log: Path
    tls: bool = False  # the ready line's: the listeners' port speaks TLS

    def ticket(
        self, room: str, user: str, *, node: str | None = None, ttl: int = 30, secret: str = SECRET, nonce: str = ""
    ) -> str:
        return sign_ticket(
            secret,
            room=room,
            user=user,
            conn=f"c-{user}",
            node=node or self.name,
            expires_at=int(time.time()) + ttl,
            nonce=nonce or secrets.token_urlsafe(16),
        )

    def control_client(self, *, token: str | None = "") -> httpx.AsyncClient:
        """A client of the control API with the right token; another ``token`` instead, or none for None."""
        token = control_token(SECRET) if token == "" else token
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.AsyncClient(base_url=f"http://{HOST}:{self.control}", headers=headers, trust_env=False, timeout=5)


def _read_ready_line(process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        readable, _, _ = select.select([process.stdout], [], [], max(left, 0))
        if not readable:
            raise TimeoutError("the broadcast node printed no ready line in time")
        byte = os.read(process.stdout.fileno(), 1)
        if not byte:
            raise RuntimeError(f"the broadcast node exited before it was ready (status {process.wait()})")
        line += byte
    ready: dict[str, Any] = json.loads(line)
    return ready


def start_node(log_dir: Path, *args: str, name: str = "w0", secret: str = SECRET) -> NodeProcess:
    """Start a node with ``args`` and wait for its ready line. Its log (stderr) goes to ``log_dir``."""
    log = log_dir / f"broadcast-{name}-{secrets.token_hex(3)}.log"
    env = {**os.environ, "SALON_BROADCAST_SECRET": secret}
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "salon.broadcast", "--name", name, *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
    try:
        ready = _read_ready_line(process, timeout=15)
    except BaseException:
        stop_node(process)
        raise
    assert ready["ready"] is True
    assert ready["name"] == name
    return NodeProcess(process, name, ready["listen"], ready["control"], ready["rtp"], log, ready["tls"])


def stop_node(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 5 s: the process is gone when this returns."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


@contextmanager
def running_node(log_dir: Path, *args: str, name: str = "w0", secret: str = SECRET) -> Iterator[NodeProcess]:
    node = start_node(log_dir, *args, name=name, secret=secret)
    try:
        yield node
    finally:
        stop_node(node.process)


class RtpSender:
    """Sends RTP to the node from a UDP socket bound to ``source`` (any 127.0.0.0/8 address is this machine)."""

    def __init__(self, node: NodeProcess, ssrc: int, *, source: str = HOST) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.target = (HOST, node.rtp)
        self.ssrc = ssrc
        self.sent_at: dict[int, float] = {}

    def send(self, seq: int, *, payload: bytes | None = None, pt: int = 111, ssrc: int | None = None) -> None:
        data = rtp_packet(seq, seq * 960, self.ssrc if ssrc is None else ssrc, payload or opus_payload(seq), pt=pt)
        self.sent_at[seq] = time.monotonic()
        self.sock.sendto(data, self.target)

    async def send_paced(self, seqs: range, *, every: float = 0.002, payload_size: int = 0) -> None:
        """Send packets ``every`` seconds apart (loopback UDP drops packets sent faster than the node reads)."""
        for seq in seqs:
            payload = opus_payload(seq) + b"\x00" * payload_size if payload_size else None
            self.send(seq, payload=payload)
            await asyncio.sleep(every)

    def close(self) -> None:
        self.sock.close()


@dataclass
class Listener:
    """A listener's connection, decoded as the wire spec says: status, headers, records with their arrival times."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    arrived_at: list[float] = field(default_factory=list)
    records_per_chunk: list[int] = field(default_factory=list)
    ended: bool = False  # the chunked body's last-chunk marker arrived
    closed: bool = False  # EOF
    body: bytes = b""  # the body of a response that is not a stream
    _raw: bytes = b""
    _stream: bytes = b""

    def audio(self) -> list[Record]:
        return [r for r in self.records if r.kind == 0]

    def notices(self) -> list[str]:
        return [str(r.json()["code"]) for r in self.records if r.kind == 1]

    def _take_records(self) -> None:
        now = time.monotonic()
        chunks, ended, self._raw = dechunk(self._raw)
        self.ended = self.ended or ended
        for chunk in chunks:
            self._stream += chunk
            count = 0
            while len(self._stream) >= 10:
                length = int.from_bytes(self._stream[2:4], "big")
                if len(self._stream) < 10 + length:
                    break
                header, payload = self._stream[:10], self._stream[10 : 10 + length]
                self._stream = self._stream[10 + length :]
                seq, timestamp = int.from_bytes(header[4:6], "big"), int.from_bytes(header[6:10], "big")
                self.records.append(Record(header[0], seq, timestamp, payload))
                self.arrived_at.append(now)
                count += 1
            self.records_per_chunk.append(count)

    async def read_until(self, done: Callable[[Listener], bool], within: float = 5.0) -> None:
        """Read until ``done(self)`` or the connection ends; TimeoutError when neither happens in time."""

        async def loop() -> None:
            while not done(self) and not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    self.closed = True
                elif self.status == 200 and self.headers.get("transfer-encoding") == "chunked":
                    self._raw += data
                    self._take_records()
                else:
                    self.body += data

        await asyncio.wait_for(loop(), within)

    def json(self) -> Any:
        return json.loads(self.body)

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()


async def open_listener(
    node: NodeProcess, path: str, *, method: str = "GET", headers: str = "", tls: ssl.SSLContext | None = None
) -> Listener:
    """Send one request to the public port (over TLS with the ``tls`` client context) and read the response head."""
    reader, writer = await asyncio.open_connection(HOST, node.listen, ssl=tls)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n{headers}\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = split_head(head)[0].decode("latin-1").split("\r\n")
    listener = Listener(reader, writer, status=int(lines[0].split(" ")[1]))
    listener.headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    return listener


async def stream(node: NodeProcess, room: str, user: str, *, tls: ssl.SSLContext | None = None) -> Listener:
    """A listener whose stream opened (status 200) and whose hello arrived."""
    listener = await open_listener(node, f"/v1/stream/{room}?ticket={node.ticket(room, user)}", tls=tls)
    assert listener.status == 200, listener.headers
    await listener.read_until(lambda x: len(x.records) >= 1)
    return listener


async def refusal(
    node: NodeProcess, path: str, *, method: str = "GET", headers: str = ""
) -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body of a refused request, after checking the node closed the connection."""
    listener = await open_listener(node, path, method=method, headers=headers)
    await listener.read_until(lambda _: False)
    assert listener.closed
    await listener.close()
    return listener.status, listener.headers, listener.json()
