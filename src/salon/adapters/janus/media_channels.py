"""Adapters layer: one interpretation channel of a Salon room in Janus, set up and torn down idempotently.

A channel is two AudioBridge rooms of its own (docs/ARCHITECTURE.md, "Interpretation channels"):

- the **booth room**: the interpreters' WebRTC participants, muted in Janus unless live (they hear the floor on
  their own listen connection, the Original's). Its mix (the live interpreter's voice) is forwarded to the booth
  mountpoint (stage speakers, who hear the floor already) and to the channel room's booth feed;
- the **channel room**: two plain-RTP participants, the **floor feed** (fed by an ``rtp_forward`` of the floor room's
  mix, at a reduced volume while an interpreter is live (ducking) and at 100 % otherwise) and the **booth feed**;
  its mix is forwarded to the channel's mountpoint (its WebRTC listeners) and to each broadcast node carrying it.

Neither room has AudioBridge groups, so all the forwarders of each room carry its one mix: Janus 1.1.2 sends a
second Opus forwarder of a mix with the byte length of whichever other mix it encoded last (docs/ARCHITECTURE.md,
"Janus 1.1.2: one Opus forward per group"), which is what broke the channel's broadcast forward when one room also
forwarded a ``booth`` group.

Nothing flows back: the channel rooms' mixes go only to their own audiences, so an interpreter never reaches the
floor. Ids and secrets are derived from the room id and language as for rooms (:mod:`media_rooms`), so a restarted
app finds its channels again.
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

FLOOR_FEED: Final = "floor"  # the channel room's plain-RTP participants' display names
BOOTH_FEED: Final = "booth"
FEED_WAIT_S: Final = 2.0
HANDOVER_GAP_S: Final = 0.03  # between muting the outgoing interpreter and unmuting the incoming one


def channel_key(room_id: str, language: str) -> str:
    """The name a channel's Janus objects are derived from (never a Salon room id: those hold no ``/``)."""
    return f"{room_id}/channel/{language}"


def booth_key(room_id: str, language: str) -> str:
    """The name the channel's booth room and booth mountpoint are derived from."""
    return f"{channel_key(room_id, language)}/booth"


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
    janus_id: int  # the channel room and its mountpoint (the channel's listeners)
    booth_room: int  # the interpreters' room; the booth mountpoint (stage speakers) has the same id
    secret: str  # the channel room's
    booth_secret: str  # the booth room's
    mountpoint_secret: str
    floor_handle: JanusHandle  # the floor feed's own participant handle (``configure`` sets its volume)
    floor_forward: int  # the forwarder's stream_id in the floor room
    booth_handle: JanusHandle  # the booth feed's participant handle in the channel room
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
    """Create the channel's two rooms, its two mountpoints and the forwards between them, and the floor feed (at
    full level: nobody is live yet). A channel left over from an earlier session of ours is emptied and reused."""
    key, booth = channel_key(floor.room_id, language), booth_key(floor.room_id, language)
    ident, booth_ident = janus_id(key), janus_id(booth)
    secret, booth_secret = room_secret(admin_key, "room", key), room_secret(admin_key, "room", booth)
    mountpoint_secret = room_secret(admin_key, "mountpoint", key)
    channel = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=secret)
    booth_room = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=booth_secret)
    await _empty_room(channel, ident, allow_rtp_participants=True)
    await _empty_room(booth_room, booth_ident, allow_rtp_participants=False)
    audience = Streaming(streaming_handle, admin_key=admin_key, secret=mountpoint_secret)
    full_port = await _mountpoint(audience, ident)
    booth_port = await _mountpoint(audience, booth_ident)
    await channel.rtp_forward(ident, host=FORWARD_HOST, port=full_port, always_on=True)
    await booth_room.rtp_forward(booth_ident, host=FORWARD_HOST, port=booth_port, always_on=True)

    feeds: list[JanusHandle] = []
    try:
        floor_feed, floor_port = await _feed(session, feeds, ident, FLOOR_FEED, prebuffer)
        booth_feed, booth_feed_port = await _feed(session, feeds, ident, BOOTH_FEED, prebuffer)
        # always_on: a feed never starves, so the channel's floor and booth are never dropped and re-buffered.
        await booth_room.rtp_forward(booth_ident, host=FORWARD_HOST, port=booth_feed_port, always_on=True)
        stage = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=floor.secret)
        forward = await stage.rtp_forward(floor.janus_id, host=FORWARD_HOST, port=floor_port, always_on=True)
        await _fed(channel, ident, (FLOOR_FEED, BOOTH_FEED))
    except BaseException:
        for handle in feeds:
            await _detach_quietly(handle)
        raise
    return ChannelMedia(
        floor.room_id, language, ident, booth_ident, secret, booth_secret, mountpoint_secret,
        floor_feed, forward, booth_feed, 100, ducking_db,
    )  # fmt: skip


async def _empty_room(bridge: AudioBridge, ident: int, *, allow_rtp_participants: bool) -> None:
    """Create the room, or empty one left over from an earlier session of ours (its participants and forwards)."""
    try:
        await bridge.create(
            ident,
            sampling_rate=48000,
            audiolevel_event=False,  # who is talking is the floor's business; a booth has one live voice
            allow_rtp_participants=allow_rtp_participants,
        )
    except JanusError as exc:
        if exc.code != AUDIOBRIDGE_ROOM_EXISTS:
            raise
        for participant in await bridge.list_participants(ident):
            await bridge.kick(ident, participant.id)
        for forwarder in await bridge.list_forwarders(ident):
            await bridge.stop_rtp_forward(ident, forwarder.stream_id)


async def _feed(
    session: JanusSession, feeds: list[JanusHandle], ident: int, display: str, prebuffer: int
) -> tuple[JanusHandle, int]:
    """A plain-RTP participant of the channel room on a handle of its own (kept in ``feeds`` for the caller to let
    go on failure); the UDP port Janus reads it on."""
    handle = await session.attach(AUDIOBRIDGE)
    feeds.append(handle)
    feed_ip, feed_port = await AudioBridge(handle).join_plain_rtp(
        ident, display=display, prebuffer=prebuffer, volume=100
    )
    if feed_ip != FORWARD_HOST:
        # Janus binds the feed to the AudioBridge's local_ip and takes RTP there from anyone: never off the box.
        raise JanusUnavailable(
            f'the AudioBridge reads plain RTP on {feed_ip}, not {FORWARD_HOST}: set local_ip = "{FORWARD_HOST}" '
            "in janus.plugin.audiobridge.jcfg for interpretation channels"
        )
    return handle, feed_port


async def _fed(room: AudioBridge, ident: int, displays: tuple[str, ...]) -> None:
    """Wait (bounded) until both feeds have had their first packet, which Janus takes as their media set up (~20 ms:
    the forwards are ``always_on``), so that the channel is fed when ``set_up`` returns. Not needed for
    correctness: the silence once blamed on an early ``configure`` was the sound test's own (docs/ARCHITECTURE.md)."""
    deadline = asyncio.get_running_loop().time() + FEED_WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        if sum(p.display in displays and p.setup for p in await room.list_participants(ident)) == len(displays):
            return
        await asyncio.sleep(0.02)
    log.warning("janus: the feeds of room %s had no packet within %g s", ident, FEED_WAIT_S)


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
    """An interpreter's connection in the booth room, as the media adapter keeps it."""

    user_id: str
    participant: int  # Janus's participant id in the booth room
    muted: bool  # as Janus has it


async def apply_booth(control: AudioBridge, channel: ChannelMedia, booth: Booth, seats: Sequence[Seat]) -> None:
    """Mute and unmute the booth's connected interpreters (``seats``) and set the floor's level as ``booth`` says:
    everyone but the live one muted first, then the floor's level, then the live one unmuted — so two are never
    live together, and the floor goes down before the interpreter comes up (and back up once nobody is live)."""
    muted_now = [await _mute(control, channel, seat, True) for seat in seats if not booth.is_live(seat.user_id)]
    await set_floor_volume(channel, booth.floor_volume(channel.ducking_db))
    live = [seat for seat in seats if booth.is_live(seat.user_id) and seat.muted]
    if live and any(muted_now):
        # Janus reads each participant's `muted` as it mixes a tick, so a tick already under way when one voice was
        # muted could still read the next one as unmuted: both in one frame. One tick and a half apart, never.
        await asyncio.sleep(HANDOVER_GAP_S)
    for seat in live:
        await _mute(control, channel, seat, False)


async def _mute(control: AudioBridge, channel: ChannelMedia, seat: Seat, muted: bool) -> bool:
    """Whether Janus was told (False: it had it so already, or the connection is gone)."""
    if seat.muted == muted:
        return False
    try:
        await (control.mute if muted else control.unmute)(channel.booth_room, seat.participant)
    except JanusError as exc:
        if exc.code not in (AUDIOBRIDGE_NO_SUCH_USER, AUDIOBRIDGE_NO_SUCH_ROOM):
            raise
        return False  # their connection ended meanwhile: the next one joins with the booth's state
    seat.muted = muted
    return True


async def tear_down(
    bridge_handle: JanusHandle,
    streaming_handle: JanusHandle,
    admin_key: str,
    floor_room_id: str,
    language: str,
    channel: ChannelMedia | None,
) -> None:
    """Stop the floor's forward into the channel, destroy the channel's two rooms (their participants and forwards
    go with them) and mountpoints (their viewers' streams end). Anything already gone is fine."""
    key, booth = channel_key(floor_room_id, language), booth_key(floor_room_id, language)
    if channel is not None:
        stage = AudioBridge(
            bridge_handle, admin_key=admin_key, room_secret=room_secret(admin_key, "room", floor_room_id)
        )
        try:
            await stage.stop_rtp_forward(janus_id(floor_room_id), channel.floor_forward)
        except JanusError as exc:  # the floor room went first: its forwards went with it
            log.debug("janus: stopping the floor forward of %s: %s", key, exc)
        for handle in (channel.floor_handle, channel.booth_handle):
            await _detach_quietly(handle)
    for name in (key, booth):
        bridge = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=room_secret(admin_key, "room", name))
        try:
            await bridge.destroy(janus_id(name))
        except JanusError as exc:
            if exc.code != AUDIOBRIDGE_NO_SUCH_ROOM:
                raise
    audience = Streaming(streaming_handle, admin_key=admin_key, secret=room_secret(admin_key, "mountpoint", key))
    for ident in (janus_id(key), janus_id(booth)):
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
