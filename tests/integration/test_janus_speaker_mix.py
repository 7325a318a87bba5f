"""JanusMedia's per-speaker mix against a real Janus (Debian's 1.1.2, managed, on 127.0.0.1): the floor room's
groups, the multistream mountpoint and its group forwards, the offer's m-lines, a room made without groups, and that
destroying the room leaves nothing behind. No media flows (hand-written SDP, as in test_janus_media.py); the sound is
tests/integration/media/test_speaker_mix.py's job."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from salon.adapters.janus.media import JanusMedia
from salon.adapters.janus.media_rooms import room_secret
from salon.adapters.janus.plugins import AUDIOBRIDGE, STREAMING, STREAMING_NO_SUCH_MOUNTPOINT, AudioBridge, janus_id
from salon.adapters.janus.process import ManagedJanus
from salon.adapters.janus.speaker_mix import mix_key
from salon.adapters.janus.transport import JanusError, JanusTransport
from salon.app.ports import MediaFull, MediaUnavailable
from salon.domain.speaker_tracks import MIDS
from tests.integration.test_janus_media import SPEAKER_OFFER, Inspector, eventually, udp_listeners
from tests.support.janus import managed_janus

ROOM = "mix-room"
MIX = mix_key(ROOM)


@pytest.fixture
async def janus(tmp_path: Path) -> AsyncIterator[ManagedJanus]:
    async with managed_janus(tmp_path / "janus") as j:
        yield j


@pytest.fixture
async def media(janus: ManagedJanus) -> AsyncIterator[JanusMedia]:
    async with JanusMedia(janus.url, janus.api_secret, janus.admin_key, speaker_mix_listeners=2) as media:
        yield media


@pytest.fixture
async def inspect(janus: ManagedJanus) -> AsyncIterator[Inspector]:
    async with JanusTransport(janus.url, api_secret=janus.api_secret) as transport:
        session = await transport.create_session(event_timeout=5.0)
        yield Inspector(janus, transport, await session.attach(AUDIOBRIDGE), await session.attach(STREAMING))
        await session.destroy()


async def mountpoint_gone(inspect: Inspector) -> bool:
    try:
        await inspect.streaming(MIX).info(janus_id(MIX))
    except JanusError as exc:
        return exc.code == STREAMING_NO_SUCH_MOUNTPOINT
    return False


async def test_the_mix_is_a_multistream_mountpoint_fed_per_group_and_goes_with_the_room(
    media: JanusMedia, inspect: Inspector
) -> None:
    await media.create_room(ROOM)
    for user_id in ("a", "b"):
        await media.admit(ROOM, user_id, "speaker", False)
        await media.open_speak(ROOM, user_id, SPEAKER_OFFER)
    for user_id in ("l1", "l2", "l3"):
        await media.admit(ROOM, user_id, "listener", False)
    ports_before = udp_listeners()

    offer = await media.open_speaker_mix(ROOM, "l1")

    # One m-line per track, each with its mid, in order (janus_streaming.c 1.1.2, 6046-6063).
    mlines = re.findall(r"^m=(\w+) .*?(?=^m=|\Z)", offer["sdp"], flags=re.M | re.S)
    assert mlines == ["audio"] * len(MIDS)
    assert re.findall(r"^a=mid:(\S+)", offer["sdp"], flags=re.M) == list(MIDS)
    info = await inspect.streaming(MIX).info(janus_id(MIX))
    ports = {m["mid"]: m["port"] for m in info.raw["media"]}
    assert list(ports) == list(MIDS)
    assert {("127.0.0.1", port) for port in ports.values()} <= udp_listeners() - ports_before
    forwards = await inspect.bridge(ROOM).list_forwarders(janus_id(ROOM))
    assert {f.group: f.port for f in forwards if f.group is not None} == ports
    assert len([f for f in forwards if f.group is None]) == 1  # the room's own mix to its mountpoint, unchanged

    await media.open_speaker_mix(ROOM, "l2")
    with pytest.raises(MediaFull):
        await media.open_speaker_mix(ROOM, "l3")
    assert len(await inspect.bridge(ROOM).list_forwarders(janus_id(ROOM))) == 1 + len(MIDS)  # made once

    await media.destroy_room(ROOM)
    assert await mountpoint_gone(inspect)
    assert not await inspect.bridge(ROOM).exists(janus_id(ROOM))  # its forwards went with it

    async def ports_closed() -> bool:
        return not ({("127.0.0.1", port) for port in ports.values()} & udp_listeners())

    await eventually(ports_closed)


async def test_a_room_made_without_groups_keeps_its_stage_and_refuses_the_mix_without_a_trace(
    janus: ManagedJanus, media: JanusMedia, inspect: Inspector
) -> None:
    # An older Salon made the floor room (no groups); the app restarted while Janus kept it.
    secret = room_secret(janus.admin_key, "room", ROOM)
    older = AudioBridge(inspect.bridge(ROOM).handle, admin_key=janus.admin_key, room_secret=secret)
    await older.create(janus_id(ROOM))
    await media.create_room(ROOM)
    await media.admit(ROOM, "a", "speaker", False)
    await media.open_speak(ROOM, "a", SPEAKER_OFFER)  # its group is ignored there: the stage works as before
    await media.admit(ROOM, "l", "listener", False)

    with pytest.raises(MediaUnavailable):
        await media.open_speaker_mix(ROOM, "l")

    assert await mountpoint_gone(inspect)
    assert [f.group for f in await inspect.bridge(ROOM).list_forwarders(janus_id(ROOM))] == [None]
    await media.open_listen(ROOM, "l")  # the one mix still is there
