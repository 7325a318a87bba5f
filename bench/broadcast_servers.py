"""Broadcast bench, the two servers measured: the broadcast node (``python -m salon.broadcast``) and the bar.

Both run as child processes (``fanout.Child``: stderr to a log, death with the bench) and answer the same
questions — their ports, their PID, and how many chunks they flushed to how many listeners — so that
``bench/broadcast.py`` measures them the same way. Tickets and the control token come from the product's own
``salon.domain.stream_tickets``, as Salon would make them.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
from fanout import BenchError, Child

from salon.domain.stream_tickets import control_token, sign_ticket

HOST = "127.0.0.1"
SECRET = "broadcast-bench-secret-" + "s" * 24  # a test secret (>= 32 chars), for this bench's node only
BENCH_DIR = Path(__file__).resolve().parent


class Server(Protocol):
    kind: str
    pid: int
    listen: int
    rtp: int

    def counts(self, room_id: str) -> dict[str, int]:
        """{"listeners", "chunks_out", "packets_in", "dropped", "chunk_ms"} of the room."""
        ...

    def stop(self) -> dict[str, Any]: ...

    def tail(self) -> str: ...


def mint_tickets(secret: str, room_id: str, node: str, count: int, lifetime_s: int) -> list[str]:
    """One ticket per listener, each for its own user (one stream per user and room: the spec's `replaced`)."""
    expires = int(time.time()) + lifetime_s
    return [
        sign_ticket(
            secret,
            room=room_id,
            user=f"bench-user-{i:05d}",
            conn=f"bench-conn-{i:05d}",
            node=node,
            expires_at=expires,
            nonce=secrets.token_urlsafe(16),
        )
        for i in range(count)
    ]


def node_counts(http: httpx.Client, room_id: str) -> dict[str, int]:
    """A node's room, from ``GET /v1/stats`` on its control port (``http``: that base URL and the bearer token)."""
    response = http.get("/v1/stats")
    if response.status_code != 200:
        raise BenchError(f"GET /v1/stats answered {response.status_code}: {response.text}")
    stats = response.json()
    room = stats["rooms"].get(room_id, {})
    return {
        "listeners": int(room.get("listeners", 0)),
        "chunks_out": int(room.get("chunks_out", 0)),
        "packets_in": int(room.get("packets_in", 0)),
        "dropped": int(room.get("dropped_slow", 0)),
        "chunk_ms": int(stats["chunk_ms"]),
        "rejected_packets": int(stats.get("rejected_packets", 0)),
    }


class Node:
    """``python -m salon.broadcast`` with the bench's secret, everything on 127.0.0.1 and ports the OS picks."""

    kind = "node"

    def __init__(
        self,
        logs: Path,
        tag: str,
        *,
        name: str,
        chunks: str | None,
        max_listeners: int,
        cert: Path | None = None,
        key: Path | None = None,
    ) -> None:
        argv = [
            sys.executable,
            *("-m", "salon.broadcast", "--name", name),
            *("--listen", f"{HOST}:0", "--control", f"{HOST}:0", "--rtp", f"{HOST}:0"),
            *("--max-listeners", str(max_listeners)),
            *(("--chunks", chunks) if chunks else ()),
            *(("--tls-cert", str(cert), "--tls-key", str(key)) if cert and key else ()),
        ]
        env = {**os.environ, "SALON_BROADCAST_SECRET": SECRET}
        self.name = name
        self.child = Child(f"{tag}-node", argv, logs / f"{tag}-node.log", env=env)
        self.pid = self.child.pid
        ready = self.child.expect("ready", 60.0)
        self.listen, self.control, self.rtp = int(ready["listen"]), int(ready["control"]), int(ready["rtp"])
        self.tls = bool(ready.get("tls"))  # the load client then speaks TLS to the listeners' port
        self.http = httpx.Client(
            base_url=f"http://{HOST}:{self.control}",
            headers={"Authorization": f"Bearer {control_token(SECRET)}"},
            timeout=30.0,
        )

    def add_room(self, room_id: str, ssrc: int) -> None:
        response = self.http.put(f"/v1/rooms/{room_id}", json={"ssrc": ssrc})
        if response.status_code != 200:
            raise BenchError(f"PUT /v1/rooms/{room_id} answered {response.status_code}: {response.text}")

    def counts(self, room_id: str) -> dict[str, int]:
        return node_counts(self.http, room_id)

    def stop(self) -> dict[str, Any]:
        """SIGTERM (the spec: a shutting_down notice to every stream, exit 0 within 2 s); how long it took."""
        self.http.close()
        started = time.monotonic()
        outcome: dict[str, Any] = {}
        if self.child.proc.poll() is None:
            self.child.proc.send_signal(signal.SIGTERM)
            try:
                outcome["exit_code"] = self.child.proc.wait(timeout=10.0)
                outcome["exit_s"] = round(time.monotonic() - started, 2)
            except subprocess.TimeoutExpired:
                outcome["exit_code"] = "still running after SIGTERM + 10 s: killed"
        else:
            outcome["exit_code"] = f"had exited already ({self.child.proc.returncode})"
        self.child.stop(grace=5.0)
        return outcome

    def tail(self) -> str:
        return self.child.tail()


class Bar:
    """``bench/broadcast_bar.py``: the bare write loop, flushing every ``chunk_ms`` like the node."""

    kind = "bar"

    def __init__(self, logs: Path, tag: str, *, chunk_ms: int, writer: str, nodelay: bool, sndbuf: int) -> None:
        argv = [
            sys.executable,
            str(BENCH_DIR / "broadcast_bar.py"),
            *("--chunk-ms", str(chunk_ms), "--writer", writer, "--nodelay", str(int(nodelay))),
            *("--sndbuf", str(sndbuf)),
        ]
        self.child = Child(f"{tag}-bar", argv, logs / f"{tag}-bar.log")
        self.pid = self.child.pid
        ready = self.child.expect("ready", 30.0)
        self.listen, self.rtp = int(ready["listen"]), int(ready["rtp"])

    def counts(self, room_id: str) -> dict[str, int]:
        self.child.tell({"stats": True})
        stats: dict[str, int] = self.child.expect("stats", 30.0)["stats"]
        return stats

    def stop(self) -> dict[str, Any]:
        self.child.stop(grace=5.0)
        return {}

    def tail(self) -> str:
        return self.child.tail()
