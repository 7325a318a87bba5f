"""Adapters layer: the broadcast nodes as the media port sees them — placing a listener on a node, the tickets
that let them in, and the node's control API (register a room's forward, cut streams, end a room, read its load).

The nodes are Salon's own workers (``salon.broadcast``, docs/ARCHITECTURE.md "Media plane"). A node trusts a
listener only with a ticket signed by the secret it shares with the app (``domain/stream_tickets.py``), and takes
orders only from the app, over its private control port with a token derived from the same secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlsplit

import httpx

from salon.app.media_health import BroadcastNodeHealth
from salon.app.ports import MediaFull, MediaUnavailable, StreamGrant
from salon.domain.forward_keys import ForwardKey
from salon.domain.stream_tickets import control_token, sign_ticket

log = logging.getLogger(__name__)

TICKET_TTL_S: Final = 30  # long enough to start a stream on a slow phone; a started stream does not need it again
STATS_MAX_AGE_S: Final = 2.0  # a node's load is read again when older than this (grants since are counted here)
CONTROL_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True)
class BroadcastNode:
    """Where one node is: ``public_url`` for listeners, ``control_url`` for the app only, and the RTP address the
    media server forwards a room's mix to."""

    name: str
    public_url: str
    control_url: str
    rtp_host: str
    rtp_port: int


def stream_ssrc(room_id: str) -> int:
    """The SSRC of a room's forward: derived from its id, so any app instance (or the same one after a restart)
    registers the same one. Never 0 (some stacks treat it as unset)."""
    value = int.from_bytes(hashlib.blake2b(room_id.encode(), digest_size=4).digest(), "big")
    return value or 1


@dataclass
class _Load:
    listeners: int = 0
    read_at: float = float("-inf")
    answered: bool = True  # the last stats call did (a node never asked yet counts as up)


class BroadcastFleet:
    """``async with BroadcastFleet(nodes, secret) as fleet:`` — see the module docstring."""

    def __init__(
        self,
        nodes: Sequence[BroadcastNode],
        secret: str,
        *,
        max_listeners: int,
        ticket_ttl_s: int = TICKET_TTL_S,
        http_client: httpx.AsyncClient | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        if not nodes:
            raise ValueError("a broadcast fleet needs at least one node")
        self.nodes = {node.name: node for node in nodes}
        self._secret = secret
        self._max_listeners = max_listeners
        self._ttl = ticket_ttl_s
        self._now = now
        self._http = http_client or httpx.AsyncClient(timeout=CONTROL_TIMEOUT_S, trust_env=False)
        self._headers = {"Authorization": f"Bearer {control_token(secret)}"}
        self._load = {name: _Load() for name in self.nodes}
        self._rooms: dict[str, set[str]] = {}  # room id -> names of the nodes it is registered on
        self._registered_at: dict[tuple[str, str], float] = {}  # (room id, node name) -> monotonic time

    async def __aenter__(self) -> BroadcastFleet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    @property
    def origins(self) -> list[str]:
        """The origins listeners' browsers fetch streams from (the web app's CSP must allow them)."""
        return sorted({_origin(node.public_url) for node in self.nodes.values()})

    # --- placement -----------------------------------------------------------------------------------------------

    async def place(self, room_id: str) -> BroadcastNode:
        """The node for one more listener of ``room_id``: a node already carrying the room while it has room (one
        forward fewer for the media server), else the least loaded; ``MediaFull`` when every node is full."""
        await asyncio.gather(*(self._refresh(name) for name in self.nodes))  # one round trip, not one per node
        open_nodes = [name for name, load in self._load.items() if load.listeners < self._max_listeners]
        if not open_nodes:
            raise MediaFull("every broadcast node is at its listener budget")
        carrying = [name for name in open_nodes if name in self._rooms.get(room_id, set())]
        name = min(carrying or open_nodes, key=lambda n: (self._load[n].listeners, n))
        return self.nodes[name]

    async def _refresh(self, name: str) -> None:
        load = self._load[name]
        if time.monotonic() - load.read_at < STATS_MAX_AGE_S:
            return
        asked = time.monotonic()
        try:
            stats = await self._control("GET", name, "/v1/stats")
        except MediaUnavailable as exc:
            log.warning("broadcast node %s: no stats (%s); counted as full", name, exc)
            load.listeners, load.read_at, load.answered = self._max_listeners, time.monotonic(), False
            return
        load.listeners, load.read_at, load.answered = int(stats.get("listeners", 0)), time.monotonic(), True
        # A node that restarted (one Salon does not run has nobody to say so) no longer knows our rooms: they must be
        # registered again, with a new forward, before its next listener. (Not a room registered while we asked.)
        known = stats.get("rooms", {})
        for room_id, names in self._rooms.items():
            if name in names and room_id not in known and self._registered_at.get((room_id, name), 0.0) < asked:
                log.warning("broadcast node %s no longer carries room %s (restarted?)", name, room_id)
                names.discard(name)

    async def health(self) -> list[BroadcastNodeHealth]:
        """Each node's listeners and whether it answers, from its stats (read again only when older than
        ``STATS_MAX_AGE_S``: one call per node at most, whatever the number of rooms)."""
        for name in self.nodes:
            await self._refresh(name)
        return [BroadcastNodeHealth(name, load.answered, load.listeners) for name, load in self._load.items()]

    # --- rooms and tickets ---------------------------------------------------------------------------------------

    def carries(self, node: BroadcastNode, room_id: str) -> bool:
        return node.name in self._rooms.get(room_id, set())

    async def register_room(self, node: BroadcastNode, room_id: str, key: ForwardKey) -> None:
        """Let ``room_id``'s forward (its SSRC, encrypted with ``key``) feed ``node``; the node replaces the room's
        earlier key, if any."""
        body = {"ssrc": stream_ssrc(room_id), "srtp": key.as_json()}
        await self._control("PUT", node.name, f"/v1/rooms/{quote(room_id, safe='')}", body)
        self._rooms.setdefault(room_id, set()).add(node.name)
        self._registered_at[room_id, node.name] = time.monotonic()

    def forget_node(self, name: str) -> None:
        """A node restarted with nothing: its rooms must be registered again before the next listener."""
        for names in self._rooms.values():
            names.discard(name)
        self._load[name] = _Load()

    def grant(self, node: BroadcastNode, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        expires_at = int(self._now()) + self._ttl
        ticket = sign_ticket(
            self._secret, room=room_id, user=user_id, conn=connection_id, node=node.name,
            expires_at=expires_at, nonce=secrets.token_urlsafe(18),
        )  # fmt: skip
        self._load[node.name].listeners += 1  # until the node's next stats say otherwise
        url = f"{node.public_url.rstrip('/')}/v1/stream/{quote(room_id, safe='')}?ticket={quote(ticket, safe='')}"
        return StreamGrant(url=url, expires_at=expires_at)

    async def cut(self, room_id: str, user_ids: list[str], reason: str) -> None:
        """End these members' streams of the room at once, on every node carrying it."""
        for name in sorted(self._rooms.get(room_id, set())):
            path = f"/v1/rooms/{quote(room_id, safe='')}/cut"
            await self._control("POST", name, path, {"user_ids": user_ids, "reason": reason})

    async def end_room(self, room_id: str, reason: str = "room_ended") -> None:
        """End every stream of the room with this notice and forget it, on every node carrying it."""
        for name in sorted(self._rooms.pop(room_id, set())):
            self._registered_at.pop((room_id, name), None)
            await self._control("DELETE", name, f"/v1/rooms/{quote(room_id, safe='')}?reason={reason}")

    async def listeners(self, room_id: str) -> int:
        """How many streams of the room the nodes carry now."""
        total = 0
        for name in sorted(self._rooms.get(room_id, set())):
            stats = await self._control("GET", name, "/v1/stats")
            room = stats.get("rooms", {}).get(room_id, {})
            total += int(room.get("listeners", 0))
        return total

    async def _control(self, method: str, name: str, path: str, body: Any = None) -> dict[str, Any]:
        url = self.nodes[name].control_url.rstrip("/") + path
        try:
            response = await self._http.request(method, url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise MediaUnavailable(f"broadcast node {name}: {exc!r}") from exc
        if response.status_code != 200:
            raise MediaUnavailable(f"broadcast node {name}: {method} {path} -> {response.status_code} {response.text}")
        answer: dict[str, Any] = response.json()
        return answer


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
