"""JanusMedia against a real Janus (Debian's 1.1.2, managed, on 127.0.0.1): rooms, mountpoints, forwarders and user
handles as Janus itself reports them, checked through a separate inspecting session. No WebRTC media flows here (the
SDP is written by hand; ICE never completes): sound end to end is tests/integration/media's job."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.media_rooms import room_secret
from salon.adapters.janus.plugins import (
    AUDIOBRIDGE,
    STREAMING,
    STREAMING_NO_SUCH_MOUNTPOINT,
    AudioBridge,
    Participant,
    Streaming,
    janus_id,
)
from salon.adapters.janus.process import ManagedJanus
from salon.adapters.janus.transport import JanusError, JanusHandle, JanusTransport
from salon.app.ports import ALL_ROOMS, Jsep, MediaEvent, MediaRefused
from tests.support.janus import managed_janus

ROOM, OTHER = "stage-room", "other-room"
HANDLE_NOT_FOUND = 459


def sdp(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


def client_sdp(kind: str, mid: str, direction: str) -> Jsep:
    """What a browser would send, minus the parts only real ICE/DTLS would use."""
    body = sdp(
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        f"a=group:BUNDLE {mid}",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 9F:1A:22:3B:4C:5D:6E:7F:80:91:A2:B3:C4:D5:E6:F7:08:19:2A:3B:4C:5D:6E:7F:80:91:A2:B3:C4:"
        "D5:E6:F7",
        f"a=setup:{'actpass' if kind == 'offer' else 'active'}",
        f"a=mid:{mid}",
        f"a={direction}",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=ssrc:1234 cname:salon-test",
    )
    return {"type": kind, "sdp": body}


SPEAKER_OFFER = client_sdp("offer", "0", "sendrecv")
LISTENER_ANSWER = client_sdp("answer", "a", "recvonly")  # Janus's mountpoint offers mid "a"
CANDIDATE = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}


class Inspector:
    """A session of its own that asks Janus what it holds, with the secrets the adapter derives."""

    def __init__(self, janus: ManagedJanus, transport: JanusTransport, bridge: JanusHandle, streaming: JanusHandle):
        self.janus, self.transport, self._bridge, self._streaming = janus, transport, bridge, streaming

    def bridge(self, room_id: str) -> AudioBridge:
        return AudioBridge(self._bridge, room_secret=room_secret(self.janus.admin_key, "room", room_id))

    def streaming(self, room_id: str) -> Streaming:
        return Streaming(self._streaming, secret=room_secret(self.janus.admin_key, "mountpoint", room_id))

    async def participants(self, room_id: str) -> list[Participant]:
        return await self.bridge(room_id).list_participants(janus_id(room_id))

    async def mountpoint_port(self, room_id: str) -> int:
        port: int = (await self.streaming(room_id).info(janus_id(room_id))).raw["media"][0]["port"]
        return port

    async def viewers(self, room_id: str) -> int:
        return (await self.streaming(room_id).info(janus_id(room_id))).viewers

    async def no_viewers(self, room_id: str) -> bool:
        return await self.viewers(room_id) == 0

    async def handle_exists(self, media: JanusMedia, handle_id: int) -> bool:
        """Admin-free: Janus answers 459 to a request on a handle it does not know."""
        link = media._links.current()
        assert link is not None
        try:
            await self.transport.post(f"{link.session.url}/{handle_id}", {"janus": "trickle", "candidate": None})
        except JanusError as exc:
            if exc.code == HANDLE_NOT_FOUND:
                return False
            raise
        return True


@pytest.fixture
async def janus(tmp_path: Path) -> AsyncIterator[ManagedJanus]:
    async with managed_janus(tmp_path / "janus") as j:
        yield j


@pytest.fixture
async def media(janus: ManagedJanus) -> AsyncIterator[JanusMedia]:
    async with JanusMedia(janus.url, janus.api_secret, janus.admin_key) as media:
        yield media


@pytest.fixture
async def inspect(janus: ManagedJanus) -> AsyncIterator[Inspector]:
    async with JanusTransport(janus.url, api_secret=janus.api_secret) as transport:
        session = await transport.create_session(event_timeout=5.0)
        yield Inspector(janus, transport, await session.attach(AUDIOBRIDGE), await session.attach(STREAMING))
        await session.destroy()


@pytest.fixture
async def events(media: JanusMedia) -> AsyncIterator[asyncio.Queue[MediaEvent]]:
    queue: asyncio.Queue[MediaEvent] = asyncio.Queue()

    async def collect() -> None:
        async for event in media.events():
            queue.put_nowait(event)

    task = asyncio.create_task(collect())
    yield queue
    task.cancel()


def udp_listeners() -> set[tuple[str, int]]:
    found = set()
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        address, port = line.split()[1].split(":")
        found.add((socket.inet_ntoa(bytes.fromhex(address)[::-1]), int(port, 16)))
    return found


def user_handle_ids(media: JanusMedia) -> list[int]:
    return [conn.handle.id for conn in media._conns.values()]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 1.0) -> None:
    """Janus acts on some requests a moment after answering them; give it ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def test_a_room_its_connections_and_their_teardown_leave_nothing_behind(
    media: JanusMedia, inspect: Inspector
) -> None:
    await media.create_room(ROOM)
    await media.create_room(ROOM)  # idempotent

    port = await inspect.mountpoint_port(ROOM)
    [forwarder] = await inspect.bridge(ROOM).list_forwarders(janus_id(ROOM))
    assert (forwarder.host, forwarder.port, forwarder.ptype, forwarder.always_on) == ("127.0.0.1", port, 111, True)
    assert ("127.0.0.1", port) in udp_listeners()
    assert await inspect.participants(ROOM) == []
    assert janus_id(ROOM) not in await inspect.streaming(ROOM).list()  # private: not listed

    await media.admit(ROOM, "ada", "speaker", True)
    await media.admit(ROOM, "bob", "listener", True)
    offer = await media.open_listen(ROOM, "bob")
    assert offer["type"] == "offer"
    assert "m=audio" in offer["sdp"]
    assert "a=rtpmap:111 opus/48000/2" in offer["sdp"]
    await media.answer_listen(ROOM, "bob", LISTENER_ANSWER)
    await media.add_candidate(ROOM, "bob", "listen", {**CANDIDATE, "sdpMid": "a"})
    assert await inspect.viewers(ROOM) == 1

    answer = await media.open_speak(ROOM, "ada", SPEAKER_OFFER)
    assert answer["type"] == "answer"
    assert "m=audio" in answer["sdp"]
    await media.add_candidate(ROOM, "ada", "speak", CANDIDATE)
    await media.add_candidate(ROOM, "ada", "speak", None)
    [ada] = await inspect.participants(ROOM)
    assert (ada.id, ada.display, ada.muted) == (janus_id("ada"), "ada", True)
    await media.set_muted(ROOM, "ada", False)
    assert [p.muted for p in await inspect.participants(ROOM)] == [False]
    await media.set_muted(ROOM, "ada", True)
    assert [p.muted for p in await inspect.participants(ROOM)] == [True]

    with pytest.raises(MediaRefused):
        await media.open_speak(ROOM, "stranger", SPEAKER_OFFER)
    with pytest.raises(MediaRefused):
        await media.open_speak(ROOM, "bob", SPEAKER_OFFER)
    handles = user_handle_ids(media)
    assert len(handles) == 2

    await media.admit(ROOM, "ada", "listener", True)  # moved to the audience: out of the mix at once
    assert await inspect.participants(ROOM) == []
    await media.remove(ROOM, "bob")
    await eventually(lambda: inspect.no_viewers(ROOM))
    for handle in handles:
        assert not await inspect.handle_exists(media, handle)

    await media.destroy_room(ROOM)
    await media.destroy_room(ROOM)

    assert not await inspect.bridge(ROOM).exists(janus_id(ROOM))
    with pytest.raises(JanusError) as caught:
        await inspect.streaming(ROOM).info(janus_id(ROOM))
    assert caught.value.code == STREAMING_NO_SUCH_MOUNTPOINT
    assert ("127.0.0.1", port) not in udp_listeners()


async def test_destroying_a_room_ends_its_connections(media: JanusMedia, inspect: Inspector) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "ada", "speaker", False)
    await media.admit(ROOM, "bob", "listener", True)
    await media.open_speak(ROOM, "ada", SPEAKER_OFFER)
    await media.open_listen(ROOM, "bob")
    handles = user_handle_ids(media)

    await media.destroy_room(ROOM)

    assert not await inspect.bridge(ROOM).exists(janus_id(ROOM))
    for handle in handles:
        assert not await inspect.handle_exists(media, handle)
    with pytest.raises(MediaRefused):
        await media.open_listen(ROOM, "bob")


async def test_sdp_janus_cannot_use_is_refused_and_leaves_no_handle(media: JanusMedia, inspect: Inspector) -> None:
    await media.create_room(ROOM)
    await media.admit(ROOM, "ada", "speaker", False)

    with pytest.raises(MediaRefused, match="refused the offer"):
        await media.open_speak(ROOM, "ada", {"type": "offer", "sdp": "not an SDP"})
    await media.open_listen(ROOM, "ada")
    with pytest.raises(MediaRefused, match="refused the answer"):
        await media.answer_listen(ROOM, "ada", {"type": "answer", "sdp": "v=0\r\n"})

    assert await inspect.participants(ROOM) == []
    assert media._conns == {}
    await eventually(lambda: inspect.no_viewers(ROOM))
    # And the user can try again at once.
    assert (await media.open_speak(ROOM, "ada", SPEAKER_OFFER))["type"] == "answer"


async def test_an_app_restarting_while_janus_runs_takes_its_rooms_back(janus: ManagedJanus, inspect: Inspector) -> None:
    async with JanusMedia(janus.url, janus.api_secret, janus.admin_key) as before:
        await before.create_room(ROOM)
        await before.admit(ROOM, "ada", "speaker", False)
        await before.open_speak(ROOM, "ada", SPEAKER_OFFER)
        port = await inspect.mountpoint_port(ROOM)
        # The old app's session is still alive in Janus (a hung process, or one killed that has not timed out).
        async with JanusMedia(janus.url, janus.api_secret, janus.admin_key) as after:
            await after.create_room(ROOM)
            await after.admit(ROOM, "ada", "speaker", False)

            assert (await after.open_speak(ROOM, "ada", SPEAKER_OFFER))["type"] == "answer"

            assert await inspect.mountpoint_port(ROOM) == port
            assert len(await inspect.bridge(ROOM).list_forwarders(janus_id(ROOM))) == 1
            [ada] = await inspect.participants(ROOM)
            assert ada.id == janus_id("ada")
            await after.destroy_room(ROOM)


async def test_killing_janus_resets_the_live_rooms_and_they_can_be_made_again(
    janus: ManagedJanus, media: JanusMedia, events: asyncio.Queue[MediaEvent]
) -> None:
    await media.create_room(ROOM)
    await media.create_room(OTHER)
    await media.destroy_room(OTHER)
    await media.admit(ROOM, "bob", "listener", True)
    await media.open_listen(ROOM, "bob")
    assert janus.pid is not None

    os.kill(janus.pid, signal.SIGKILL)

    assert await asyncio.wait_for(events.get(), 10) == MediaEvent(ALL_ROOMS, "media_reset")
    await media.reconnect(timeout=30)
    await media.create_room(ROOM)
    await media.admit(ROOM, "bob", "listener", True)
    assert (await media.open_listen(ROOM, "bob"))["type"] == "offer"
    async with JanusTransport(janus.url, api_secret=janus.api_secret) as transport:
        session = await transport.create_session()
        check = AudioBridge(await session.attach(AUDIOBRIDGE), room_secret=room_secret(janus.admin_key, "room", ROOM))
        assert len(await check.list_forwarders(janus_id(ROOM))) == 1
        assert not await check.exists(janus_id(OTHER))
        await session.destroy()
    assert events.empty()
