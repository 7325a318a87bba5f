"""JanusMedia's interpretation channels against a real Janus (Debian's 1.1.2, managed, on 127.0.0.1): the rooms,
mountpoints, forwarders and participants a channel is made of, who is refused, and that tearing down leaves nothing.
No media flows (hand-written SDP, as in test_janus_media.py); the sound is tests/integration/media's job."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.media_channels import booth_key, channel_key
from salon.adapters.janus.plugins import AUDIOBRIDGE, STREAMING, STREAMING_NO_SUCH_MOUNTPOINT, janus_id
from salon.adapters.janus.process import ManagedJanus
from salon.adapters.janus.transport import JanusError, JanusTransport
from salon.app.ports import ALL_ROOMS, MediaEvent, MediaRefused
from salon.domain.interpretation import Booth
from tests.integration.test_janus_media import (
    CANDIDATE,
    LISTENER_ANSWER,
    SPEAKER_OFFER,
    Inspector,
    eventually,
    udp_listeners,
    user_handle_ids,
)
from tests.support.janus import managed_janus

ROOM, RU = "booth-room", "ru"
RU_KEY, RU_BOOTH = channel_key(ROOM, RU), booth_key(ROOM, RU)


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


async def mountpoint_gone(inspect: Inspector, ident: int) -> bool:
    try:
        await inspect.streaming(RU_KEY).info(ident)
    except JanusError as exc:
        return exc.code == STREAMING_NO_SUCH_MOUNTPOINT
    return False


async def test_a_channel_is_a_room_fed_by_the_floor_with_two_audiences_and_goes_without_a_trace(
    media: JanusMedia, inspect: Inspector
) -> None:
    await media.create_room(ROOM)
    ports_before = udp_listeners()
    await media.create_channel(ROOM, RU, -15)
    await media.create_channel(ROOM, RU, -15)  # idempotent

    # The floor feeds the channel: one more forwarder of the floor's mix, to the channel room's floor feed. The booth
    # room's voice goes to the channel room's booth feed, and to its own mountpoint (stage speakers: the interpreter
    # only).
    floor_forwards = await inspect.bridge(ROOM).list_forwarders(janus_id(ROOM))
    assert len(floor_forwards) == 2
    feeds = await inspect.bridge(RU_KEY).list_participants(janus_id(RU_KEY))
    assert sorted((feed.display, feed.muted) for feed in feeds) == [("booth", False), ("floor", False)]
    assert await inspect.bridge(RU_BOOTH).list_participants(janus_id(RU_BOOTH)) == []
    channel_forwards = await inspect.bridge(RU_KEY).list_forwarders(janus_id(RU_KEY))
    booth_forwards = await inspect.bridge(RU_BOOTH).list_forwarders(janus_id(RU_BOOTH))
    assert (len(channel_forwards), len(booth_forwards)) == (1, 2)  # the channel; the booth only, the channel's feed
    # No group forwards: each room's forwards carry its one mix (Janus 1.1.2 sends a second Opus forward of a mix with
    # the length of the other mix it encoded last: docs/ARCHITECTURE.md).
    assert {f.group for f in (*floor_forwards, *channel_forwards, *booth_forwards)} == {None}
    for ident in (janus_id(RU_KEY), janus_id(RU_BOOTH)):
        assert (await inspect.streaming(RU_KEY).info(ident)).viewers == 0
    new_ports = udp_listeners() - ports_before
    assert {host for host, _port in new_ports} == {"127.0.0.1"}  # two feeds, two mountpoints: loopback only
    assert len(new_ports) == 4

    await media.destroy_channel(ROOM, RU)

    assert not await inspect.bridge(RU_KEY).exists(janus_id(RU_KEY))
    assert not await inspect.bridge(RU_BOOTH).exists(janus_id(RU_BOOTH))
    assert len(await inspect.bridge(ROOM).list_forwarders(janus_id(ROOM))) == 1
    for ident in (janus_id(RU_KEY), janus_id(RU_BOOTH)):
        assert await mountpoint_gone(inspect, ident)
    await eventually(lambda: _no_new_ports(ports_before))
    assert user_handle_ids(media) == []


async def _no_new_ports(before: set[tuple[str, int]]) -> bool:
    return udp_listeners() <= before


async def test_only_the_booth_publishes_the_live_one_unmuted_and_a_removed_one_is_cut(
    media: JanusMedia, inspect: Inspector
) -> None:
    await media.create_room(ROOM)
    await media.create_channel(ROOM, RU, -15)
    await media.admit(ROOM, "eve", "speaker", False)  # on stage is not in the booth
    for outsider in ("eve", "ada"):
        with pytest.raises(MediaRefused):
            await media.open_interpret(ROOM, RU, outsider, SPEAKER_OFFER)

    await media.set_booth(ROOM, Booth(RU, ("ada", "bob")))
    with pytest.raises(MediaRefused):
        await media.add_interpret_candidate(ROOM, RU, "ada", CANDIDATE)  # no connection yet
    await media.open_interpret(ROOM, RU, "ada", SPEAKER_OFFER)
    await media.add_interpret_candidate(ROOM, RU, "ada", CANDIDATE)
    await media.add_interpret_candidate(ROOM, RU, "ada", None)
    with pytest.raises(MediaRefused):
        await media.add_interpret_candidate(ROOM, "fr", "ada", CANDIDATE)  # not that channel's
    await media.close_interpret(ROOM, "fr", "ada")  # not that channel's: nothing ends
    await media.open_interpret(ROOM, RU, "bob", SPEAKER_OFFER)
    with pytest.raises(MediaRefused):
        await media.open_interpret(ROOM, "fr", "ada", SPEAKER_OFFER)  # no such channel

    async def muted() -> dict[str | None, bool]:
        return {p.display: p.muted for p in await inspect.bridge(RU_BOOTH).list_participants(janus_id(RU_BOOTH))}

    assert await muted() == {"ada": True, "bob": True}
    assert await inspect.participants(ROOM) == []  # never into the floor
    await media.set_booth(ROOM, Booth(RU, ("ada", "bob"), live="ada"))
    assert await muted() == {"ada": False, "bob": True}
    await media.set_booth(ROOM, Booth(RU, ("ada", "bob"), live="bob"))  # the handover
    assert await muted() == {"ada": True, "bob": False}

    await media.set_booth(ROOM, Booth(RU, ("ada",)))  # bob, live, removed from the booth
    await eventually(lambda: _equals(muted, {"ada": True}))
    with pytest.raises(MediaRefused):
        await media.open_interpret(ROOM, RU, "bob", SPEAKER_OFFER)
    await media.close_interpret(ROOM, RU, "ada")  # the interpreter's page closed
    await eventually(lambda: _equals(muted, {}))
    await media.open_interpret(ROOM, RU, "ada", SPEAKER_OFFER)
    await media.remove(ROOM, "ada")  # removed from the room: out of the booth's connections too
    await eventually(lambda: _equals(muted, {}))

    await media.destroy_room(ROOM)  # takes its channels with it
    assert not await inspect.bridge(RU_KEY).exists(janus_id(RU_KEY))
    assert not await inspect.bridge(RU_BOOTH).exists(janus_id(RU_BOOTH))


async def _equals(read: Callable[[], Awaitable[dict[str | None, bool]]], expected: dict[str | None, bool]) -> bool:
    return await read() == expected


async def test_listening_to_a_channel_needs_the_room_and_the_channel(media: JanusMedia, inspect: Inspector) -> None:
    with pytest.raises(MediaRefused):
        await media.create_channel(ROOM, RU, -15)  # no room yet
    await media.create_room(ROOM)
    await media.create_channel(ROOM, RU, -15)
    await media.admit(ROOM, "bob", "listener", True)
    with pytest.raises(MediaRefused):
        await media.open_channel_listen(ROOM, RU, "stranger")
    with pytest.raises(MediaRefused):
        await media.open_channel_listen(ROOM, "fr", "bob")

    with pytest.raises(MediaRefused):
        await media.switch_listen(ROOM, "bob", RU)  # nothing to switch yet

    offer = await media.open_channel_listen(ROOM, RU, "bob")
    with pytest.raises(MediaRefused):
        await media.switch_listen(ROOM, "bob", None)  # not answered yet
    await media.answer_listen(ROOM, "bob", LISTENER_ANSWER)
    assert "a=rtpmap:111 opus/48000/2" in offer["sdp"]
    assert (await inspect.streaming(RU_KEY).info(janus_id(RU_KEY))).viewers == 1
    await media.open_channel_listen(ROOM, RU, "bob", interpreter_only=True)  # replaces the listen connection
    await media.answer_listen(ROOM, "bob", LISTENER_ANSWER)
    assert (await inspect.streaming(RU_KEY).info(janus_id(f"{RU_KEY}/booth"))).viewers == 1
    await eventually(lambda: _viewers(inspect, janus_id(RU_KEY), 0))

    # The picker: the same connection moves between the channel and the Original, never to a channel not there.
    await media.switch_listen(ROOM, "bob", RU)
    assert await _viewers(inspect, janus_id(RU_KEY), 1)
    assert await _viewers(inspect, janus_id(f"{RU_KEY}/booth"), 0)
    await media.switch_listen(ROOM, "bob", None)
    assert await _viewers(inspect, janus_id(RU_KEY), 0)
    assert await inspect.viewers(ROOM) == 1
    with pytest.raises(MediaRefused):
        await media.switch_listen(ROOM, "bob", "fr")
    await media.switch_listen(ROOM, "bob", RU, interpreter_only=True)
    assert await _viewers(inspect, janus_id(f"{RU_KEY}/booth"), 1)

    await media.destroy_channel(ROOM, RU)  # its listeners' connections end with it
    assert user_handle_ids(media) == []


async def _viewers(inspect: Inspector, ident: int, count: int) -> bool:
    return (await inspect.streaming(RU_KEY).info(ident)).viewers == count


async def test_a_room_made_again_after_janus_died_gets_its_channels_and_booths_back(
    janus: ManagedJanus, media: JanusMedia
) -> None:
    await media.create_room(ROOM)
    await media.create_channel(ROOM, RU, -15)
    await media.set_booth(ROOM, Booth(RU, ("ada",), live="ada"))
    await media.admit(ROOM, "bob", "listener", True)
    events = media.events()
    assert janus.pid is not None

    os.kill(janus.pid, signal.SIGKILL)

    assert await asyncio.wait_for(anext(events), 10) == MediaEvent(ALL_ROOMS, "media_reset")
    await media.reconnect(timeout=30)
    await media.create_room(ROOM)  # what the app does for every live room after a reset

    async with JanusTransport(janus.url, api_secret=janus.api_secret) as transport:
        session = await transport.create_session(event_timeout=5.0)
        inspect = Inspector(janus, transport, await session.attach(AUDIOBRIDGE), await session.attach(STREAMING))
        feeds = await inspect.bridge(RU_KEY).list_participants(janus_id(RU_KEY))
        assert sorted(feed.display or "" for feed in feeds) == ["booth", "floor"]
        assert len(await inspect.bridge(ROOM).list_forwarders(janus_id(ROOM))) == 2  # its mountpoint, the channel
        await media.open_interpret(ROOM, RU, "ada", SPEAKER_OFFER)  # still in the booth, and still live
        booth = await inspect.bridge(RU_BOOTH).list_participants(janus_id(RU_BOOTH))
        assert {p.display: p.muted for p in booth} == {"ada": False}
        await media.open_channel_listen(ROOM, RU, "bob")
        await session.destroy()

    await media.destroy_room(ROOM)
    await media.create_room(ROOM)  # ended, then made anew: no channel comes back
    await media.admit(ROOM, "bob", "listener", True)
    assert not await media_has_channel(media)


async def media_has_channel(media: JanusMedia) -> bool:
    try:
        await media.open_channel_listen(ROOM, RU, "bob")
    except MediaRefused:
        return False
    return True
