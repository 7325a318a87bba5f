"""Broadcast layer: the node's process — its sockets on uvloop, the ready line, and the shutdown on SIGTERM.

Once every socket listens, one line of JSON goes to stdout (``{"ready": true, "name", "listen", "control",
"rtp", "tls"}``: the bound ports, and whether the listeners' port speaks TLS), so whoever started the node (a
supervisor, a test) learns the ports of ``:0`` binds. Only the listeners' port is ever TLS: the control API stays
plain HTTP on its private address. On SIGTERM or SIGINT the node stops accepting, sends every stream a
``shutting_down`` notice and exits 0 once the streams are closed, within 2 s (those still open then are aborted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import uvloop

from salon.broadcast.admission import Admission
from salon.broadcast.config import Config, load_config
from salon.broadcast.control import ControlProtocol
from salon.broadcast.http import HEAD_TIMEOUT_S
from salon.broadcast.listener_port import ListenerProtocol
from salon.broadcast.node import Node
from salon.domain.stream_tickets import control_token

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 1.5  # streams get this long to take their last notice: the process is gone within 2 s
NONCE_SWEEP_S = 10.0
LISTEN_BACKLOG = 4096  # a room's audience may arrive at once (a push notification, a reconnect after a restart)


class RtpReceiver(asyncio.DatagramProtocol):
    """(S)RTP from the allowed sources goes to the node; every other datagram is counted as rejected."""

    def __init__(self, node: Node, sources: frozenset[str]) -> None:
        self.node = node
        self.sources = sources

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if addr[0] not in self.sources:
            self.node.rejected_packets += 1
            return
        self.node.datagram_received(data)

    def error_received(self, exc: Exception) -> None:
        log.info("RTP socket error: %s", exc)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def serve(config: Config) -> None:
    loop = asyncio.get_running_loop()
    node = Node(
        loop,
        name=config.name,
        policy=config.policy,
        max_listeners=config.max_listeners,
        max_buffer_bytes=config.max_buffer_bytes,
        allow_origin=config.allow_origin,
        direct_writes=config.tls is None,  # TLS bytes must go through the SSL transport, which encrypts them
    )
    admission = Admission(config.secret, node)
    token = control_token(config.secret)
    listen = await loop.create_server(
        lambda: ListenerProtocol(node, admission, config.allow_origin),
        config.listen.host,
        config.listen.port,
        backlog=LISTEN_BACKLOG,
        reuse_address=True,
        ssl=config.tls,
        # The request's own 5 s starts once the handshake is done: a client that never finishes one is cut as soon.
        ssl_handshake_timeout=HEAD_TIMEOUT_S if config.tls else None,
    )
    control = await loop.create_server(
        lambda: ControlProtocol(node, token), config.control.host, config.control.port, reuse_address=True
    )
    rtp, _ = await loop.create_datagram_endpoint(
        lambda: RtpReceiver(node, config.allow_sources), local_addr=(config.rtp.host, config.rtp.port)
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def sweep_nonces() -> None:
        admission.used.forget_expired(time.time())
        sweeper[0] = loop.call_later(NONCE_SWEEP_S, sweep_nonces)

    sweeper = [loop.call_later(NONCE_SWEEP_S, sweep_nonces)]
    ready = {
        "ready": True,
        "name": config.name,
        "listen": _port(listen),
        "control": _port(control),
        "rtp": int(rtp.get_extra_info("sockname")[1]),
        "tls": config.tls is not None,
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    log.info("broadcast node %s ready: %s", config.name, ready)
    await stop.wait()

    sweeper[0].cancel()
    listen.close()
    control.close()
    rtp.close()
    streams = node.end_all("shutting_down")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(node.connections_closed(), SHUTDOWN_GRACE_S)
    for stream in streams:
        if not stream.lost:
            stream.transport.abort()
    await asyncio.sleep(0)  # let the aborted transports report their loss before the loop closes


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """The app's JSON log line (cli/logs.py), which this layer may not import: a worker has no requests, so its
    ``request_id`` is always null."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def main(argv: Sequence[str] | None = None) -> None:
    config = load_config(sys.argv[1:] if argv is None else argv, os.environ)
    handler = logging.StreamHandler(sys.stderr)
    json_lines = os.environ.get("SALON_LOG_FORMAT") == "json"  # the app's setting, passed on by adapters/broadcast
    handler.setFormatter(JsonLines() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    uvloop.run(serve(config))
