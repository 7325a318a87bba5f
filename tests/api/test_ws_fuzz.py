"""Fuzzing the live event stream over a real socket, on every engine: whatever a client sends, it gets a clean
``error`` frame (or, past the protocol's limits, a clean close with the documented code), the connection stays
usable, and the server logs no fault (the log check of tests/api/conftest.py).

Malformed and oversized frames, text and binary, unknown ops, wrong types in every op's data (Hypothesis, from the
ops' own models: ``ws_protocol.WS_OPS``), hostile strings, bogus ``last_seq`` and a subscribe flood. Bounded and
derandomised, like the API fuzz test.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from salon.app.rooms import NewRoom, create_room
from salon.domain.rooms import RoomType
from salon.web import ws_protocol
from salon.web.ws import MAX_SUBSCRIPTIONS
from tests.support.people import add_member
from tests.support.served import LiveApi, served

pytestmark = pytest.mark.slow

TIMEOUT = 10
EXAMPLES_PER_OP = 25
# The refusals a message may get; `internal` (a fault on our side) is never one of them.
REFUSALS = {
    "invalid_input",
    "payload_too_large",
    "not_found",
    "not_allowed",
    "not_in_room",
    "room_ended",
    "removed_from_room",
    "conflict",
    "hands_disabled",
    "mute_locked",
    "last_moderator",
    "self_target",
    "blocked",
    "room_full",
    "media_unavailable",
}
WS_MAX_SIZE = 65536  # ws_server.UVICORN_WS_OPTIONS: a bigger frame is refused by the protocol itself (close 1009)


@pytest.fixture
def live_api(db_url: str, tmp_path: Path) -> Iterator[LiveApi]:
    # A rate high enough that the fuzzer meets the protocol's other rules, not only `rate_limited`.
    with served(db_url, tmp_path, ws_messages_per_second=100_000) as api:
        yield api


class Socket:
    """A bearer client: sends raw frames, reads the frame that answers a ``ref``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        hello = self.frame()
        assert hello["type"] == "hello", hello

    def frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=TIMEOUT))
        return frame

    def answer(self, raw: str | bytes) -> dict[str, Any]:
        """Send ``raw``; the reply or error frame that answers it (other frames meanwhile are skipped): the one with
        the message's ``ref`` as the server reads it (none when it cannot read one)."""
        ref = ws_protocol.ref_of(_decoded(raw))
        self.ws.send(raw)
        while True:
            frame = self.frame()
            if frame["type"] in {"reply", "error"} and frame["ref"] == ref:
                return frame

    def refused(self, raw: str | bytes) -> str:
        frame = self.answer(raw)
        assert frame["type"] == "error", frame
        assert set(frame["error"]) == {"code", "message", "data"}, frame
        code: str = frame["error"]["code"]
        return code

    def still_usable(self) -> None:
        assert self.answer(json.dumps({"op": "ping", "ref": "alive", "data": {}}))["type"] == "reply"

    def close_code(self) -> int | None:
        """Read until the server closes; the code it closed with."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                self.frame()
        return self.ws.close_code


@contextmanager
def opened(api: LiveApi) -> Iterator[Socket]:
    url = api.base_url.replace("http://", "ws://") + "/api/v1/ws"
    bearer = {"Authorization": f"Bearer {api.token}"}
    with connect(url, additional_headers=bearer, proxy=None, compression=None) as ws:
        yield Socket(ws)


@pytest.fixture
def socket(live_api: LiveApi) -> Iterator[Socket]:
    with opened(live_api) as client:
        yield client


def op(name: str, data: object, ref: object = 1) -> str:
    return json.dumps({"op": name, "ref": ref, "data": data})


def test_malformed_frames_get_an_error_frame(socket: Socket) -> None:
    room = "r" * 24
    invalid = [
        "{not json",
        "",
        "null",
        "[]",
        "42",
        '"text"',
        "[" * 5000 + "]" * 5000,  # deeper than the decoder goes
        '{"op": "ping", "ref": 1, "data": {}',  # cut short
        '{"op": "ping", "ref": 1, "data": {"x": "\\ud800"}}',  # a lone surrogate
        json.dumps({"ref": 1, "data": {}}),  # no op
        json.dumps({"op": None, "data": {}}),
        json.dumps({"op": 7, "data": {}}),
        json.dumps({"op": "dance", "data": {}}),
        json.dumps({"op": "PING", "data": {}}),
        json.dumps({"op": "ping", "ref": {"nested": 1}, "data": {}}),
        json.dumps({"op": "ping", "ref": True, "data": {}}),
        json.dumps({"op": "ping", "ref": "x" * 65, "data": {}}),
        json.dumps({"op": "ping", "data": [], "ref": 1}),
        json.dumps({"op": "ping", "data": {"extra": 1}, "ref": 1}),
        json.dumps({"op": "subscribe", "ref": 1}),
        json.dumps({"op": "subscribe", "ref": 1, "data": None}),
        json.dumps({"op": "subscribe", "ref": 1, "data": {"room_id": room, "unknown": 1}}),
    ]
    for raw in invalid:
        assert socket.refused(raw) == "invalid_input", raw
        assert socket.refused(raw.encode()) == "invalid_input", f"binary {raw!r}"
    assert socket.refused(b"\xff\xfe\x00garbage") == "invalid_input"
    too_big = op("ping", {"pad": "x" * ws_protocol.MAX_MESSAGE_CHARS})
    assert socket.refused(too_big) == "payload_too_large"
    assert socket.refused(too_big.encode()) == "payload_too_large"
    socket.still_usable()


def _decoded(raw: str | bytes) -> object:
    """The message as the server decodes it (not past the size limit; orjson: no integer beyond 64 bits, no lone
    surrogate)."""
    if len(raw) > ws_protocol.MAX_MESSAGE_CHARS:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_a_frame_past_the_socket_limit_closes_cleanly(live_api: LiveApi, binary: bool) -> None:
    payload = "x" * (WS_MAX_SIZE + 1)
    with opened(live_api) as client:
        client.ws.send(payload.encode() if binary else payload)
        assert client.close_code() == 1009  # "message too big", from the WebSocket protocol itself
    with opened(live_api) as client:
        client.still_usable()  # the server goes on


def test_bogus_last_seq_is_refused_or_served(live_api: LiveApi, socket: Socket) -> None:
    room = live_api.known["room_id"][0]
    bogus_values: list[object] = [-1, -(2**63), "5", 1.5, True, [], {}, "", 2**64, 10**30]
    for bogus in bogus_values:
        code = socket.refused(op("subscribe", {"room_id": room, "last_seq": bogus}))
        assert code == "invalid_input", bogus
    for far_ahead in (10**6, 2**31, 2**63 - 1):  # valid but beyond the room's seq: a fresh start, never a fault
        frame = socket.answer(op("subscribe", {"room_id": room, "last_seq": far_ahead}))
        assert frame["type"] == "reply" or frame["error"]["code"] in REFUSALS, (far_ahead, frame)
    socket.still_usable()


def test_a_subscribe_flood_is_capped(live_api: LiveApi, socket: Socket) -> None:
    rooms = live_api.run(_rooms(live_api, MAX_SUBSCRIPTIONS + 5))
    for number in range(20):
        assert socket.refused(op("subscribe", {"room_id": f"nosuchroom{number}"})) == "not_found"
    answers = [socket.answer(op("subscribe", {"room_id": room})) for room in rooms]
    assert [a["type"] for a in answers[:MAX_SUBSCRIPTIONS]] == ["reply"] * MAX_SUBSCRIPTIONS
    assert {a["error"]["code"] for a in answers[MAX_SUBSCRIPTIONS:]} == {"invalid_input"}
    for room in rooms[:MAX_SUBSCRIPTIONS]:  # still followed: resubscribing is not one more
        assert socket.answer(op("subscribe", {"room_id": room}))["type"] == "reply"
    socket.still_usable()


async def _rooms(api: LiveApi, count: int) -> list[str]:
    """``count`` live rooms, each opened by a member of its own."""
    rooms = []
    for number in range(count):
        host = await add_member(api.services, f"host{number}")
        view = await create_room(api.services, host, NewRoom(f"Room {number}", "", [], RoomType.OPEN))
        rooms.append(view["room"]["id"])
    return rooms


# Strings that broke servers before: NUL (PostgreSQL refuses it in text), terminal escapes, a bidi override.
HOSTILE = ["\x00", "a\x00b", "\x1b]0;title\x07\x1b[2J", "\u202etxt.exe", " ", "x" * 65]
# Valid data beyond ``room_id`` for the ops that need more.
BASELINE: dict[str, dict[str, Any]] = {
    "media_answer": {"jsep": {"type": "answer", "sdp": "v=0"}},
    "media_speak": {"jsep": {"type": "offer", "sdp": "v=0"}},
    "media_candidate": {"media": "listen", "candidate": {"candidate": "candidate:1 1 udp 1 198.18.0.2 9 typ host"}},
    "media_close": {"media": "listen"},
}


def _valid_data(name: str, model: type[BaseModel], api: LiveApi) -> dict[str, Any]:
    """Data the op accepts: a seeded room, a seeded member, every boolean false."""
    data_model = _data_model(model)
    data: dict[str, Any] = {}
    for field, info in data_model.model_fields.items():
        if field == "room_id":
            data[field] = api.known["room_id"][0]
        elif field == "user_id":
            data[field] = api.known["user_id"][0]
        elif info.annotation is bool:
            data[field] = False
    return {**data, **BASELINE.get(name, {})}


def _strings(value: Any, hostile: str) -> Iterator[Any]:
    """Copies of ``value``, each with one of its strings replaced by ``hostile``."""
    if isinstance(value, str):
        yield hostile
    elif isinstance(value, dict):
        for key, item in value.items():
            for copy in _strings(item, hostile):
                yield {**value, key: copy}


def test_hostile_text_in_every_field_is_refused_or_served(live_api: LiveApi, socket: Socket) -> None:
    failures = []
    for name, model in sorted(ws_protocol.WS_OPS.items()):
        for hostile in HOSTILE:
            for data in _strings(_valid_data(name, model, live_api), hostile):
                frame = socket.answer(op(name, data))
                if frame["type"] == "error" and frame["error"]["code"] not in REFUSALS:
                    failures.append(f"{name} {data!r}: {frame}")
    assert not failures, "\n".join(failures)
    socket.still_usable()


def _data_model(model: type[BaseModel]) -> type[BaseModel]:
    data_model = model.model_fields["data"].annotation
    assert isinstance(data_model, type)
    assert issubclass(data_model, BaseModel)
    return data_model


def _json() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
        | st.sampled_from([*HOSTILE, "", "x" * 300])
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner), max_leaves=8
    )


def _data_for(model: type[BaseModel], rooms: list[str]) -> st.SearchStrategy[Any]:
    """Data for an op: its own fields with any JSON value (wrong types, hostile text, out of range), a real room most
    of the time, sometimes an unknown field; or not an object at all."""
    fields = {name: _json() for name in _data_model(model).model_fields}
    if "room_id" in fields:
        fields["room_id"] = st.sampled_from(rooms) | st.sampled_from(HOSTILE) | _json()
    as_object = st.fixed_dictionaries({}, optional=fields)
    with_unknown = st.builds(lambda d, v: {**d, "unknown": v}, as_object, _json())
    return as_object | with_unknown | _json()


def test_every_op_answers_any_data_with_a_reply_or_a_refusal(live_api: LiveApi, socket: Socket) -> None:
    failures = []
    for name, model in sorted(ws_protocol.WS_OPS.items()):
        try:
            _op_fuzz(name, model, socket, live_api.known["room_id"])()
        except AssertionError as exc:  # the first of this op; the other ops still run
            failures.append(str(exc))
    assert not failures, "\n".join(failures)
    socket.still_usable()


def _op_fuzz(name: str, model: type[BaseModel], socket: Socket, rooms: list[str]) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES_PER_OP,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=_data_for(model, rooms))
    def answers(data: Any) -> None:
        frame = socket.answer(op(name, data))
        if frame["type"] == "error":
            assert frame["error"]["code"] in REFUSALS, f"{name} {data!r}: {frame}"

    return answers
