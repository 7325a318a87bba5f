"""Adapters layer: a room's per-speaker mix in Janus — each stage speaker on a track of their own, for listeners who
set each speaker's volume (docs/ARCHITECTURE.md, "Per-speaker mix").

The floor AudioBridge room is made with one group per track (``domain.speaker_tracks.MIDS``: ``t0``..``t3``,
``others``), and every speaker joins it in the group of their track (``configure`` moves them when the assignment
changes). Groups never change the room's main mix: the stage, the audience, the broadcast tier and interpretation
channels hear exactly what they would without them. The per-speaker mix itself is made lazily, on the first opt-in:

- a **multistream Streaming mountpoint**, one Opus stream per track (its mid is the track's name);
- one ``rtp_forward`` per group, of that group's mix only, to its stream's port.

So its cost is bounded by the stage (one encode per track per 20 ms) and not by the audience, beyond Janus's
per-viewer work. It never coexists with a second forward of the floor's whole mix (an interpretation channel's floor
feed, a broadcast node): Janus 1.1.2 would spoil that forward's packets (:mod:`forward_rules`). An opt-in in such a
room is refused (``SpeakerMixUnavailable``), and a channel or a broadcast forward made later takes the mix down first
(:meth:`SpeakerMixOps._make_way_for_forward`): its listeners' connections are cut and the app tells them.

The mountpoint's id and secret are derived from the room id (:mod:`media_rooms`), so a restarted app finds and
replaces it; the forwards end with the floor room.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from salon.adapters.janus import forward_rules
from salon.adapters.janus.api import JanusError, JanusUnavailable
from salon.adapters.janus.media_base import JanusMediaBase
from salon.adapters.janus.media_link import Link
from salon.adapters.janus.media_rooms import FORWARD_HOST, RoomMedia, room_secret
from salon.adapters.janus.plugins import (
    STREAMING_CANT_CREATE,
    STREAMING_NO_SUCH_MOUNTPOINT,
    AudioBridge,
    Streaming,
    janus_id,
)
from salon.adapters.janus.transport import JanusHandle
from salon.app.ports import Jsep, MediaEvent, MediaFull, MediaUnavailable, SpeakerMixUnavailable
from salon.domain.speaker_tracks import MIDS, OTHERS, SpeakerTracks, follow

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


async def take_down(
    bridge_handle: JanusHandle, streaming_handle: JanusHandle, admin_key: str, room: RoomMedia, mix: SpeakerMix
) -> None:
    """End a live room's per-speaker mix: its group forwards (so the floor room has no group forward left) and its
    mountpoint. A forward already gone is fine."""
    stage = AudioBridge(bridge_handle, admin_key=admin_key, room_secret=room.secret)
    for stream_id in mix.forwards.values():
        try:
            await stage.stop_rtp_forward(room.janus_id, stream_id)
        except JanusError as exc:
            log.debug("janus: stopping a per-speaker forward of %s: %s", room.room_id, exc)
    await tear_down(streaming_handle, admin_key, room.room_id)


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


class SpeakerMixOps(JanusMediaBase):
    """The port's per-speaker mix on the adapter's state (:mod:`media_base`): tracks follow the admitted speakers,
    the connected ones are moved to their track's group, and the mix is made on a room's first opt-in."""

    async def open_speaker_mix(self, room_id: str, user_id: str) -> Jsep:
        async with self._lock(self._user_locks, (room_id, user_id)), self._lock(self._room_locks, room_id):
            link, room = self._admitted_to(room_id, user_id, "listener")
            if not forward_rules.may_coexist(group_forwards=True, whole_mix=self._whole_mix_forwards(room)):
                raise SpeakerMixUnavailable(f"room {room_id} has interpretation channels or a broadcast audience")
            await self._drop(room_id, user_id, "listen")  # before counting: replacing one's own takes no place
            if sum(1 for c in self._conns.values() if c.mix and c.room_id == room_id) >= self._speaker_mix_listeners:
                raise MediaFull(f"room {room_id} carries its {self._speaker_mix_listeners} per-speaker listeners")
            if (mix := self._mixes.get(room_id)) is None:
                try:
                    mix = await set_up(link.bridge, link.streaming, self._admin_key, room)
                except NoGroups as exc:
                    raise MediaUnavailable(f"{exc}: no per-speaker mix until its media is made again") from exc
                except JanusError as exc:
                    raise JanusUnavailable(f"making the per-speaker mix of room {room_id}: {exc}") from exc
                if self._links.current() is not link or self._rooms.get(room_id) is not room:
                    raise JanusUnavailable("the media server was lost while the per-speaker mix was being made")
                self._mixes[room_id] = mix
            return await self._watch(link, room, user_id, mix.janus_id, None, mix=True)

    def _whole_mix_forwards(self, room: RoomMedia) -> int:
        """The floor's forwards of its whole mix: the Original's, each channel's (as wished: one being made again
        after a loss counts), each broadcast node's."""
        languages = {k[1] for k in (*self._channels, *self._ducking) if k[0] == room.room_id}
        return forward_rules.whole_mix_forwards(channels=len(languages), broadcast_nodes=len(room.broadcast))

    async def _make_way_for_forward(self, link: Link, room: RoomMedia) -> None:
        """One more forward of the floor's whole mix is about to be made (a channel's floor feed, a broadcast node):
        if the per-speaker mix could not stay beside it (:mod:`forward_rules`), take it down first — its forwards
        and mountpoint, its listeners' connections — and tell the app (``speaker_mix_ended``), which tells the
        clients; they hear the one mix again. Interpretation and a big audience win over volumes per speaker.
        Called with the room's lock held."""
        room_id = room.room_id
        mix = self._mixes.get(room_id)
        if mix is None or forward_rules.may_coexist(group_forwards=True, whole_mix=self._whole_mix_forwards(room) + 1):
            return
        del self._mixes[room_id]
        conns = [c for c in self._conns.values() if c.room_id == room_id and c.mix]
        for conn in conns:
            self._forget(conn)
        try:
            await take_down(link.bridge, link.streaming, self._admin_key, room, mix)
        except JanusError as exc:
            raise JanusUnavailable(f"taking down the per-speaker mix of room {room_id}: {exc}") from exc
        finally:
            for conn in conns:
                await self._detach(conn.handle)
            self._emit(MediaEvent(room_id, "speaker_mix_ended"))
        log.info("janus: per-speaker mix of room %s taken down for a forward of its whole mix", room_id)

    def speaker_tracks(self, room_id: str) -> dict[str, str]:
        return self._tracks.get(room_id, SpeakerTracks()).mapping()

    def _has_track(self, room_id: str, user_id: str) -> bool:
        tracks = self._tracks.get(room_id)
        return tracks is not None and tracks.track_of(user_id) is not None

    async def _follow_stage(self, room_id: str) -> None:
        """Give the room's speakers (as admitted, in order) their tracks (``domain.speaker_tracks``), tell the app
        when that changed, and move the connected ones whose group is not their track's. Called only when a speaker
        comes, goes or is admitted again: it reads every admission of the room, so not for each of a big audience."""
        on_stage = [k[1] for k, (role, _) in self._admitted.items() if k[0] == room_id and role == "speaker"]
        before = self._tracks.get(room_id, SpeakerTracks())
        after = follow(before, on_stage)
        if on_stage:
            self._tracks[room_id] = after
        else:
            self._tracks.pop(room_id, None)
        if after.mapping() != before.mapping():
            self._emit(MediaEvent(room_id, "speaker_tracks"))
        await self._retag(room_id)

    async def _retag(self, room_id: str) -> None:
        tracks = self._tracks.get(room_id, SpeakerTracks())
        speaking = [c for c in self._speakers.values() if c.room_id == room_id]  # the speak connections only
        for conn in [c for c in speaking if self._conns.get((room_id, c.user_id, "speak")) is c]:  # still current
            group = tracks.track_of(conn.user_id) or OTHERS
            if conn.group != group and await retag(conn.handle, group):
                conn.group = group
