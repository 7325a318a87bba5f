"""The live event stream over real sockets: a uvicorn server in-process and the ``websockets`` client library.

Handshake (Origin, authentication), the protocol's replies and errors, subscribing (snapshot, resume, resync),
events matching a fresh snapshot, rate limits, sessions ending, removal, and a slow client dropped while others
receive everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from salon.app import accounts, sessions
from salon.app.ports import RoomMessage
from salon.app.rooms import NewRoom, create_room, get_snapshot
from salon.app.services import Services
from salon.app.settings import Settings
from salon.domain.room_view import Snapshot, apply_event
from salon.domain.rooms import RoomEventName, RoomType
from salon.store.database import Database
from salon.web.errors import (
    WS_CLOSE_NOT_AUTHENTICATED,
    WS_CLOSE_RATE_LIMITED,
    WS_CLOSE_SESSION_ENDED,
    WS_CLOSE_TOO_SLOW,
)
from salon.web.hub import Hub
from tests.support.live_server import serve
from tests.support.people import add_member
from tests.support.services import make_services

ORIGIN = Origin("http://127.0.0.1:8000")
TIMEOUT = 5.0

NOTE = cast(RoomEventName, "note")  # an event only the hub sees: it relays names it does not read


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        dev=True,
        secret_key="x" * 40,
        audience_batch_threshold=50,
        event_window=10,
        ws_messages_per_second=20,
    )


@pytest.fixture
async def services(database: Database, settings: Settings) -> Services:
    return make_services(settings, database, bus=Hub(settings))


@pytest.fixture
async def url(services: Services) -> AsyncIterator[str]:
    async with serve(services) as port:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"


class Member:
    def __init__(self, user_id: str, token: str, token_hash: str) -> None:
        self.id, self.token, self.token_hash = user_id, token, token_hash

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def member(
    services: Services, name: str, *, admin: bool = False, kind: sessions.SessionKind = "bearer"
) -> Member:
    user_id = await add_member(services, name, admin=admin)
    async with services.db.transaction() as conn:
        session = await sessions.create_session(services, conn, user_id, kind)
    return Member(user_id, session.token, session.token_hash)


class Client:
    """A test client: sends ops with a counter ``ref``, keeps frames it was not waiting for."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.refs = 0
        self.stash: list[dict[str, Any]] = []

    async def recv(self) -> dict[str, Any]:
        if self.stash:
            return self.stash.pop(0)
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        return frame

    async def expect(self, kind: str) -> dict[str, Any]:
        frame = await self.recv()
        assert frame["type"] == kind, frame
        return frame

    async def send(self, op: str, **data: Any) -> int:
        self.refs += 1
        await self.ws.send(json.dumps({"op": op, "ref": self.refs, "data": data}))
        return self.refs

    async def answer(self, ref: int) -> dict[str, Any]:
        """The reply or error for ``ref``; other frames meanwhile are kept for later ``recv``."""
        kept: list[dict[str, Any]] = []
        while True:
            frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
            if frame["type"] in {"reply", "error"} and frame["ref"] == ref:
                self.stash.extend(kept)
                return frame
            kept.append(frame)

    async def call(self, op: str, **data: Any) -> dict[str, Any]:
        frame = await self.answer(await self.send(op, **data))
        assert frame["type"] == "reply", frame
        result: dict[str, Any] = frame["data"]
        return result

    async def refused(self, op: str, **data: Any) -> str:
        frame = await self.answer(await self.send(op, **data))
        assert frame["type"] == "error", frame
        code: str = frame["error"]["code"]
        return code

    async def drain(self) -> list[dict[str, Any]]:
        """Read until the server closes: the frames meanwhile (the close code is in ``close_code``)."""
        frames: list[dict[str, Any]] = []
        with contextlib.suppress(ConnectionClosed):
            while True:
                frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT)))
        return frames

    async def closed_with(self) -> int | None:
        """Read until the server closes; the close code it sent."""
        await self.drain()
        return self.ws.close_code


def opener(url: str) -> Callable[..., Awaitable[Client]]:
    async def open_client(m: Member | None = None, *, origin: Origin | None = ORIGIN, **kwargs: Any) -> Client:
        headers = m.bearer if m is not None else None
        ws = await connect(
            url,
            additional_headers=headers,
            origin=origin,
            proxy=None,
            compression=None,
            **kwargs,
        )
        return Client(ws)

    return open_client


async def new_room(services: Services, mod: Member, kind: RoomType = RoomType.OPEN) -> str:
    view = await create_room(services, mod.id, NewRoom("Live", "", [], kind))
    room_id: str = view["room"]["id"]
    return room_id


async def test_handshake_checks_origin_and_authentication(services: Services, url: str) -> None:
    ann = await member(services, "ann")
    with pytest.raises(InvalidStatus) as caught:
        await connect(url, additional_headers=ann.bearer, origin=Origin("http://evil.example"), proxy=None)
    assert caught.value.response.status_code == 403

    browser = await member(services, "bob", kind="cookie")
    cookie = {"Cookie": f"salon_session={browser.token}"}
    with pytest.raises(InvalidStatus):  # a cookie needs an Origin
        await connect(url, additional_headers=cookie, proxy=None)
    async with connect(url, additional_headers=cookie, origin=ORIGIN, proxy=None) as ws:
        assert json.loads(await ws.recv()) == {"type": "hello", "user_id": browser.id, "protocol": 1}

    async with connect(url, additional_headers=ann.bearer, proxy=None) as ws:
        assert json.loads(await ws.recv())["user_id"] == ann.id, "bearer clients may omit Origin"

    for headers in (None, {"Authorization": "Bearer nope"}, {"Cookie": f"salon_session={ann.token}"}):
        client = Client(await connect(url, additional_headers=headers, origin=ORIGIN, proxy=None))
        assert await client.closed_with() == WS_CLOSE_NOT_AUTHENTICATED


async def test_protocol_errors_leave_the_connection_usable(services: Services, url: str) -> None:
    ann = await member(services, "ann")
    client = await opener(url)(ann)
    await client.expect("hello")
    await client.ws.send("{not json")
    frame = await client.expect("error")
    assert frame["ref"] is None
    assert frame["error"]["code"] == "invalid_input"
    assert await client.refused("dance") == "invalid_input"
    assert await client.refused("join", room_id=5) == "invalid_input"
    assert await client.refused("join", room_id="r", extra=True) == "invalid_input"
    assert await client.refused("set_hands_enabled", room_id="r", enabled="yes") == "invalid_input"
    await client.ws.send(json.dumps(["op", "ping"]))
    assert (await client.expect("error"))["error"]["code"] == "invalid_input"
    await client.ws.send("x" * 20_000)
    assert (await client.expect("error"))["error"]["code"] == "payload_too_large"
    assert await client.refused("join", room_id="no-such-room") == "not_found"
    assert await client.call("ping") == {}


@pytest.mark.parametrize("room_id", ["ab\x00cd", "ab\x1b[2Jcd", "ab cd", "ab\u202ecd"])
async def test_an_id_that_is_not_one_is_invalid_input_on_both_engines(
    services: Services, url: str, room_id: str
) -> None:
    """NUL in an id reached PostgreSQL, which cannot compare it: an internal error and a traceback."""
    ann = await member(services, "ann")
    client = await opener(url)(ann)
    await client.expect("hello")
    for op in ("subscribe", "join", "media_listen"):
        frame = await client.answer(await client.send(op, room_id=room_id))
        assert frame["type"] == "error", frame
        assert frame["error"]["code"] == "invalid_input", frame
    frame = await client.answer(await client.send("invite_up", room_id="r1", user_id=room_id))
    assert frame["error"]["code"] == "invalid_input", frame
    assert await client.call("ping") == {}


async def test_events_applied_to_the_snapshot_equal_a_fresh_snapshot(services: Services, url: str) -> None:
    """Every room op over the socket; a watching moderator applies each event and matches a fresh snapshot."""
    open_client = opener(url)
    mod, ann, bob, cat = [await member(services, n) for n in ("moda", "ann", "bob", "cat")]
    room = await new_room(services, mod)
    watcher, a, b = await open_client(mod), await open_client(ann), await open_client(bob)
    for c in (watcher, a, b):
        await c.expect("hello")
    reply = await watcher.call("subscribe", room_id=room)
    view: Snapshot = (await watcher.expect("snapshot"))["data"]
    assert view == await get_snapshot(services, mod.id, room)
    assert reply == {"room_id": room, "seq": view["seq"]}

    async def step(client: Client, op: str, **data: Any) -> None:
        nonlocal view
        seq = (await client.call(op, room_id=room, **data))["seq"]
        while view["seq"] < seq:
            frame = await watcher.expect("event")
            assert frame["room_id"] == room
            assert frame["seq"] == view["seq"] + 1, "no gap, no repeat"
            view = apply_event(view, frame["seq"], frame["name"], frame["data"])
        assert view == await get_snapshot(services, mod.id, room)

    await step(a, "join")
    await step(b, "join")
    await step(a, "raise_hand")
    await step(a, "lower_hand")
    await step(a, "raise_hand")
    await step(watcher, "invite_up", user_id=ann.id)
    await step(a, "accept_invite")
    await step(a, "self_mute", muted=False)
    await step(watcher, "mute", user_id=ann.id, lock=True)
    await step(watcher, "unlock_mute", user_id=ann.id)
    await step(watcher, "set_moderator", user_id=ann.id, make=True)
    await step(a, "set_moderator", user_id=ann.id, make=False)
    await step(watcher, "move_to_audience", user_id=ann.id)
    await step(watcher, "invite_up", user_id=bob.id)
    await step(b, "decline_invite")
    await step(watcher, "set_hands_enabled", enabled=False)
    assert await b.refused("raise_hand", room_id=room) == "hands_disabled"
    await step(watcher, "set_hands_enabled", enabled=True)
    await step(watcher, "let_in", user_id=cat.id)
    await step(b, "leave")
    await step(watcher, "remove", user_id=ann.id)
    await step(watcher, "end_room")
    assert view["room"]["ended_at"] is not None
    assert services.bus.subscribers(room) == 0  # type: ignore[attr-defined]


async def test_resume_sends_missed_events_or_resync(services: Services, url: str) -> None:
    open_client = opener(url)
    mod, ann = await member(services, "moda"), await member(services, "ann")
    room = await new_room(services, mod)
    watcher = await open_client(mod)
    await watcher.expect("hello")
    await watcher.call("subscribe", room_id=room)
    last = (await watcher.expect("snapshot"))["data"]["seq"]
    await watcher.ws.close()

    a = await open_client(ann)
    await a.call("join", room_id=room)
    await a.call("raise_hand", room_id=room)
    await a.call("lower_hand", room_id=room)

    watcher = await open_client(mod)
    await watcher.expect("hello")
    reply = await watcher.call("subscribe", room_id=room, last_seq=last)
    assert reply == {"room_id": room, "seq": last + 3}
    missed = [await watcher.expect("event") for _ in range(3)]
    assert [(f["seq"], f["name"]) for f in missed] == [
        (last + 1, "participant_joined"),
        (last + 2, "hand_raised"),
        (last + 3, "hand_lowered"),
    ]
    await a.call("raise_hand", room_id=room)
    assert (await watcher.expect("event"))["seq"] == last + 4, "then live"

    for _ in range(6):  # the retained window is 10 events
        await a.call("lower_hand", room_id=room)
        await a.call("raise_hand", room_id=room)
    late = await open_client(mod)
    await late.expect("hello")
    reply = await late.call("subscribe", room_id=room, last_seq=last)
    resync = await late.expect("resync")
    snap = await late.expect("snapshot")
    assert resync == {"type": "resync", "room_id": room, "seq": snap["data"]["seq"]}
    assert snap["data"] == await get_snapshot(services, mod.id, room)
    assert reply["seq"] == snap["data"]["seq"]


async def test_flooding_is_rate_limited_then_disconnected(services: Services, url: str) -> None:
    client = await opener(url)(await member(services, "ann"))
    await client.expect("hello")
    limit = services.settings.ws_messages_per_second
    for i in range(limit * 4):
        await client.ws.send(json.dumps({"op": "ping", "ref": i}))
    answers = await client.drain()
    assert client.ws.close_code == WS_CLOSE_RATE_LIMITED
    kinds = [a["type"] for a in answers]
    assert kinds[:limit] == ["reply"] * limit
    assert "error" in kinds
    assert {a["error"]["code"] for a in answers if a["type"] == "error"} == {"rate_limited"}
    assert len(answers) <= limit * 3


async def test_logging_out_or_being_disabled_closes_the_socket(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    server_logger = logging.getLogger("uvicorn")  # it does not propagate to the root, where caplog listens
    try:
        with caplog.at_level(logging.ERROR):
            async with serve(services) as port:
                server_logger.addHandler(caplog.handler)  # here: starting a server configures its loggers afresh
                await _log_out_and_disable_while_connected(services, f"ws://127.0.0.1:{port}/api/v1/ws")
    finally:
        server_logger.removeHandler(caplog.handler)
    # the server has stopped, so every endpoint ran to its end: an expected close is no error
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def _log_out_and_disable_while_connected(services: Services, url: str) -> None:
    open_client = opener(url)
    ann, admin = await member(services, "ann"), await member(services, "admin", admin=True)
    first, second = await open_client(ann), await open_client(ann)
    await first.expect("hello")
    await second.expect("hello")
    await sessions.end_session(services, ann.token_hash)
    assert await first.closed_with() == WS_CLOSE_SESSION_ENDED
    assert await second.closed_with() == WS_CLOSE_SESSION_ENDED

    bob = await member(services, "bob")
    client = await open_client(bob)
    await client.expect("hello")
    actor = sessions.Actor(admin.id, "admin", True, admin.token_hash)
    await accounts.disable_user(services, actor, bob.id)
    assert await client.closed_with() == WS_CLOSE_SESSION_ENDED
    refused = Client(await connect(url, additional_headers=bob.bearer, proxy=None))
    assert await refused.closed_with() == WS_CLOSE_NOT_AUTHENTICATED


async def test_a_removed_member_stops_receiving_the_room(services: Services, url: str) -> None:
    open_client = opener(url)
    mod, ann, bob = await member(services, "moda"), await member(services, "ann"), await member(services, "bob")
    room = await new_room(services, mod)
    m, a, b = await open_client(mod), await open_client(ann), await open_client(bob)
    for c in (m, a, b):
        await c.expect("hello")
    await b.call("subscribe", room_id=room)
    await b.expect("snapshot")
    await b.call("join", room_id=room)
    await a.call("join", room_id=room)
    await m.call("remove", room_id=room, user_id=bob.id)
    frames = [await b.recv() for _ in range(4)]
    assert [f.get("name", f["type"]) for f in frames] == [
        "participant_joined",
        "participant_joined",
        "participant_left",
        "removed",
    ]
    assert frames[-1] == {"type": "removed", "room_id": room, "reason": "removed"}
    await a.call("raise_hand", room_id=room)
    assert await b.call("ping") == {}
    assert b.stash == [], "no event of that room after the removal"
    assert await b.refused("subscribe", room_id=room) == "removed_from_room"
    assert await b.refused("join", room_id=room) == "removed_from_room"


async def test_rooms_one_cannot_see_are_not_found(services: Services, url: str) -> None:
    mod, ann = await member(services, "moda"), await member(services, "ann")
    room = await new_room(services, mod, RoomType.CLOSED)
    client = await opener(url)(ann)
    await client.expect("hello")
    assert await client.refused("subscribe", room_id=room) == "not_found"
    assert await client.refused("subscribe", room_id="nope") == "not_found"
    assert services.bus.subscribers(room) == 0  # type: ignore[attr-defined]


async def test_a_slow_client_is_dropped_and_the_others_get_everything(
    services: Services, settings: Settings, url: str
) -> None:
    hub = Hub(settings.model_copy(update={"ws_queue_size": 8}))
    services.bus = hub
    open_client = opener(url)
    mod, ann = await member(services, "moda"), await member(services, "ann")
    room = await new_room(services, mod)
    # A client that never reads: its library stops reading after one message, and its socket buffer is tiny.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    port = int(url.split(":")[2].split("/")[0])
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    slow = await open_client(ann, max_queue=1, sock=sock)
    fast = await open_client(mod)
    for c in (slow, fast):
        await c.expect("hello")
        await c.call("subscribe", room_id=room)
        await c.expect("snapshot")
    start = (await get_snapshot(services, mod.id, room))["seq"]
    total = 1000
    padding = "p" * 4000  # big events, so that the slow client's socket buffers fill up soon
    received: list[int] = []
    caught_up = asyncio.Event()

    async def publish() -> None:
        """A busy room: an event whenever the normal client has taken the previous one."""
        for i in range(1, total + 1):
            caught_up.clear()
            await hub.publish_room([RoomMessage(room, start + i, NOTE, {"i": i, "padding": padding})])
            await asyncio.wait_for(caught_up.wait(), TIMEOUT)

    async def read_all() -> None:
        while len(received) < total:
            received.append((await fast.expect("event"))["seq"])
            caught_up.set()

    await asyncio.gather(read_all(), publish())
    assert received == list(range(start + 1, start + total + 1)), "the normal client got every event, in order"
    assert hub.connection_count == 1, "the slow client was let go"
    seqs = [f["seq"] for f in await slow.drain()]
    assert slow.ws.close_code == WS_CLOSE_TOO_SLOW
    assert seqs == list(range(start + 1, start + 1 + len(seqs))), "what it got is in order, it resumes from there"
    assert len(seqs) < total
