"""The Janus session layer against an in-memory Janus: transactions, the long poll, keepalive, errors, closing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from salon.adapters.janus.transport import (
    JanusError,
    JanusEvent,
    JanusSession,
    JanusSessionLost,
    JanusTimeout,
    JanusTransport,
    JanusUnavailable,
)
from salon.app.fakes import FakeClock
from tests.support.fake_janus import ANSWER, AUDIOBRIDGE, OFFER, STREAMING, FakeJanus, FakeMessage, Later, Silent

URL = "http://127.0.0.1:8088/janus"


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
async def session(transport: JanusTransport) -> AsyncIterator[JanusSession]:
    session = await transport.create_session(event_timeout=1.0)
    yield session
    await session.aclose()


async def next_event(subscription: Any, wait: float = 1.0) -> JanusEvent:
    event: JanusEvent = await asyncio.wait_for(anext(subscription), wait)
    return event


def janus_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("janus-") and not t.done()]


async def test_create_attach_and_every_request_carries_the_secret_and_a_fresh_transaction(
    janus: FakeJanus, session: JanusSession
) -> None:
    bridge = await session.attach(AUDIOBRIDGE)
    streaming = await session.attach(STREAMING)

    assert session.id in janus.sessions
    assert janus.sessions[session.id].handles == {bridge.id: AUDIOBRIDGE, streaming.id: STREAMING}
    assert bridge.url == f"{URL}/{session.id}/{bridge.id}"
    assert all(r["apisecret"] == "s3cret" for r in janus.requests)
    transactions = [r["transaction"] for r in janus.requests]
    assert len(set(transactions)) == len(transactions) == 3
    assert all(len(t) >= 16 for t in transactions)


async def test_a_synchronous_plugin_answer_is_returned_at_once(janus: FakeJanus, session: JanusSession) -> None:
    handle = await session.attach(AUDIOBRIDGE)
    janus.responder = lambda m: {"audiobridge": "success", "room": 7, "exists": True}

    reply = await handle.message({"request": "exists", "room": 7})

    assert reply.data == {"audiobridge": "success", "room": 7, "exists": True}
    assert reply.jsep is None
    assert janus.bodies() == [{"request": "exists", "room": 7}]


async def test_an_acked_request_gets_its_event_by_transaction_and_other_events_go_to_subscribers(
    janus: FakeJanus, session: JanusSession
) -> None:
    handle = await session.attach(AUDIOBRIDGE)
    events = handle.subscribe()

    def respond(message: FakeMessage) -> Later:
        # Before the answer, an event for someone else's transaction and one the plugin sent on its own.
        janus.push(
            session.id,
            {
                "janus": "event",
                "sender": handle.id,
                "transaction": "not-ours",
                "plugindata": {"plugin": AUDIOBRIDGE, "data": {"audiobridge": "event", "n": 1}},
            },
        )
        janus.push(
            session.id,
            {
                "janus": "event",
                "sender": handle.id,
                "plugindata": {"plugin": AUDIOBRIDGE, "data": {"audiobridge": "talking", "id": 5}},
            },
        )
        return Later({"audiobridge": "joined", "room": 7, "id": 42}, ANSWER, delay=0.05)

    janus.responder = respond
    reply = await handle.message({"request": "join", "room": 7}, OFFER)

    assert reply.data == {"audiobridge": "joined", "room": 7, "id": 42}
    assert reply.jsep == ANSWER
    assert janus.sent("message")[0]["jsep"] == OFFER
    first, second = await next_event(events), await next_event(events)
    assert (first.kind, first.sender, first.data) == ("event", handle.id, {"audiobridge": "event", "n": 1})
    assert (second.plugin, second.data) == (AUDIOBRIDGE, {"audiobridge": "talking", "id": 5})


async def test_an_answer_that_reaches_the_long_poll_before_the_ack_is_not_lost(
    janus: FakeJanus, session: JanusSession
) -> None:
    handle = await session.attach(STREAMING)
    janus.responder = lambda m: Later({"streaming": "event", "result": {"status": "preparing"}}, delay=-1)

    polls_before = janus.polls
    reply = await handle.message({"request": "watch", "id": 1})

    assert reply.data["result"] == {"status": "preparing"}
    assert janus.polls > polls_before  # the event was read while the ack was held back


async def test_concurrent_requests_each_get_their_own_answer(janus: FakeJanus, session: JanusSession) -> None:
    handle = await session.attach(AUDIOBRIDGE)
    janus.responder = lambda m: Later({"audiobridge": "event", "echo": m.body["n"]}, delay=0.01 * (5 - m.body["n"]))

    replies = await asyncio.gather(*(handle.message({"request": "configure", "n": n}) for n in range(5)))

    assert [r.data["echo"] for r in replies] == list(range(5))


async def test_no_answer_in_time_raises_janus_timeout_and_the_late_answer_goes_to_subscribers(
    janus: FakeJanus, transport: JanusTransport
) -> None:
    session = await transport.create_session(event_timeout=0.1)
    handle = await session.attach(AUDIOBRIDGE)
    events = session.subscribe()
    janus.responder = lambda m: Later({"audiobridge": "joined", "late": True}, delay=0.3)

    with pytest.raises(JanusTimeout, match="'join'"):
        await handle.message({"request": "join", "room": 1})

    assert session._waiters == {}
    late = await next_event(events)
    assert late.data == {"audiobridge": "joined", "late": True}
    assert not session.closed
    await session.aclose()


async def test_a_caller_may_cancel_a_wait_with_its_own_deadline(janus: FakeJanus, session: JanusSession) -> None:
    handle = await session.attach(AUDIOBRIDGE)
    janus.responder = lambda m: Silent()

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await handle.message({"request": "join", "room": 1})

    assert session._waiters == {}


async def test_keepalives_are_sent_at_the_interval(janus: FakeJanus, transport: JanusTransport) -> None:
    clock = FakeClock()
    session = await transport.create_session(keepalive_interval=25.0, clock=clock)
    await clock.elapse(25.0 * 3)
    for _ in range(100):  # the long poll goes on after each empty answer (the fake's hold is real time)
        if janus.polls >= 2:
            break
        await asyncio.sleep(0.01)

    assert janus.sessions[session.id].keepalives >= 3
    assert janus.polls >= 2
    await session.destroy()


async def test_a_core_error_raises_janus_error_with_its_code(session: JanusSession) -> None:
    with pytest.raises(JanusError) as caught:
        await session.attach("janus.plugin.nope")

    assert (caught.value.code, caught.value.plugin) == (460, None)
    assert "No such plugin" in caught.value.reason
    assert not session.closed


async def test_a_plugin_error_raises_janus_error_with_the_plugin(janus: FakeJanus, session: JanusSession) -> None:
    handle = await session.attach(AUDIOBRIDGE)
    janus.responder = lambda m: {"audiobridge": "event", "error_code": 485, "error": "No such room (9)"}

    with pytest.raises(JanusError) as caught:
        await handle.message({"request": "listparticipants", "room": 9})

    assert (caught.value.code, caught.value.reason, caught.value.plugin) == (485, "No such room (9)", AUDIOBRIDGE)


async def test_a_plugin_error_in_an_asynchronous_answer_raises_too(janus: FakeJanus, session: JanusSession) -> None:
    handle = await session.attach(AUDIOBRIDGE)
    janus.responder = lambda m: Later({"audiobridge": "event", "error_code": 491, "error": "Already in a room"})

    with pytest.raises(JanusError, match="491"):
        await handle.message({"request": "join", "room": 1})


async def test_a_plugin_code_458_is_not_a_lost_session(janus: FakeJanus, session: JanusSession) -> None:
    # The Streaming plugin's 458 is "can't switch": only a core 458 means the session is gone.
    handle = await session.attach(STREAMING)
    janus.responder = lambda m: {"streaming": "event", "error_code": 458, "error": "Can't switch"}

    with pytest.raises(JanusError) as caught:
        await handle.message({"request": "switch", "id": 2})

    assert caught.value.code == 458
    assert not isinstance(caught.value, JanusSessionLost)
    assert not session.closed


async def test_a_wrong_api_secret_is_refused(janus: FakeJanus) -> None:
    async with janus.client() as client, JanusTransport(URL, api_secret="wrong", client=client) as transport:
        with pytest.raises(JanusError) as caught:
            await transport.create_session()

    assert caught.value.code == 403


async def test_janus_restarting_loses_the_session_everywhere(janus: FakeJanus, session: JanusSession) -> None:
    handle = await session.attach(AUDIOBRIDGE)
    everything, mine = session.subscribe(), handle.subscribe()
    janus.responder = lambda m: Silent()
    pending = asyncio.create_task(handle.message({"request": "join", "room": 1}))
    await asyncio.sleep(0.02)

    janus.restart()

    assert isinstance(await asyncio.wait_for(session.wait_closed(), 1), JanusSessionLost)
    assert isinstance(session.lost, JanusSessionLost)
    with pytest.raises(JanusSessionLost):
        await pending
    for subscription in (everything, mine):
        with pytest.raises(JanusSessionLost):
            await next_event(subscription)
    requests_before = len(janus.requests)
    with pytest.raises(JanusSessionLost):
        await handle.message({"request": "exists", "room": 1})
    assert len(janus.requests) == requests_before
    with pytest.raises(JanusSessionLost):
        await next_event(session.subscribe())
    assert janus_tasks() == []


async def test_a_458_answer_to_a_request_ends_the_session(janus: FakeJanus, session: JanusSession) -> None:
    janus.hold = 5.0  # the long poll would not notice for a while: the request's answer must end the session
    handle = await session.attach(AUDIOBRIDGE)
    janus.sessions.clear()

    with pytest.raises(JanusSessionLost, match="458"):
        await handle.message({"request": "exists", "room": 1})

    assert session.closed
    assert isinstance(session.lost, JanusSessionLost)


async def test_a_long_poll_refused_for_its_secret_ends_the_session_at_once(
    janus: FakeJanus, transport: JanusTransport
) -> None:
    session = await transport.create_session(poll_failures=100)
    janus.api_secret = "rotated"

    lost = await asyncio.wait_for(session.wait_closed(), 1)

    assert isinstance(lost, JanusUnavailable)
    assert "403" in str(lost)


async def test_a_timeout_event_from_janus_ends_the_session(janus: FakeJanus, session: JanusSession) -> None:
    janus.push(session.id, {"janus": "timeout"})

    assert isinstance(await asyncio.wait_for(session.wait_closed(), 1), JanusSessionLost)


async def test_events_go_to_the_subscriber_of_their_handle(janus: FakeJanus, session: JanusSession) -> None:
    first, second = await session.attach(AUDIOBRIDGE), await session.attach(AUDIOBRIDGE)
    first_events, second_events, everything = first.subscribe(), second.subscribe(), session.subscribe()

    janus.push(session.id, {"janus": "webrtcup", "sender": second.id})
    janus.push(session.id, {"janus": "media", "sender": first.id, "type": "audio", "receiving": True})
    janus.push(session.id, {"janus": "hangup", "sender": first.id, "reason": "DTLS alert"})
    janus.push(session.id, {"janus": "keepalive"})
    janus.push(session.id, {"janus": "detached", "sender": second.id})

    assert [(await next_event(first_events)).kind for _ in range(2)] == ["media", "hangup"]
    assert [(await next_event(second_events)).kind for _ in range(2)] == ["webrtcup", "detached"]
    kinds = [(await next_event(everything)).kind for _ in range(4)]
    assert kinds == ["webrtcup", "media", "hangup", "detached"]
    with pytest.raises(TimeoutError):
        await next_event(first_events, 0.1)  # the keepalive and the other handle's events never reach it


async def test_a_closed_subscription_ends_and_gets_nothing_more(janus: FakeJanus, session: JanusSession) -> None:
    handle = await session.attach(AUDIOBRIDGE)
    events = handle.subscribe()
    events.close()
    janus.push(session.id, {"janus": "webrtcup", "sender": handle.id})

    assert [e async for e in events] == []
    assert session._subscriptions == []


async def test_a_subscriber_that_falls_behind_loses_the_oldest_events(janus: FakeJanus, session: JanusSession) -> None:
    events = session.subscribe(maxsize=2)
    for n in range(4):
        janus.push(session.id, {"janus": "event", "sender": 1, "n": n})
    await asyncio.sleep(0.1)

    assert [(await next_event(events)).raw["n"] for _ in range(2)] == [2, 3]
    assert events.dropped == 2


async def test_aclose_cancels_the_poll_and_fails_waiting_requests(janus: FakeJanus, transport: JanusTransport) -> None:
    janus.hold = 30.0  # the long poll is parked in Janus when we close
    session = await transport.create_session()
    handle = await session.attach(AUDIOBRIDGE)
    events = handle.subscribe()
    janus.responder = lambda m: Silent()
    pending = asyncio.create_task(handle.message({"request": "join", "room": 1}))
    await asyncio.sleep(0.02)
    assert len(janus_tasks()) == 2

    await session.aclose()

    assert janus_tasks() == []
    assert session.closed
    assert session.lost is None
    with pytest.raises(JanusUnavailable, match="closed"):
        await pending
    assert [e async for e in events] == []
    assert janus.sent("destroy") == []


async def test_destroy_tells_janus_and_transport_aclose_stops_every_session(
    janus: FakeJanus, transport: JanusTransport
) -> None:
    first, second = await transport.create_session(), await transport.create_session()

    await first.destroy()
    assert first.id not in janus.sessions
    assert [r["janus"] for r in janus.requests].count("destroy") == 1

    await transport.aclose()
    assert second.closed
    assert janus_tasks() == []
    assert second.id in janus.sessions  # aclose is local; Janus times the session out


async def test_janus_going_down_ends_the_session_as_unavailable(janus: FakeJanus, transport: JanusTransport) -> None:
    session = await transport.create_session(poll_failures=2)
    janus.down = True

    lost = await asyncio.wait_for(session.wait_closed(), 2)

    assert isinstance(lost, JanusUnavailable)
    assert not isinstance(lost, JanusSessionLost)
    with pytest.raises(JanusUnavailable):
        await session.attach(AUDIOBRIDGE)
    await session.destroy()  # best effort: no error when Janus is gone


async def test_a_request_janus_does_not_answer_raises_unavailable(janus: FakeJanus, session: JanusSession) -> None:
    janus.down = True

    with pytest.raises(JanusUnavailable, match="ConnectError"):
        await session.attach(AUDIOBRIDGE)


async def test_an_answer_that_is_not_janus_json_raises_unavailable() -> None:
    def bad_gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(bad_gateway)) as client,
        JanusTransport(URL, client=client) as transport,
    ):
        with pytest.raises(JanusUnavailable, match="HTTP 502"):
            await transport.create_session()


async def test_hangup_trickle_and_detach_send_their_requests(janus: FakeJanus, session: JanusSession) -> None:
    handle = await session.attach(AUDIOBRIDGE)

    await handle.trickle({"candidate": "candidate:1 1 udp 1 198.18.0.2 5000 typ host", "sdpMid": "0"})
    await handle.trickle(None)
    await handle.hangup()
    await handle.detach()

    assert [r["janus"] for r in janus.requests[-4:]] == ["trickle", "trickle", "hangup", "detach"]
    assert janus.requests[-3]["candidate"] == {"completed": True}
    assert janus.sessions[session.id].handles == {}
    with pytest.raises(JanusError) as caught:
        await handle.message({"request": "exists", "room": 1})
    assert caught.value.code == 459


async def test_info_reads_the_server_info(transport: JanusTransport) -> None:
    assert (await transport.info())["version_string"] == "1.1.2"
