"""adapters/redis_bus/sequencer.py: each room's events reach the hub once and in order — gaps filled from a fake
database, duplicates dropped, rooms caught up after the bus was away — and adapters/redis_bus/bus.py's dispatch of
each message kind to the local hub (a ``RecordingBus``), with no Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import orjson
import pytest

from salon.adapters.redis_bus.bus import RedisBus
from salon.adapters.redis_bus.sequencer import RoomSequencer
from salon.app.fakes import RecordingBus
from salon.app.ports import RoomMessage
from salon.domain.rooms import ROOM_ENDED, RoomEventName

NOTE = cast(RoomEventName, "note")


def msg(room: str, seq: int, name: RoomEventName = NOTE) -> RoomMessage:
    return RoomMessage(room, seq, name, {"seq": seq})


class FakeStore:
    """The committed events of each room, with a retained window like the database's."""

    def __init__(self) -> None:
        self.events: dict[str, list[RoomMessage]] = {}
        self.fetches: list[tuple[str, int]] = []
        self.gate: asyncio.Event | None = None  # when set, a fetch waits for it
        self.fetching = asyncio.Event()

    def commit(self, room: str, upto: int, name: RoomEventName = NOTE) -> list[RoomMessage]:
        events = self.events.setdefault(room, [])
        start = events[-1].seq + 1 if events else 1
        new = [msg(room, s, name if s == upto else NOTE) for s in range(start, upto + 1)]
        events.extend(new)
        return new

    def forget_before(self, room: str, seq: int) -> None:
        self.events[room] = [m for m in self.events[room] if m.seq >= seq]

    async def fetch(self, room: str, after: int) -> list[RoomMessage]:
        self.fetches.append((room, after))
        self.fetching.set()
        if self.gate is not None:
            await self.gate.wait()
        return [m for m in self.events.get(room, []) if m.seq > after]


def seqs(hub: RecordingBus, room: str = "r") -> list[int]:
    return [m.seq for m in hub.rooms if m.room_id == room]


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def hub() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def seq(store: FakeStore, hub: RecordingBus) -> RoomSequencer:
    return RoomSequencer(hub.publish_room, store.fetch)


async def test_in_order_messages_pass_and_copies_are_dropped(
    store: FakeStore, hub: RecordingBus, seq: RoomSequencer
) -> None:
    events = store.commit("r", 3)
    for m in events:
        await seq.offer([m])
    await seq.offer([events[1]])  # a copy (the publisher's echo, or already filled)
    assert seqs(hub) == [1, 2, 3]
    assert seq.duplicates == 1
    assert store.fetches == [], "nothing missing: no database read"


async def test_a_missed_message_is_read_from_the_database_before_the_next(
    store: FakeStore, hub: RecordingBus, seq: RoomSequencer
) -> None:
    events = store.commit("r", 5)
    await seq.offer([events[0]])
    await seq.offer([events[3]])  # 2 and 3 were lost on the bus
    await seq.offer([events[1]])  # a late copy of one of them
    await seq.offer([events[4]])
    assert seqs(hub) == [1, 2, 3, 4, 5]
    assert store.fetches == [("r", 1)]
    assert (seq.events_filled, seq.events_lost, seq.duplicates) == (2, 0, 1)


async def test_events_out_of_the_window_are_counted_lost_and_the_rest_delivered(
    store: FakeStore, hub: RecordingBus, seq: RoomSequencer
) -> None:
    events = store.commit("r", 6)
    await seq.offer([events[0]])
    store.forget_before("r", 4)  # 2 and 3 left the retained window
    await seq.offer([events[5]])
    assert seqs(hub) == [1, 4, 5, 6], "clients see the hole and resubscribe (resync)"
    assert (seq.events_filled, seq.events_lost) == (2, 2)


async def test_a_gap_right_before_the_message_is_counted_lost(
    store: FakeStore, hub: RecordingBus, seq: RoomSequencer
) -> None:
    events = store.commit("r", 3)
    await seq.offer([events[0]])
    store.forget_before("r", 3)
    await seq.offer([events[2]])
    assert seqs(hub) == [1, 3]
    assert seq.events_lost == 1


async def test_a_subscriber_snapshot_makes_a_room_known(
    store: FakeStore, hub: RecordingBus, seq: RoomSequencer
) -> None:
    events = store.commit("r", 4)
    seq.known("r", 2)  # a connection here loaded the room's snapshot at seq 2
    seq.known("r", 1)  # a later, older snapshot changes nothing
    await seq.offer([events[3]])  # 3 was lost
    assert seqs(hub) == [3, 4]
    unknown = store.commit("s", 7)
    await seq.offer([unknown[6]])  # no one here followed "s": its first message starts it
    assert seqs(hub, "s") == [7]


async def test_catching_up_delivers_every_known_room_tail_but_not_ended_rooms(
    store: FakeStore, hub: RecordingBus, seq: RoomSequencer
) -> None:
    await seq.offer(store.commit("r", 2))
    await seq.offer(store.commit("ended", 3, ROOM_ENDED))
    store.commit("r", 4)  # committed while Redis was away: nobody heard of them
    store.commit("quiet", 1)
    await seq.catch_up()
    assert seqs(hub) == [1, 2, 3, 4]
    assert ("ended", 3) not in store.fetches
    await seq.offer([msg("ended", 3, ROOM_ENDED)])  # a late copy of an ended room's last event
    assert seqs(hub, "ended") == [1, 2, 3]


async def test_a_fill_in_progress_holds_the_room_next_message(
    store: FakeStore, hub: RecordingBus, seq: RoomSequencer
) -> None:
    events = store.commit("r", 4)
    await seq.offer([events[0]])
    store.gate = asyncio.Event()
    filling = asyncio.create_task(seq.offer([events[2]]))  # 2 is missing: reads the database
    await store.fetching.wait()
    following = asyncio.create_task(seq.offer([events[3]]))
    for _ in range(5):
        await asyncio.sleep(0)
    assert seqs(hub) == [1], "4 waits while 2 and 3 are read"
    store.gate.set()
    await asyncio.gather(filling, following)
    assert seqs(hub) == [1, 2, 3, 4]


async def test_the_ended_memory_is_bounded(
    store: FakeStore, hub: RecordingBus, seq: RoomSequencer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("salon.adapters.redis_bus.sequencer.ENDED_MEMORY", 2)
    for room in ("a", "b", "c"):
        await seq.offer(store.commit(room, 1, ROOM_ENDED))
    assert seq.last_seq("a") is None
    assert seq.last_seq("c") == 1


async def test_a_fetch_is_needed_before_a_gap_can_be_filled(hub: RecordingBus) -> None:
    bare = RoomSequencer(hub.publish_room)
    await bare.offer([msg("r", 1)])
    with pytest.raises(RuntimeError):
        await bare.offer([msg("r", 3)])


# --- the bus's own messages, without Redis ------------------------------------------------------------------------


@pytest.fixture
async def bus(hub: RecordingBus, store: FakeStore) -> AsyncIterator[RedisBus]:
    made = RedisBus(hub, "redis://127.0.0.1:1/0")  # never connected: the client connects on first use
    made.sequencer.fetch = store.fetch
    yield made
    await made.stop()


def wire(body: dict[str, object], origin: str = "other") -> bytes:
    return orjson.dumps({**body, "o": origin})


async def test_each_message_kind_reaches_the_local_hub(bus: RedisBus, hub: RecordingBus) -> None:
    await bus._receive(wire({"k": "room", "m": [["r", 1, "note", {"x": 1}], ["r", 2, "note", {}]]}))
    await bus._receive(wire({"k": "user", "u": "ann", "n": "ping", "d": {"a": 1}}))
    await bus._receive(wire({"k": "signal", "r": "r", "n": "speakers", "d": {"ann": True}}))
    await bus._receive(wire({"k": "opened", "r": "r2"}))
    await bus._receive(wire({"k": "close_sessions", "h": ["h1", "h2"], "why": "logged_out"}))
    await bus._receive(wire({"k": "close_user", "u": "bob", "why": "disabled"}))
    await bus._receive(wire({"k": "leave_room", "r": "r", "u": "cy", "why": "removed"}))
    assert hub.rooms == [RoomMessage("r", 1, NOTE, {"x": 1}), RoomMessage("r", 2, NOTE, {})]
    assert hub.users == [("ann", "ping", {"a": 1})]
    assert hub.signals == [("r", "speakers", {"ann": True})]
    assert hub.opened == ["r2"]
    assert hub.closed_sessions == ["h1", "h2"]
    assert hub.closed_users == ["bob"]
    assert hub.left == [("r", "cy")]
    assert bus.received == 7


async def test_own_and_broken_messages_are_skipped(
    bus: RedisBus, hub: RecordingBus, caplog: pytest.LogCaptureFixture
) -> None:
    await bus._receive(wire({"k": "close_user", "u": "bob", "why": "x"}, origin=bus.origin))
    assert hub.closed_users == [], "the publisher delivered its own already"
    await bus._receive(b"{not json")
    await bus._receive(wire({"k": "room", "m": [["r", 1]]}))
    await bus._receive(wire({"k": "from_the_future"}))
    assert hub.rooms == []
    assert "could not handle" in caplog.text
    assert "unknown message kind" in caplog.text


async def test_publishing_while_redis_is_away_still_delivers_here(bus: RedisBus, hub: RecordingBus) -> None:
    assert not bus.connected
    await bus.publish_room([msg("r", 1)])
    await bus.publish_user("ann", "ping", {})
    await bus.publish_signal("r", "speakers", {})
    await bus.room_opened("r")
    await bus.close_sessions(["h"], "x")
    await bus.close_user("bob", "x")
    await bus.leave_room("r", "cy", "x")
    assert seqs(hub) == [1]
    assert (hub.users, hub.signals, hub.opened) == ([("ann", "ping", {})], [("r", "speakers", {})], ["r"])
    assert (hub.closed_sessions, hub.closed_users, hub.left) == (["h"], ["bob"], [("r", "cy")])
    assert bus.publish_skipped == 7
