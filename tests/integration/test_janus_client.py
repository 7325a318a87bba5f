"""The Janus client against a real Janus (Debian's 1.1.2, managed, on 127.0.0.1): no WebRTC, only the control plane
and the plain-RTP hop from an AudioBridge room's mix to a Streaming mountpoint."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from salon.adapters.janus.plugins import (
    AUDIOBRIDGE,
    AUDIOBRIDGE_MISSING_ELEMENT,
    AUDIOBRIDGE_NO_SUCH_ROOM,
    AUDIOBRIDGE_UNAUTHORIZED,
    STREAMING,
    STREAMING_NO_SUCH_MOUNTPOINT,
    STREAMING_UNAUTHORIZED,
    AudioBridge,
    Streaming,
    janus_id,
)
from salon.adapters.janus.process import ManagedJanus
from salon.adapters.janus.transport import (
    JanusError,
    JanusEvent,
    JanusSession,
    JanusTransport,
    JanusUnavailable,
    Subscription,
)
from salon.app.request_ids import REQUEST_ID
from tests.support.janus import managed_janus

ROOM_SECRET = "a-room-secret-for-this-test"


@pytest.fixture
def restarts() -> asyncio.Queue[int]:
    return asyncio.Queue()


@pytest.fixture
async def janus(tmp_path: Path, restarts: asyncio.Queue[int]) -> AsyncIterator[ManagedJanus]:
    async def restarted(j: ManagedJanus) -> None:
        restarts.put_nowait(j.pid or 0)

    async with managed_janus(tmp_path / "janus", on_restart=restarted) as j:
        yield j


@pytest.fixture
async def transport(janus: ManagedJanus) -> AsyncIterator[JanusTransport]:
    async with JanusTransport(janus.url, api_secret=janus.api_secret) as transport:
        yield transport


@pytest.fixture
async def session(transport: JanusTransport) -> AsyncIterator[JanusSession]:
    async with await transport.create_session(event_timeout=5.0) as session:
        yield session


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def udp_listeners() -> set[tuple[str, int]]:
    """(address, port) of every IPv4 UDP socket on this machine, from /proc."""
    found = set()
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        address, port = line.split()[1].split(":")
        found.add((socket.inet_ntoa(bytes.fromhex(address)[::-1]), int(port, 16)))
    return found


async def first_event(subscription: Subscription, matches: Callable[[JanusEvent], bool]) -> JanusEvent:
    async with asyncio.timeout(5):
        async for event in subscription:
            if matches(event):
                return event
    raise AssertionError("the subscription ended without such an event")


async def stream_age_ms(streaming: Streaming, mountpoint: int) -> int | None:
    """How long ago the mountpoint last received RTP, as Janus reports it."""
    media = (await streaming.info(mountpoint)).raw["media"][0]
    age = media.get("age_ms")
    return int(age) if age is not None else None


async def test_a_room_forwarded_to_a_mountpoint_then_all_torn_down(janus: ManagedJanus, session: JanusSession) -> None:
    bridge = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key=janus.admin_key, room_secret=ROOM_SECRET)
    streaming = Streaming(await session.attach(STREAMING), admin_key=janus.admin_key)
    room, mountpoint = janus_id("room-under-test"), janus_id("mountpoint-under-test")
    listed_before = await streaming.list()
    assert not await bridge.exists(room)

    await bridge.create(room, description="a test room")
    port = await streaming.create(mountpoint, port=free_udp_port(), is_private=False)
    assert ("127.0.0.1", port) in udp_listeners()  # bound to loopback only
    assert await bridge.exists(room)
    assert await streaming.list() == [*listed_before, mountpoint]
    assert await bridge.list_participants(room) == []
    await asyncio.sleep(1.2)
    idle_age = await stream_age_ms(streaming, mountpoint)

    stream_id = await bridge.rtp_forward(room, host="127.0.0.1", port=port)

    [forwarder] = await bridge.list_forwarders(room)
    assert (forwarder.stream_id, forwarder.host, forwarder.port) == (stream_id, "127.0.0.1", port)
    assert (forwarder.ptype, forwarder.codec, forwarder.always_on) == (111, "opus", True)
    # always_on: the empty room's silence flows into the mountpoint, so listeners' players never starve.
    await asyncio.sleep(0.3)
    flowing_age = await stream_age_ms(streaming, mountpoint)
    assert idle_age is not None
    assert idle_age >= 1000  # nothing received since it was created
    assert flowing_age is not None
    assert flowing_age < 200
    info = await streaming.info(mountpoint)
    assert (info.id, info.viewers, info.enabled) == (mountpoint, 0, True)

    await bridge.stop_rtp_forward(room, stream_id)
    assert await bridge.list_forwarders(room) == []
    await bridge.destroy(room)
    await streaming.destroy(mountpoint)

    assert not await bridge.exists(room)
    with pytest.raises(JanusError) as caught:
        await bridge.list_forwarders(room)
    assert caught.value.code == AUDIOBRIDGE_NO_SUCH_ROOM
    assert await streaming.list() == listed_before
    with pytest.raises(JanusError) as caught:
        await streaming.info(mountpoint)
    assert caught.value.code == STREAMING_NO_SUCH_MOUNTPOINT
    assert ("127.0.0.1", port) not in udp_listeners()


async def test_a_listener_is_offered_the_mountpoint_in_an_event(janus: ManagedJanus, session: JanusSession) -> None:
    streaming = Streaming(await session.attach(STREAMING), admin_key=janus.admin_key)
    mountpoint = janus_id("watched")
    await streaming.create(mountpoint, port=0)
    listener = Streaming(await session.attach(STREAMING))

    offer = await listener.watch(mountpoint)  # Janus acks, the offer comes on the long poll

    assert offer["type"] == "offer"
    assert "opus/48000/2" in offer["sdp"]
    await listener.handle.detach()
    await streaming.destroy(mountpoint)


async def test_an_asynchronous_refusal_arrives_as_janus_error(session: JanusSession) -> None:
    bridge = AudioBridge(await session.attach(AUDIOBRIDGE))

    with pytest.raises(JanusError) as caught:
        await bridge.configure(muted=True)  # acked, then refused in an event: not in a room

    assert (caught.value.code, caught.value.plugin) == (487, AUDIOBRIDGE)
    assert not session.closed


async def test_janus_echoes_the_request_id_in_its_answer_and_in_the_event_that_follows(
    transport: JanusTransport, session: JanusSession
) -> None:
    """While a request is served, the transaction is ``<request id>/<random>`` (adapters/janus/api.py): Janus takes
    it as it is and hands it back, in the ack and in the plugin's later event, so either leads back to the request."""
    handle = await session.attach(AUDIOBRIDGE)
    events = handle.subscribe()
    token = REQUEST_ID.set("from-the-proxy-42-3")
    try:
        # Sent raw, so that no request waits for the event: it goes to the handle's subscribers, transaction and all.
        ack = await transport.post(handle.url, {"janus": "message", "body": {"request": "configure"}})
    finally:
        REQUEST_ID.reset(token)

    assert ack["janus"] == "ack"
    assert ack["transaction"].startswith("from-the-proxy-42-3/")
    event = await first_event(events, lambda e: e.kind == "event")
    assert event.raw["transaction"] == ack["transaction"]
    assert event.data.get("error_code") == 487  # not in a room: the plugin's answer, not a refusal of the transaction


async def test_a_wrong_admin_key_or_room_secret_is_refused(janus: ManagedJanus, session: JanusSession) -> None:
    room = janus_id("guarded")
    intruder = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key="not-the-key", room_secret="not-the-secret")
    with pytest.raises(JanusError) as caught:
        await intruder.create(room)
    assert caught.value.code == AUDIOBRIDGE_UNAUTHORIZED
    with pytest.raises(JanusError) as caught:
        await Streaming(await session.attach(STREAMING), admin_key="not-the-key").create(room, port=0)
    assert caught.value.code == STREAMING_UNAUTHORIZED

    owner = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key=janus.admin_key, room_secret=ROOM_SECRET)
    await owner.create(room)
    with pytest.raises(JanusError) as caught:
        await intruder.rtp_forward(room, host="127.0.0.1", port=free_udp_port())
    assert caught.value.code == AUDIOBRIDGE_UNAUTHORIZED
    # lock_rtp_forward: the room secret alone does not allow a forward.
    with pytest.raises(JanusError) as caught:
        await AudioBridge(owner.handle, room_secret=ROOM_SECRET).rtp_forward(room, host="127.0.0.1", port=1)
    assert (caught.value.code, caught.value.reason) == (
        AUDIOBRIDGE_MISSING_ELEMENT,
        "Missing mandatory element (admin_key)",
    )
    with pytest.raises(JanusError) as caught:
        await intruder.destroy(room)
    assert caught.value.code == AUDIOBRIDGE_UNAUTHORIZED
    assert await owner.list_forwarders(room) == []
    await owner.destroy(room)


async def test_a_wrong_api_secret_is_refused(janus: ManagedJanus) -> None:
    async with JanusTransport(janus.url, api_secret="not-the-api-secret") as transport:
        with pytest.raises(JanusError) as caught:
            await transport.create_session()

    assert caught.value.code == 403


async def test_janus_restarting_ends_the_session_and_a_new_one_works(
    janus: ManagedJanus, transport: JanusTransport, restarts: asyncio.Queue[int]
) -> None:
    session = await transport.create_session()
    bridge = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key=janus.admin_key)
    await bridge.create(janus_id("doomed"))
    events = session.subscribe()
    assert janus.pid is not None

    os.kill(janus.pid, signal.SIGKILL)

    lost = await asyncio.wait_for(session.wait_closed(), 30)
    # Lost (a 404 to the long poll) when Janus is back within the poll's retries, else unavailable: either way over.
    assert isinstance(lost, JanusUnavailable)
    with pytest.raises(JanusUnavailable):
        await anext(events)
    await asyncio.wait_for(restarts.get(), 30)
    async with await transport.create_session() as fresh:
        again = AudioBridge(await fresh.attach(AUDIOBRIDGE), admin_key=janus.admin_key)
        assert not await again.exists(janus_id("doomed"))  # rooms are not permanent: the app re-creates them
    with pytest.raises(JanusUnavailable):
        await bridge.exists(janus_id("doomed"))  # the old session stays dead: no request is sent


async def test_join_mute_and_kick_without_media(janus: ManagedJanus, session: JanusSession) -> None:
    owner = AudioBridge(await session.attach(AUDIOBRIDGE), admin_key=janus.admin_key, room_secret=ROOM_SECRET)
    room, ada, bob = janus_id("stage"), janus_id("ada"), janus_id("bob")
    await owner.create(room)
    ada_bridge, bob_bridge = (
        AudioBridge(await session.attach(AUDIOBRIDGE)),
        AudioBridge(await session.attach(AUDIOBRIDGE)),
    )
    bob_events = bob_bridge.handle.subscribe()

    # No offer: Janus still seats the participant (the PeerConnection would come with a configure).
    joined = await ada_bridge.join(room, None, participant_id=ada, display="ada", muted=True, prebuffer=2)
    assert (joined.room, joined.participant_id, joined.participants, joined.jsep) == (room, ada, [], None)
    assert [p.id for p in (await bob_bridge.join(room, None, participant_id=bob, muted=False)).participants] == [ada]

    await owner.unmute(room, ada)
    await owner.mute(room, bob)
    assert {p.id: (p.display, p.muted, p.setup) for p in await owner.list_participants(room)} == {
        ada: ("ada", False, False),
        bob: (None, True, False),
    }
    # Janus lets a participant undo a moderator's mute on its own handle: the app, which owns the handles, must
    # never relay a self-unmute that the room's rules refuse.
    await bob_bridge.configure(muted=False)
    assert [p.muted for p in await owner.list_participants(room)] == [False, False]

    await owner.kick(room, ada)

    # The others hear of it; "success", the event and leaving the list are not simultaneous (~0.3 s apart here).
    kicked = await first_event(bob_events, lambda e: "kicked" in e.data)
    assert kicked.data == {"audiobridge": "event", "room": room, "kicked": ada}
    for _ in range(100):
        if [p.id for p in await owner.list_participants(room)] == [bob]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the kicked participant is still listed after 5 s")
    # Kicking does not keep anyone out: the same handle may join again at once. Removal is the app's to enforce.
    await ada_bridge.join(room, None, participant_id=ada)
    assert sorted(p.id for p in await owner.list_participants(room)) == sorted([ada, bob])
    await owner.destroy(room)
