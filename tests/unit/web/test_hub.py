"""The hub on its own, with in-memory sockets: fan-out, slow clients, subscriptions, removal and session ends."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from salon.app.ports import RoomMessage
from salon.app.settings import Settings
from salon.domain.rooms import RoomEventName
from salon.web import hub as hub_module
from salon.web.errors import WS_CLOSE_SESSION_ENDED, WS_CLOSE_TOO_SLOW
from salon.web.hub import Connection, Hub


class FakeSocket:
    """Records what it was sent; ``stalled`` makes it a client that never reads (every send hangs)."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str | None] | None = None
        self.stalled = stalled

    async def send_text(self, data: str) -> None:
        if self.stalled:
            await asyncio.Event().wait()
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)

    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(t) for t in self.sent]

    def events(self) -> list[tuple[str, int, str]]:
        return [(f["room_id"], f["seq"], f["name"]) for f in self.frames() if f["type"] == "event"]


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return Hub(Settings(data_dir=tmp_path, dev=True, secret_key="x" * 40, ws_queue_size=8))


def msg(room: str, seq: int, name: RoomEventName = "hand_raised", **data: Any) -> RoomMessage:
    return RoomMessage(room, seq, name, data or {"n": seq})


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def connect(hub: Hub, sock: FakeSocket, user_id: str, session_hash: str) -> Connection:
    conn = hub.connect(sock, user_id, session_hash)
    assert conn is not None
    return conn


def follow(hub: Hub, conn: Connection, room: str, seq: int = 0) -> None:
    hub.begin_subscribe(conn, room)
    assert hub.finish_subscribe(conn, room, [], seq)


async def test_events_reach_subscribers_only_serialised_once(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = hub_module.dumps

    def counting(frame: dict[str, Any]) -> str:
        nonlocal calls
        calls += 1
        return real(frame)

    monkeypatch.setattr(hub_module, "dumps", counting)
    sockets = [FakeSocket() for _ in range(50)]
    conns = [connect(hub, s, f"u{i}", f"s{i}") for i, s in enumerate(sockets)]
    for c in conns[:40]:
        follow(hub, c, "r1")
    outsider = conns[45]
    await hub.publish_room([msg("r1", 1)])
    assert calls == 1, "one serialisation per event, whatever the audience"
    queued = {id(c.queue.get_nowait()) for c in conns[:40]}
    assert len(queued) == 1, "every subscriber gets the same string"
    assert outsider.queue.empty()


async def test_frames_are_delivered_in_order(hub: Hub) -> None:
    sock = FakeSocket()
    conn = connect(hub, sock, "u", "s")
    follow(hub, conn, "r1")
    await hub.publish_room([msg("r1", 1), msg("r1", 2)])
    await hub.publish_room([msg("r2", 1), msg("r1", 3)])
    await settle()
    assert sock.events() == [("r1", 1, "hand_raised"), ("r1", 2, "hand_raised"), ("r1", 3, "hand_raised")]
    assert sock.frames()[0] == {"type": "event", "room_id": "r1", "seq": 1, "name": "hand_raised", "data": {"n": 1}}


async def test_a_client_that_never_reads_is_dropped_without_slowing_anyone(hub: Hub) -> None:
    slow_sock, fast_sock = FakeSocket(stalled=True), FakeSocket()
    slow, fast = connect(hub, slow_sock, "slow", "s1"), connect(hub, fast_sock, "fast", "s2")
    follow(hub, slow, "r")
    follow(hub, fast, "r")
    started = time.perf_counter()
    for seq in range(1, 101):
        await asyncio.wait_for(hub.publish_room([msg("r", seq)]), timeout=0.5)  # never waits on a client
        await asyncio.sleep(0)  # let the fast sender drain, as the loop would between commands
    elapsed = time.perf_counter() - started
    assert slow.closed
    assert slow.close_code == WS_CLOSE_TOO_SLOW
    assert hub.subscribers("r") == 1
    await settle()
    assert slow_sock.closed == (WS_CLOSE_TOO_SLOW, "too slow")
    assert [seq for _, seq, _ in fast_sock.events()] == list(range(1, 101))
    assert elapsed < 1.0
    assert not hub.send(slow, {"type": "reply"}), "nothing more is queued for a dropped client"


async def test_room_ended_is_delivered_then_unsubscribes(hub: Hub) -> None:
    sock = FakeSocket()
    conn = connect(hub, sock, "u", "s")
    follow(hub, conn, "r")
    await hub.publish_room([msg("r", 1, "room_ended", ended_at="x")])
    await hub.publish_room([msg("r", 2)])
    await settle()
    assert sock.events() == [("r", 1, "room_ended")]
    assert hub.subscribers("r") == 0
    assert conn.rooms == set()


async def test_leave_room_sends_removed_and_stops_that_rooms_events(hub: Hub) -> None:
    ann_phone, ann_laptop, bob = FakeSocket(), FakeSocket(), FakeSocket()
    a1 = connect(hub, ann_phone, "ann", "s1")
    a2 = connect(hub, ann_laptop, "ann", "s2")
    b = connect(hub, bob, "bob", "s3")
    for c in (a1, a2, b):
        follow(hub, c, "r")
    follow(hub, a1, "other")
    await hub.leave_room("r", "ann", "removed")
    await hub.publish_room([msg("r", 1), msg("other", 1)])
    await settle()
    for sock in (ann_phone, ann_laptop):
        assert sock.frames()[0] == {"type": "removed", "room_id": "r", "reason": "removed"}
        assert ("r", 1, "hand_raised") not in sock.events()
    assert ann_phone.events() == [("other", 1, "hand_raised")], "other rooms keep flowing"
    assert bob.events() == [("r", 1, "hand_raised")]
    await hub.leave_room("r", "ann", "removed")
    await settle()
    assert len(ann_phone.frames()) == 2, "no second notice for a room not followed"


async def test_subscribing_buffers_until_the_start_is_sent(hub: Hub) -> None:
    sock = FakeSocket()
    conn = connect(hub, sock, "u", "s")
    hub.begin_subscribe(conn, "r")
    await hub.publish_room([msg("r", 5), msg("r", 6)])  # 5 is in the snapshot being loaded, 6 is not
    await settle()
    assert sock.sent == []
    assert hub.finish_subscribe(conn, "r", [{"type": "snapshot", "room_id": "r", "data": {"seq": 5}}], 5)
    await hub.publish_room([msg("r", 7)])
    await settle()
    assert [f["type"] for f in sock.frames()] == ["snapshot", "event", "event"]
    assert [seq for _, seq, _ in sock.events()] == [6, 7]


async def test_removal_while_subscribing_cancels_the_subscription(hub: Hub) -> None:
    sock = FakeSocket()
    conn = connect(hub, sock, "u", "s")
    hub.begin_subscribe(conn, "r")
    await hub.leave_room("r", "u", "removed")
    assert not hub.finish_subscribe(conn, "r", [{"type": "snapshot"}], 0)
    await hub.publish_room([msg("r", 1)])
    await settle()
    assert [f["type"] for f in sock.frames()] == ["removed"]


async def test_subscribing_to_an_ended_room_does_not_stay_live(hub: Hub) -> None:
    conn = connect(hub, FakeSocket(), "u", "s")
    hub.begin_subscribe(conn, "r")
    await hub.publish_room([msg("r", 3, "room_ended")])
    assert hub.finish_subscribe(conn, "r", [], 2)
    assert hub.subscribers("r") == 0
    hub.begin_subscribe(conn, "q")
    assert hub.finish_subscribe(conn, "q", [], 9, ended=True)
    assert hub.subscribers("q") == 0


async def test_close_sessions_closes_only_those_sessions_at_once(hub: Hub) -> None:
    s1, s2, s3 = FakeSocket(), FakeSocket(), FakeSocket()
    c1, c2, c3 = connect(hub, s1, "ann", "h1"), connect(hub, s2, "ann", "h2"), connect(hub, s3, "bob", "h3")
    for c in (c1, c2, c3):
        follow(hub, c, "r")
    await hub.close_sessions(["h1"], "logged_out")
    assert c1.closed, "refused at once, before the socket is closed"
    assert not hub.send(c1, {"type": "reply"})
    await hub.publish_room([msg("r", 1)])
    await settle()
    assert s1.closed == (WS_CLOSE_SESSION_ENDED, "logged_out")
    assert s1.events() == []
    assert s2.events() == s3.events() == [("r", 1, "hand_raised")]
    assert hub.connection_count == 2


async def test_close_user_closes_every_connection_of_that_user(hub: Hub) -> None:
    s1, s2, s3 = FakeSocket(), FakeSocket(), FakeSocket()
    c1, c2, c3 = connect(hub, s1, "ann", "h1"), connect(hub, s2, "ann", "h2"), connect(hub, s3, "bob", "h3")
    await hub.close_user("ann", "disabled")
    await settle()
    assert c1.closed
    assert c2.closed
    assert not c3.closed
    assert s1.closed == s2.closed == (WS_CLOSE_SESSION_ENDED, "disabled")
    assert s3.closed is None


async def test_a_handshake_racing_a_log_out_is_refused(hub: Hub) -> None:
    before = hub.now()
    await hub.close_sessions(["h1"], "logged_out")
    await hub.close_user("bob", "disabled")
    assert hub.connect(FakeSocket(), "ann", "h1", before) is None, "authenticated before the session ended"
    assert hub.connect(FakeSocket(), "bob", "h9", before) is None, "authenticated before the user was disabled"
    assert hub.connect(FakeSocket(), "ann", "h2", before) is not None
    assert hub.connect(FakeSocket(), "bob", "h9", hub.now()) is not None, "a later log-in is fine"


async def test_publish_user_reaches_that_users_connections(hub: Hub) -> None:
    ann, bob = FakeSocket(), FakeSocket()
    connect(hub, ann, "ann", "h1")
    connect(hub, bob, "bob", "h2")
    await hub.publish_user("ann", "invite_accepted", {"by": "cat"})
    await settle()
    assert ann.frames() == [{"type": "user_event", "name": "invite_accepted", "data": {"by": "cat"}}]
    assert bob.sent == []


async def test_disconnect_forgets_the_connection(hub: Hub) -> None:
    conn = connect(hub, FakeSocket(), "u", "s")
    follow(hub, conn, "r")
    hub.begin_subscribe(conn, "q")
    hub.disconnect(conn)
    await settle()
    assert hub.connection_count == 0
    assert hub.subscribers("r") == 0
    assert not hub.finish_subscribe(conn, "q", [], 0)
    assert conn.sender is not None
    assert conn.sender.cancelled()


async def test_a_failing_socket_is_forgotten(hub: Hub) -> None:
    class Broken(FakeSocket):
        async def send_text(self, data: str) -> None:
            raise ConnectionResetError

    conn = connect(hub, Broken(), "u", "s")
    follow(hub, conn, "r")
    await hub.publish_room([msg("r", 1)])
    await settle()
    assert conn.closed
    assert hub.connection_count == 0


async def test_publishing_to_5000_connections_is_cheap(hub: Hub) -> None:
    conns = [connect(hub, FakeSocket(stalled=True), f"u{i}", f"s{i}") for i in range(5000)]
    for c in conns:
        follow(hub, c, "big")
    message = msg("big", 1, "listener_count", listener_count=5000)
    started = time.perf_counter()
    await hub.publish_room([message])
    elapsed = time.perf_counter() - started
    assert all(c.queue.qsize() == 1 for c in conns)
    assert elapsed < 0.25, f"publish to 5,000 took {elapsed * 1000:.1f} ms"
    await hub.close_all()


class FakeWriter:
    """A direct writer (``web.ws_server.FrameWriter``): takes frames at once unless ``paused``, like a socket whose
    buffer is full; ``write`` waits until it is resumed."""

    def __init__(self) -> None:
        self.wires: list[bytes] = []
        self.writable = asyncio.Event()
        self.writable.set()

    def write_now(self, wire: bytes) -> bool:
        if not self.writable.is_set():
            return False
        self.wires.append(wire)
        return True

    async def write(self, wire: bytes) -> None:
        await self.writable.wait()
        self.wires.append(wire)

    def texts(self) -> list[dict[str, Any]]:
        parsed = []
        for wire in self.wires:
            assert wire[0] == 0x81, "one unfragmented text frame"
            length = wire[1]
            assert length < 126 or length == 126, "test frames are short"
            start = 2 if length < 126 else 4
            parsed.append(json.loads(wire[start:]))
        return parsed

    def seqs(self) -> list[int]:
        return [f["seq"] for f in self.texts() if f["type"] == "event"]


def connect_direct(hub: Hub, user_id: str) -> tuple[Connection, FakeSocket, FakeWriter]:
    sock, writer = FakeSocket(), FakeWriter()
    conn = hub.connect(sock, user_id, f"s-{user_id}", writer=writer)
    assert conn is not None
    return conn, sock, writer


async def test_with_a_writer_events_are_written_at_once_encoded_once(hub: Hub) -> None:
    direct = [connect_direct(hub, f"u{i}") for i in range(30)]
    for conn, _, _ in direct:
        follow(hub, conn, "r")
    await hub.publish_room([msg("r", 1)])  # no await in between: nothing ran but the publish
    wires = [writer.wires for _, _, writer in direct]
    assert all(len(w) == 1 for w in wires), "written during the publish, no sender task involved"
    assert len({id(w[0]) for w in wires}) == 1, "one encoding shared by every subscriber"
    assert all(conn.queue.empty() for conn, _, _ in direct)
    assert direct[0][2].texts()[0] == {
        "type": "event",
        "room_id": "r",
        "seq": 1,
        "name": "hand_raised",
        "data": {"n": 1},
    }
    assert all(sock.sent == [] for _, sock, _ in direct), "the ASGI path was not used"


async def test_a_full_socket_queues_and_nothing_overtakes_what_is_queued(hub: Hub) -> None:
    conn, _, writer = connect_direct(hub, "u")
    follow(hub, conn, "r")
    writer.writable.clear()  # the socket's buffer is full
    await hub.publish_room([msg("r", 1), msg("r", 2)])
    assert writer.wires == []
    assert conn.queue.qsize() == 2
    writer.writable.set()  # it drains; the next event must still come after 1 and 2
    await hub.publish_room([msg("r", 3)])
    assert hub.send(conn, {"type": "reply", "ref": "x", "data": {}})
    await settle()
    assert writer.seqs() == [1, 2, 3]
    assert writer.texts()[-1]["type"] == "reply"
    await hub.publish_room([msg("r", 4)])
    assert writer.seqs() == [1, 2, 3, 4], "with the queue empty again, written at once"


async def test_a_socket_that_stays_full_is_dropped(hub: Hub) -> None:
    slow, slow_sock, slow_writer = connect_direct(hub, "slow")
    fast, _, fast_writer = connect_direct(hub, "fast")
    follow(hub, slow, "r")
    follow(hub, fast, "r")
    slow_writer.writable.clear()
    for seq in range(1, 21):
        await hub.publish_room([msg("r", seq)])
    assert slow.closed
    assert slow.close_code == WS_CLOSE_TOO_SLOW
    await settle()
    assert slow_sock.closed == (WS_CLOSE_TOO_SLOW, "too slow")
    assert fast_writer.seqs() == list(range(1, 21))


async def test_signals_reach_live_followers_without_a_seq(hub: Hub) -> None:
    inside, pending, outside = FakeSocket(), FakeSocket(), FakeSocket()
    follow(hub, connect(hub, inside, "u1", "s1"), "r")
    hub.begin_subscribe(connect(hub, pending, "u2", "s2"), "r")
    connect(hub, outside, "u3", "s3")
    await hub.publish_signal("r", "speakers", {"user_ids": ["u1"]})
    await settle()
    assert inside.frames() == [{"type": "signal", "room_id": "r", "name": "speakers", "data": {"user_ids": ["u1"]}}]
    assert pending.sent == outside.sent == [], "passing state: not buffered for subscriptions being set up"


async def test_a_new_follower_learns_who_is_speaking_now(hub: Hub) -> None:
    # "speakers" only comes when the set changes: someone who arrives while a person talks must still see the ring.
    await hub.publish_signal("r", "speakers", {"user_ids": ["u1"]})
    late = FakeSocket()
    follow(hub, connect(hub, late, "u2", "s2"), "r")
    await settle()
    assert late.frames()[-1] == {"type": "signal", "room_id": "r", "name": "speakers", "data": {"user_ids": ["u1"]}}

    await hub.publish_signal("r", "speakers", {"user_ids": []})  # nobody speaks any more: nothing to tell
    later = FakeSocket()
    follow(hub, connect(hub, later, "u3", "s3"), "r")
    await hub.publish_signal("r", "media_reset", {})  # a passing signal is never replayed
    even_later = FakeSocket()
    follow(hub, connect(hub, even_later, "u4", "s4"), "r")
    await settle()
    assert [f["name"] for f in later.frames()] == ["media_reset"]
    assert even_later.frames() == []


async def test_an_ended_room_forgets_its_speakers(hub: Hub) -> None:
    await hub.publish_signal("r", "speakers", {"user_ids": ["u1"]})
    await hub.publish_room([msg("r", 1, "room_ended", ended_at="t")])
    sock = FakeSocket()
    follow(hub, connect(hub, sock, "u2", "s2"), "r", seq=1)
    await settle()
    assert sock.frames() == []
