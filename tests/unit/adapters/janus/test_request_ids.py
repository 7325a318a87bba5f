"""The request id travels into Janus (adapters/janus/api.new_transaction): every Janus request made while serving an
HTTP request or WebSocket op carries it at the head of its ``transaction``; requests made by the session's own tasks
(keepalives, the long poll), which outlive the request that opened it, carry none. Against the in-memory Janus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from salon.adapters.janus.transport import JanusTransport
from salon.app.request_ids import REQUEST_ID
from tests.support.fake_janus import AUDIOBRIDGE, FakeJanus, Later

URL = "http://127.0.0.1:8088/janus"
RID = "req-7f3a-2"  # an HTTP request's id with a WebSocket op's suffix


@pytest.fixture
def janus() -> FakeJanus:
    return FakeJanus()


@pytest.fixture
async def transport(janus: FakeJanus) -> AsyncIterator[JanusTransport]:
    client = janus.client()
    transport = JanusTransport(URL, api_secret=janus.api_secret, client=client)
    yield transport
    await transport.aclose()
    await client.aclose()


@pytest.fixture
def serving() -> Iterator[None]:
    """As the web layer does while it serves a request (web/observe.py, web/ws.py)."""
    token = REQUEST_ID.set(RID)
    yield
    REQUEST_ID.reset(token)


def transactions(janus: FakeJanus, since: int = 0, kind: str | None = None) -> list[str]:
    return [r["transaction"] for r in janus.requests[since:] if kind is None or r.get("janus") == kind]


@pytest.mark.usefixtures("serving")
async def test_every_request_made_while_serving_carries_the_request_id(
    janus: FakeJanus, transport: JanusTransport
) -> None:
    janus.responder = lambda message: Later({"audiobridge": "event", "result": "ok"})  # acked, answered on the poll
    session = await transport.create_session(event_timeout=1.0)
    handle = await session.attach(AUDIOBRIDGE)
    reply = await handle.message({"request": "configure", "muted": True})
    await handle.trickle(None)
    await handle.detach()

    assert reply.data == {"audiobridge": "event", "result": "ok"}  # the event was matched by its transaction
    sent = transactions(janus)
    assert [r["janus"] for r in janus.requests] == ["create", "attach", "message", "trickle", "detach"]
    assert all(t.startswith(f"{RID}/") for t in sent), sent
    assert len(set(sent)) == len(sent)  # still one transaction per request
    await session.aclose()


async def test_outside_a_request_the_transaction_is_random_only(janus: FakeJanus, transport: JanusTransport) -> None:
    session = await transport.create_session(event_timeout=1.0)
    await session.attach(AUDIOBRIDGE)
    assert [t for t in transactions(janus) if "/" in t] == []
    await session.aclose()


async def test_a_session_opened_while_serving_does_not_name_that_request_later(
    janus: FakeJanus, transport: JanusTransport, caplog: pytest.LogCaptureFixture
) -> None:
    token = REQUEST_ID.set(RID)
    try:
        session = await transport.create_session(event_timeout=1.0, keepalive_interval=0.02)
    finally:
        REQUEST_ID.reset(token)
    seen: list[Any] = []

    def note_request_id(_record: Any) -> bool:  # a handler filter runs in the task that logs
        seen.append(REQUEST_ID.get())
        return True

    async with asyncio.timeout(2):
        while len(transactions(janus, kind="keepalive")) < 2:  # noqa: ASYNC110 - sent by the session's own task
            await asyncio.sleep(0.01)
    assert transactions(janus, kind="create")[0].startswith(f"{RID}/")
    assert [t for t in transactions(janus, kind="keepalive") if "/" in t] == []

    caplog.handler.addFilter(note_request_id)
    janus.down = True  # the long poll fails and says so in a log line, from the session's own task
    async with asyncio.timeout(5):
        while not session.closed:  # noqa: ASYNC110 - ended by the session's own task
            await asyncio.sleep(0.01)
    assert any("long poll of session" in r.getMessage() for r in caplog.records)
    assert seen
    assert set(seen) == {None}  # every record the session's tasks wrote, written with no request id
