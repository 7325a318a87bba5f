"""Adapters layer: one interpretation channel of a Salon room in Janus, set up and torn down idempotently.

A channel is an AudioBridge room of its own (docs/ARCHITECTURE.md, "Interpretation channels"):

- the **floor feed**: a plain-RTP participant (group ``floor``) fed by an ``rtp_forward`` of the floor room's mix to
  the UDP port Janus gave it, at a reduced volume while an interpreter is live (ducking) and at 100 % otherwise;
- the **booth**: the interpreters' WebRTC participants (group ``booth``), muted in Janus unless live;
- two audiences, each a Streaming mountpoint fed by a forward of the channel room: the whole mix (listeners of the
  channel) and the ``booth`` group's mix only (stage speakers, who hear the floor already).

Nothing flows back: the channel room's mix is forwarded only to its own mountpoints, so an interpreter never reaches
the floor. Ids and secrets are derived from the room id and language as for rooms (:mod:`media_rooms`), so a
restarted app finds its channels again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from salon.adapters.janus.api import JanusError, JanusUnavailable
from salon.adapters.janus.media_rooms import FORWARD_HOST, BroadcastForward, RoomMedia, room_secret
from salon.adapters.janus.plugins import (
    AUDIOBRIDGE,
    AUDIOBRIDGE_NO_SUCH_ROOM,
    AUDIOBRIDGE_NO_SUCH_USER,
    AUDIOBRIDGE_ROOM_EXISTS,
    STREAMING_CANT_CREATE,
    STREAMING_NO_SUCH_MOUNTPOINT,
    AudioBridge,
    Streaming,
    janus_id,
)
from salon.adapters.janus.transport import JanusHandle, JanusSession
from salon.domain.interpretation import Booth

log = logging.getLogger(__name__)

FLOOR_GROUP: Final = "floor"
BOOTH_GROUP: Final = "booth"
FEED_WAIT_S: Final = 2.0


def channel_key(room_id: str, language: str) -> str:
    """The name a channel's Janus objects are derived from (never a Salon room id: those hold no ``/``)."""
    return f"{room_id}/channel/{language}"


def stream_name(room_id: str, language: str) -> str:
    """What the broadcast tier calls a channel's stream: an id-shaped name (the nodes take ``[A-Za-z0-9_-]+``),
    derived so that every app instance finds it, and with no structure a room id could collide with by design."""
    digest = hashlib.blake2b(channel_key(room_id, language).encode(), digest_size=15, person=b"salon.channel")
    return "channel-" + digest.hexdigest()


@dataclass
class ChannelMedia:
    """What Janus holds for one channel of a live room, as this adapter made it."""

    room_id: str
    language: str
    janus_id: int  # the channel's AudioBridge room and its full-mix mountpoint
    booth_mountpoint: int  # the booth-only mix (stage speakers)
    secret: str
    mountpoint_secret: str
    floor_handle: JanusHandle  # the floor feed's own participant handle (``configure`` sets its volume)
    floor_forward: int  # the forwarder's stream_id in the floor room
    floor_volume: int  # percent, as last set in Janus
    ducking_db: int  # the floor's level under a live interpreter
    broadcast: dict[str, BroadcastForward] = field(default_factory=dict)  # the channel's forwards, by node name


async def set_up(
    session: JanusSession,
    bridge_handle: JanusHandle,
    streaming_handle: JanusHandle,
    admin_key: str,
    floor: RoomMedia,
    language: str,
    *,
    ducking_db: int,
    prebuffer: int,
) -> ChannelMedia:
    """Create the channel's room, its two mountpoints and forwards, and the floor feed (at full level: nobody is
    live yet). A channel left over from an earlier session of ours is emptied and reused."""
    key = channel_key(floor.room_id, language)
    ident, booth_ident = janus_id(key), janus_id(f"{key}/booth")
    secret = room_secret(admin_key, "room", key)
    mountpoint_secret = room_secret(admin_key, "mountpoint", key)
    channel = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=secret)
    try:
        await channel.create(
            ident,
            sampling_rate=48000,
            audiolevel_event=False,  # who is talking is the floor's business; a booth has one live voice
            allow_rtp_participants=True,
            groups=(FLOOR_GROUP, BOOTH_GROUP),
        )
    except JanusError as exc:
        if exc.code != AUDIOBRIDGE_ROOM_EXISTS:
            raise
        for participant in await channel.list_participants(ident):
            await channel.kick(ident, participant.id)
        for forwarder in await channel.list_forwarders(ident):
            await channel.stop_rtp_forward(ident, forwarder.stream_id)
    audience = Streaming(streaming_handle, admin_key=admin_key, secret=mountpoint_secret)
    full_port = await _mountpoint(audience, ident)
    booth_port = await _mountpoint(audience, booth_ident)
    await channel.rtp_forward(ident, host=FORWARD_HOST, port=full_port, always_on=True)
    await channel.rtp_forward(ident, host=FORWARD_HOST, port=booth_port, always_on=True, group=BOOTH_GROUP)

    feed = await session.attach(AUDIOBRIDGE)
    try:
        feed_ip, feed_port = await AudioBridge(feed).join_plain_rtp(
            ident, display="floor", prebuffer=prebuffer, group=FLOOR_GROUP, volume=100
        )
        if feed_ip != FORWARD_HOST:
            # Janus binds the feed to the AudioBridge's local_ip and takes RTP there from anyone: never off the box.
            raise JanusUnavailable(
                f'the AudioBridge reads plain RTP on {feed_ip}, not {FORWARD_HOST}: set local_ip = "{FORWARD_HOST}" '
                "in janus.plugin.audiobridge.jcfg for interpretation channels"
            )
        stage = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=floor.secret)
        # always_on: the feed never starves, so the channel's floor is never dropped and re-buffered.
        forward = await stage.rtp_forward(floor.janus_id, host=FORWARD_HOST, port=feed_port, always_on=True)
        await _fed(channel, ident)
    except BaseException:
        await _detach_quietly(feed)
        raise
    return ChannelMedia(
        floor.room_id, language, ident, booth_ident, secret, mountpoint_secret, feed, forward, 100, ducking_db
    )


async def _fed(channel: AudioBridge, ident: int) -> None:
    """Wait (bounded) until the floor feed has had its first packet, which Janus takes as its media set up (~20 ms:
    the floor's forward is ``always_on``), so that the channel is fed when ``set_up`` returns. Not needed for
    correctness: the silence once blamed on an early ``configure`` was the sound test's own (docs/ARCHITECTURE.md)."""
    deadline = asyncio.get_running_loop().time() + FEED_WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        if any(p.display == "floor" and p.setup for p in await channel.list_participants(ident)):
            return
        await asyncio.sleep(0.02)
    log.warning("janus: the floor feed of channel room %s had no packet within %g s", ident, FEED_WAIT_S)


async def _mountpoint(audience: Streaming, ident: int) -> int:
    try:
        return await audience.create(ident, port=0, host=FORWARD_HOST)
    except JanusError as exc:
        if exc.code != STREAMING_CANT_CREATE:
            raise
    # Left over: a fresh one rather than guessing which forwards still feed the old one.
    await audience.destroy(ident)
    return await audience.create(ident, port=0, host=FORWARD_HOST)


async def set_floor_volume(channel: ChannelMedia, volume: int) -> None:
    """The floor's level in the channel's mix, in percent (``Booth.floor_volume``: ducked while an interpreter is
    live, 100 when none is, so that the channel then plays the floor as it is)."""
    if channel.floor_volume == volume:
        return
    await AudioBridge(channel.floor_handle).configure(volume=volume)
    channel.floor_volume = volume


class Seat(Protocol):
    """An interpreter's connection in the channel room, as the media adapter keeps it."""

    user_id: str
    participant: int  # Janus's participant id in the channel room
    muted: bool  # as Janus has it


async def apply_booth(control: AudioBridge, channel: ChannelMedia, booth: Booth, seats: Sequence[Seat]) -> None:
    """Mute and unmute the booth's connected interpreters (``seats``) and set the floor's level as ``booth`` says:
    everyone but the live one muted first, then the floor's level, then the live one unmuted — so two are never
    live together, and the floor goes down before the interpreter comes up (and back up once nobody is live)."""
    for seat in [s for s in seats if not booth.is_live(s.user_id)]:
        await _mute(control, channel, seat, True)
    await set_floor_volume(channel, booth.floor_volume(channel.ducking_db))
    for seat in [s for s in seats if booth.is_live(s.user_id)]:
        await _mute(control, channel, seat, False)


async def _mute(control: AudioBridge, channel: ChannelMedia, seat: Seat, muted: bool) -> None:
    if seat.muted == muted:
        return
    try:
        await (control.mute if muted else control.unmute)(channel.janus_id, seat.participant)
    except JanusError as exc:
        if exc.code not in (AUDIOBRIDGE_NO_SUCH_USER, AUDIOBRIDGE_NO_SUCH_ROOM):
            raise
        return  # their connection ended meanwhile: the next one joins with the booth's state
    seat.muted = muted


async def tear_down(
    bridge_handle: JanusHandle,
    streaming_handle: JanusHandle,
    admin_key: str,
    floor_room_id: str,
    language: str,
    channel: ChannelMedia | None,
) -> None:
    """Stop the floor's forward into the channel, destroy the channel's room (its participants and forwards go with
    it) and mountpoints (their viewers' streams end). Anything already gone is fine."""
    key = channel_key(floor_room_id, language)
    if channel is not None:
        stage = AudioBridge(
            bridge_handle, admin_key=admin_key, room_secret=room_secret(admin_key, "room", floor_room_id)
        )
        try:
            await stage.stop_rtp_forward(janus_id(floor_room_id), channel.floor_forward)
        except JanusError as exc:  # the floor room went first: its forwards went with it
            log.debug("janus: stopping the floor forward of %s: %s", key, exc)
        await _detach_quietly(channel.floor_handle)
    bridge = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=room_secret(admin_key, "room", key))
    try:
        await bridge.destroy(janus_id(key))
    except JanusError as exc:
        if exc.code != AUDIOBRIDGE_NO_SUCH_ROOM:
            raise
    audience = Streaming(streaming_handle, admin_key=admin_key, secret=room_secret(admin_key, "mountpoint", key))
    for ident in (janus_id(key), janus_id(f"{key}/booth")):
        try:
            await audience.destroy(ident)
        except JanusError as exc:
            if exc.code != STREAMING_NO_SUCH_MOUNTPOINT:
                raise


async def _detach_quietly(handle: JanusHandle) -> None:
    if handle.session.closed:
        return
    try:
        await handle.detach()
    except (JanusError, JanusUnavailable) as exc:
        log.debug("janus: detaching the floor feed handle %s: %s", handle.id, exc)
