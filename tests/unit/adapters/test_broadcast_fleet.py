"""The broadcast fleet as the media port uses it: placing listeners, tickets the workers will accept, and the
control API's calls — against a stand-in of the workers' control port (httpx's MockTransport)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from salon.adapters.broadcast import fleet as fleet_module
from salon.adapters.broadcast.fleet import BroadcastFleet, BroadcastNode, stream_ssrc
from salon.app.ports import MediaFull, MediaUnavailable
from salon.domain.forward_keys import DEFAULT_SUITE, KEY_BYTES, ForwardKey
from salon.domain.stream_tickets import control_token, verify_ticket

SECRET = "s" * 64
NOW = 1_800_000_000.0
KEY = ForwardKey(DEFAULT_SUITE, bytes(range(KEY_BYTES)))


class Workers:
    """What the control ports were asked, and the listener counts and rooms they report."""

    def __init__(self, listeners: dict[str, int]) -> None:
        self.listeners = listeners
        self.calls: list[tuple[str, str, str, Any]] = []
        self.down: set[str] = set()
        self.rooms: dict[str, set[str]] = {"w0": set(), "w1": set()}

    def handle(self, request: httpx.Request) -> httpx.Response:
        name = {"1001": "w0", "1002": "w1"}[str(request.url.port)]
        if request.headers.get("authorization") != f"Bearer {control_token(SECRET)}":
            return httpx.Response(401, json={"code": "not_authenticated", "message": "", "data": {}})
        if name in self.down:
            raise httpx.ConnectError("refused", request=request)
        body = json.loads(request.content) if request.content else None
        self.calls.append((name, request.method, request.url.path, body))
        if request.url.path == "/v1/stats":
            rooms = {room: {"listeners": 0} for room in self.rooms[name]}
            return httpx.Response(200, json={"listeners": self.listeners[name], "rooms": rooms})
        room = request.url.path.removeprefix("/v1/rooms/")
        if request.method == "PUT":
            self.rooms[name].add(room)
        elif request.method == "DELETE":
            self.rooms[name].discard(room)
        return httpx.Response(200, json={})


def fleet(workers: Workers, *, max_listeners: int = 100, handler: Any = None) -> BroadcastFleet:
    nodes = [
        BroadcastNode(name, f"http://127.0.0.1:{2000 + i}", f"http://127.0.0.1:{1001 + i}", "127.0.0.1", 3000 + i)
        for i, name in enumerate(("w0", "w1"))
    ]
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler or workers.handle))
    return BroadcastFleet(nodes, SECRET, max_listeners=max_listeners, http_client=http, now=lambda: NOW)


async def test_a_listener_goes_to_the_least_loaded_worker_then_stays_with_the_room() -> None:
    workers = Workers({"w0": 50, "w1": 10})
    f = fleet(workers)
    node = await f.place("room1")
    assert node.name == "w1"
    await f.register_room(node, "room1", KEY)
    srtp = {"suite": "AES_CM_128_HMAC_SHA1_80", "key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"}
    assert ("w1", "PUT", "/v1/rooms/room1", {"ssrc": stream_ssrc("room1"), "srtp": srtp}) in workers.calls
    workers.listeners["w1"] = 60  # now busier, but it carries the room: one forward fewer for Janus
    f.forget_node("w0")  # (fresh stats for both on the next placement)
    f.forget_node("w1")
    await f.register_room(node, "room1", KEY)
    assert (await f.place("room1")).name == "w1"
    assert (await f.place("room2")).name == "w0", "a room nobody carries goes to the least loaded"


async def test_full_workers_refuse_and_a_silent_one_counts_as_full() -> None:
    workers = Workers({"w0": 100, "w1": 3})
    workers.down.add("w1")
    with pytest.raises(MediaFull):
        await fleet(workers).place("room1")


async def test_the_ticket_in_the_url_is_one_the_worker_accepts_for_that_member_and_room() -> None:
    f = fleet(Workers({"w0": 0, "w1": 0}))
    node = await f.place("room1")
    grant = f.grant(node, "room1", "ann", "conn-7")
    parts = urlsplit(grant.url)
    assert parts.netloc == "127.0.0.1:2000"
    assert parts.path == "/v1/stream/room1"
    ticket = verify_ticket(SECRET, unquote(parse_qs(parts.query)["ticket"][0]), node="w0", now=NOW)
    assert (ticket.room, ticket.user, ticket.conn) == ("room1", "ann", "conn-7")
    assert grant.expires_at == int(NOW) + 30
    other = f.grant(node, "room1", "ann", "conn-7")
    assert other.url != grant.url, "every ticket has its own nonce"


async def test_cuts_and_the_end_go_to_every_worker_carrying_the_room_and_only_there() -> None:
    workers = Workers({"w0": 0, "w1": 0})
    f = fleet(workers)
    for node in f.nodes.values():
        await f.register_room(node, "room1", KEY)
    workers.calls.clear()
    await f.cut("room1", ["ann"], "removed")
    await f.cut("elsewhere", ["ann"], "removed")  # carried nowhere: nobody is asked
    assert workers.calls == [
        ("w0", "POST", "/v1/rooms/room1/cut", {"user_ids": ["ann"], "reason": "removed"}),
        ("w1", "POST", "/v1/rooms/room1/cut", {"user_ids": ["ann"], "reason": "removed"}),
    ]
    workers.calls.clear()
    await f.end_room("room1")
    assert [(c[0], c[1]) for c in workers.calls] == [("w0", "DELETE"), ("w1", "DELETE")]
    workers.calls.clear()
    await f.end_room("room1")
    assert workers.calls == [], "ended once: forgotten"


async def test_ending_a_room_tells_its_listeners_why() -> None:
    reasons: list[str | None] = []
    workers = Workers({"w0": 0, "w1": 0})

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            reasons.append(request.url.params.get("reason"))
        return workers.handle(request)

    f = fleet(workers, handler=handler)
    for room in ("ended", "stays_live"):
        await f.register_room(f.nodes["w0"], room, KEY)
    await f.end_room("ended")
    await f.end_room("stays_live", "shutting_down")  # Salon stops; the room goes on after the restart
    assert reasons == ["room_ended", "shutting_down"]


async def test_a_worker_that_cannot_be_reached_is_media_unavailable() -> None:
    workers = Workers({"w0": 0, "w1": 0})
    f = fleet(workers)
    node = f.nodes["w0"]
    workers.down.add("w0")
    with pytest.raises(MediaUnavailable):
        await f.register_room(node, "room1", KEY)
    assert not f.carries(node, "room1")


async def test_a_worker_that_lost_its_rooms_is_seen_not_to_carry_them_any_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet_module, "STATS_MAX_AGE_S", 0.0)  # every placement reads the stats
    workers = Workers({"w0": 0, "w1": 0})
    f = fleet(workers)
    node = f.nodes["w0"]
    await f.register_room(node, "room1", KEY)
    await f.register_room(node, "room2", KEY)
    await f.place("room1")
    assert f.carries(node, "room1")
    workers.rooms["w0"] = {"room2"}  # restarted, and someone registered room2 again (another box's Salon does not)
    await f.place("room1")
    assert not f.carries(node, "room1"), "room1 must be registered again, with a new forward"
    assert f.carries(node, "room2")


async def test_a_room_registered_while_the_stats_were_asked_for_is_not_taken_for_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fleet_module, "STATS_MAX_AGE_S", 0.0)
    workers = Workers({"w0": 0, "w1": 0})
    release = asyncio.Event()

    async def slow_stats(request: httpx.Request) -> httpx.Response:
        answer = workers.handle(request)  # the node's rooms as they are when asked: none yet
        if request.url.path == "/v1/stats":
            await release.wait()
        return answer

    f = fleet(workers, handler=slow_stats)
    node = f.nodes["w0"]
    placing = asyncio.create_task(f.place("room1"))
    await asyncio.sleep(0.01)  # the stats are asked for
    await f.register_room(node, "room1", KEY)
    release.set()
    await placing
    assert f.carries(node, "room1")


def test_the_ssrc_is_the_rooms_own_and_never_zero() -> None:
    assert stream_ssrc("room1") == stream_ssrc("room1")
    assert stream_ssrc("room1") != stream_ssrc("room2")
    assert all(0 < stream_ssrc(f"r{i}") < 2**32 for i in range(1000))


def test_the_origins_are_the_workers_public_ones() -> None:
    assert fleet(Workers({"w0": 0, "w1": 0})).origins == ["http://127.0.0.1:2000", "http://127.0.0.1:2001"]


async def test_health_reads_each_workers_stats_once_and_says_which_did_not_answer() -> None:
    workers = Workers({"w0": 7, "w1": 3})
    workers.down.add("w1")
    f = fleet(workers)
    health = await f.health()
    assert [(h.name, h.up, h.listeners) for h in health] == [("w0", True, 7), ("w1", False, 100)]
    assert [c[:3] for c in workers.calls] == [("w0", "GET", "/v1/stats")]
    await f.health()  # within STATS_MAX_AGE_S: the stats just read serve again
    assert len(workers.calls) == 1
    workers.down.clear()
    f.forget_node("w1")
    assert [(h.name, h.up) for h in await f.health()] == [("w0", True), ("w1", True)]
