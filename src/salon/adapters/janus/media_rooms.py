"""Adapters layer: one Salon room's media in Janus — an AudioBridge room (the stage), a Streaming mountpoint (the
audience) and the RTP forwarder from the first to the second — set up and torn down idempotently.

Used by :class:`salon.adapters.janus.media.JanusMedia` on its control handles. Both Janus objects take the room's
deterministic id (:func:`janus_id`), so they can be found again after the app restarts; their secrets are derived
from the plugins' ``admin_key`` for the same reason (see :func:`room_secret`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Final

from salon.adapters.janus.api import JanusError, JanusUnavailable
from salon.adapters.janus.plugins import (
    AUDIOBRIDGE_NO_SUCH_ROOM,
    AUDIOBRIDGE_ROOM_EXISTS,
    OPUS_PAYLOAD_TYPE,
    STREAMING_CANT_CREATE,
    STREAMING_NO_SUCH_MOUNTPOINT,
    AudioBridge,
    Streaming,
    janus_id,
)
from salon.adapters.janus.transport import JanusHandle
from salon.domain.forward_keys import DEFAULT_SUITE, KEY_BYTES, ForwardKey
from salon.domain.speaker_tracks import MIDS

log = logging.getLogger(__name__)

# The plain-RTP hop from the mix to the mountpoint stays on the machine: nobody else can inject audio into it.
FORWARD_HOST: Final = "127.0.0.1"


@dataclass(frozen=True)
class TalkingDetection:
    """AudioBridge's ``talking`` detection: every ``packets`` packets (20 ms each) Janus averages the audio levels
    the client reports (RFC 6464, dBov below 0: 127 silent, 0 loudest) and compares it to ``level``.

    15 packets = 0.3 s windows: talking is noticed 0.3-0.6 s after speech starts (a window that started in silence
    may average too quiet), and a pause shorter than a window rarely flips it off. Janus's defaults (100 packets,
    level 25) take 2 s and miss normal speech; 40 dBov is ordinary speech with AGC, well above room noise."""

    packets: int = 15
    level: int = 40


@dataclass(frozen=True)
class BroadcastForward:
    """A forward of the room's mix to one broadcast node: Janus's ``stream_id`` and the SRTP key it encrypts with
    (the node was given the same one)."""

    stream_id: int
    key: ForwardKey


@dataclass
class RoomMedia:
    """What Janus holds for one live Salon room, as this adapter created (or found and repaired) it."""

    room_id: str
    janus_id: int
    secret: str
    mountpoint_secret: str
    port: int  # the mountpoint's RTP port, the forwarder's destination
    forwarder: int  # its stream_id
    speaking: set[str] = field(default_factory=set)  # user ids, to turn Janus's repeated events into transitions
    broadcast: dict[str, BroadcastForward] = field(default_factory=dict)  # by broadcast node name


def room_secret(admin_key: str, kind: str, room_id: str) -> str:
    """The secret protecting a room's AudioBridge room (``kind`` "room") or mountpoint ("mountpoint").

    Derived (HMAC of the plugins' ``admin_key``), not random: an app that restarts while an external Janus keeps
    its rooms must still be able to forward, moderate and destroy them, and a random secret kept in memory would be
    lost. Whoever knows the ``admin_key`` already controls the plugins, so this protects exactly as much."""
    message = f"salon.janus.{kind}-secret:{room_id}".encode()
    return hmac.new(admin_key.encode(), message, hashlib.sha256).hexdigest()[:32]


async def set_up(
    bridge_handle: JanusHandle,
    streaming_handle: JanusHandle,
    admin_key: str,
    room_id: str,
    talking: TalkingDetection,
) -> RoomMedia:
    """Create the room's AudioBridge room, mountpoint and forwarder; whatever already exists is kept and checked,
    so this also repairs a half-made room (an earlier attempt cut short, an app restart with Janus still up)."""
    ident = janus_id(room_id)
    secret = room_secret(admin_key, "room", room_id)
    mountpoint_secret = room_secret(admin_key, "mountpoint", room_id)
    stage = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=secret)
    try:
        await stage.create(
            ident,
            sampling_rate=48000,
            audiolevel_event=True,
            audio_active_packets=talking.packets,
            audio_level_average=talking.level,
            groups=MIDS,  # the per-speaker mix's tracks (speaker_mix.py); the main mix is the same with them
        )
    except JanusError as exc:
        if exc.code != AUDIOBRIDGE_ROOM_EXISTS:
            raise
        # Left over from an earlier session of ours: anyone still seated there belongs to a dead session.
        for participant in await stage.list_participants(ident):
            log.info("janus: kicking leftover participant %s from room %s", participant.id, room_id)
            await stage.kick(ident, participant.id)
    audience = Streaming(streaming_handle, admin_key=admin_key, secret=mountpoint_secret)
    try:
        port = await audience.create(ident, port=0, host=FORWARD_HOST)
    except JanusError as exc:
        if exc.code != STREAMING_CANT_CREATE:
            raise
        port = await _mountpoint_port(audience, ident, exc)
    stream_id = await _forward(stage, ident, port)
    return RoomMedia(room_id, ident, secret, mountpoint_secret, port, stream_id)


async def _mountpoint_port(audience: Streaming, ident: int, refusal: JanusError) -> int:
    # Janus shows a mountpoint's ports in ``info`` only to whoever gives its secret.
    try:
        info = await audience.info(ident)
    except JanusError:
        raise refusal from None
    media = info.raw.get("media")
    port = media[0].get("port") if isinstance(media, list) and media and isinstance(media[0], dict) else None
    if not isinstance(port, int) or port <= 0:
        raise JanusUnavailable(f"mountpoint {ident} exists but Janus does not say its port (another owner?)")
    return port


async def _forward(stage: AudioBridge, ident: int, port: int) -> int:
    """Exactly one forwarder from the mix to ``port``: an existing one is kept, any other is stopped (forwards to
    broadcast nodes included: they are added again, on demand, by the next listener of each node)."""
    keep: int | None = None
    for forwarder in await stage.list_forwarders(ident):
        if keep is None and (forwarder.host, forwarder.port, forwarder.ptype) == (
            FORWARD_HOST,
            port,
            OPUS_PAYLOAD_TYPE,
        ):
            keep = forwarder.stream_id
        else:
            await stage.stop_rtp_forward(ident, forwarder.stream_id)
    if keep is not None:
        return keep
    # always_on: the mix flows while the stage is silent or empty, so listeners' players never starve.
    return await stage.rtp_forward(ident, host=FORWARD_HOST, port=port, always_on=True)


def new_forward_key() -> ForwardKey:
    """A fresh key for one forward. Never derived from the room: SRTP must never encrypt two streams with the same
    key, SSRC and packet index (RFC 3711 section 9.1), and a forward Janus re-creates starts its sequence again."""
    return ForwardKey(DEFAULT_SUITE, secrets.token_bytes(KEY_BYTES))


async def forward_to_broadcast(stage: AudioBridge, ident: int, host: str, port: int, ssrc: int, key: ForwardKey) -> int:
    """One more forward of an AudioBridge room's mix (a Salon room's stage, or one of its interpretation channels),
    to a broadcast node: SRTP with ``key``, tagged with the stream's SSRC (how the node tells streams apart on its
    one RTP port, and finds the stream's key)."""
    return await stage.rtp_forward(ident, host=host, port=port, always_on=True, ssrc=ssrc, srtp=key)


async def tear_down(bridge_handle: JanusHandle, streaming_handle: JanusHandle, admin_key: str, room_id: str) -> None:
    """Destroy the room's AudioBridge room (which ends its forwarders and drops its participants) and mountpoint
    (which ends its viewers' streams). Either already gone is fine."""
    ident = janus_id(room_id)
    stage = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=room_secret(admin_key, "room", room_id))
    audience = Streaming(streaming_handle, admin_key=admin_key, secret=room_secret(admin_key, "mountpoint", room_id))
    try:
        await stage.destroy(ident)
    except JanusError as exc:
        if exc.code != AUDIOBRIDGE_NO_SUCH_ROOM:
            raise
    try:
        await audience.destroy(ident)
    except JanusError as exc:
        if exc.code != STREAMING_NO_SUCH_MOUNTPOINT:
            raise
