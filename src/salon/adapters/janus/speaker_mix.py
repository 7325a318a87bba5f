"""Adapters layer: a room's per-speaker mix in Janus — each stage speaker on a track of their own, for listeners who
set each speaker's volume (docs/ARCHITECTURE.md, "Per-speaker mix").

The floor AudioBridge room is made with one group per track (``domain.speaker_tracks.MIDS``: ``t0``..``t3``,
``others``), and every speaker joins it in the group of their track (``configure`` moves them when the assignment
changes). Groups never change the room's main mix: the stage, the audience, the broadcast tier and interpretation
channels hear exactly what they would without them. The per-speaker mix itself is made lazily, on the first opt-in:

- a **multistream Streaming mountpoint**, one Opus stream per track (its mid is the track's name);
- one ``rtp_forward`` per group, of that group's mix only, to its stream's port.

So its cost is bounded by the stage (one encode per track per 20 ms) and not by the audience, beyond Janus's
per-viewer work. The mountpoint's id and secret are derived from the room id (:mod:`media_rooms`), so a restarted app
finds and replaces it; the forwards end with the floor room.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from salon.adapters.janus.api import JanusError
from salon.adapters.janus.media_rooms import FORWARD_HOST, RoomMedia, room_secret
from salon.adapters.janus.plugins import (
    STREAMING_CANT_CREATE,
    STREAMING_NO_SUCH_MOUNTPOINT,
    AudioBridge,
    Streaming,
    janus_id,
)
from salon.adapters.janus.transport import JanusHandle
from salon.domain.speaker_tracks import MIDS

log = logging.getLogger(__name__)


class NoGroups(Exception):
    """The floor room exists in Janus without groups (made by a Salon from before the per-speaker mix, and found
    after an app restart): its group forwards would carry the whole mix. The room gets them when Janus makes it
    again (a Janus restart, or the room's next session)."""


@dataclass(frozen=True)
class SpeakerMix:
    """What Janus holds for one room's per-speaker mix."""

    room_id: str
    janus_id: int  # the multistream mountpoint
    ports: dict[str, int]  # by mid: where its forward sends
    forwards: dict[str, int]  # by mid: the forward's stream_id in the floor room


def mix_key(room_id: str) -> str:
    """The name the mountpoint's id and secret are derived from (never a Salon room id: those hold no ``/``)."""
    return f"{room_id}/speakers"


async def set_up(
    bridge_handle: JanusHandle, streaming_handle: JanusHandle, admin_key: str, room: RoomMedia
) -> SpeakerMix:
    """Make the mountpoint (a leftover one is replaced) and the group forwards (leftover ones stopped first).
    :class:`NoGroups` when the floor room has no groups; nothing is left behind then."""
    key = mix_key(room.room_id)
    ident = janus_id(key)
    stage = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=room.secret)
    for forwarder in await stage.list_forwarders(room.janus_id):
        if forwarder.group is not None:  # a per-speaker mix of an earlier session: its mountpoint goes too
            await stage.stop_rtp_forward(room.janus_id, forwarder.stream_id)
    audience = Streaming(streaming_handle, admin_key=admin_key, secret=room_secret(admin_key, "mountpoint", key))
    try:
        ports = await audience.create_multistream(ident, MIDS, host=FORWARD_HOST)
    except JanusError as exc:
        if exc.code != STREAMING_CANT_CREATE:
            raise
        await audience.destroy(ident)
        ports = await audience.create_multistream(ident, MIDS, host=FORWARD_HOST)
    forwards: dict[str, int] = {}
    try:
        for mid in MIDS:
            stream_id, grouped = await stage.rtp_forward_group(room.janus_id, mid, host=FORWARD_HOST, port=ports[mid])
            forwards[mid] = stream_id
            if not grouped:
                raise NoGroups(f"room {room.room_id} was made without groups")
    except BaseException:
        for stream_id in forwards.values():
            try:
                await stage.stop_rtp_forward(room.janus_id, stream_id)
            except JanusError as exc:
                log.debug("janus: stopping a per-speaker forward of %s: %s", room.room_id, exc)
        await _destroy(audience, ident)
        raise
    return SpeakerMix(room.room_id, ident, ports, forwards)


async def retag(handle: JanusHandle, group: str) -> bool:
    """Move a speaker's participant to the group of their track; False if Janus refused (their connection ended
    meanwhile, or its handle is gone: the next one joins in the right group, which is all that can be done)."""
    try:
        await AudioBridge(handle).configure(group=group)
    except JanusError as exc:
        log.warning("janus: moving handle %s to group %s: %s", handle.id, group, exc)
        return False
    return True


async def tear_down(streaming_handle: JanusHandle, admin_key: str, room_id: str) -> None:
    """Destroy the room's per-speaker mountpoint (its viewers' streams end); already gone, or never made, is fine.
    Its forwards end with the floor room, or with :func:`set_up`'s next run."""
    key = mix_key(room_id)
    audience = Streaming(streaming_handle, admin_key=admin_key, secret=room_secret(admin_key, "mountpoint", key))
    await _destroy(audience, janus_id(key))


async def _destroy(audience: Streaming, ident: int) -> None:
    try:
        await audience.destroy(ident)
    except JanusError as exc:
        if exc.code != STREAMING_NO_SUCH_MOUNTPOINT:
            raise
