"""Adapters layer: what every part of the Janus media adapter shares — the connections it holds (``_Conn``), their
bookkeeping (register, forget, drop, detach), the admission check, a viewer's ``watch``, events out, locks.

:class:`salon.adapters.janus.media.JanusMedia` is the port; its interpretation channels
(:mod:`media_interpretation`) and per-speaker mix (:mod:`speaker_mix`) are classes of their own on this base, so
each module stays one concept. The state is declared here and set by ``JanusMedia.__init__``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from salon.adapters.broadcast.fleet import BroadcastFleet, BroadcastNode, stream_ssrc
from salon.adapters.janus import media_rooms
from salon.adapters.janus.api import (
    HANDLE_NOT_FOUND,
    UNAUTHORIZED,
    JanusError,
    JanusSessionLost,
    JanusUnavailable,
)
from salon.adapters.janus.api import Jsep as JanusJsep
from salon.adapters.janus.media_channels import ChannelMedia
from salon.adapters.janus.media_link import Link, LinkKeeper
from salon.adapters.janus.media_rooms import BroadcastForward, RoomMedia, TalkingDetection
from salon.adapters.janus.plugins import (
    AUDIOBRIDGE_NO_SUCH_ROOM,
    AUDIOBRIDGE_UNAUTHORIZED,
    STREAMING,
    STREAMING_NO_SUCH_MOUNTPOINT,
    STREAMING_UNAUTHORIZED,
    AudioBridge,
    Streaming,
)
from salon.adapters.janus.transport import JanusHandle
from salon.app.ports import (
    Booth,
    Jsep,
    MediaEvent,
    MediaFull,
    MediaRefused,
    MediaRole,
)
from salon.domain.speaker_tracks import SpeakerTracks

if TYPE_CHECKING:
    from salon.adapters.janus.speaker_mix import SpeakerMix

log = logging.getLogger(__name__)

_K = TypeVar("_K")

AUDIOBRIDGE_ID_EXISTS: Final = 490
# Errors that are Janus's or ours, never the client's, when they answer a request that carries the client's SDP.
_NOT_THE_CLIENTS_PLUGIN: Final = frozenset(
    {AUDIOBRIDGE_NO_SUCH_ROOM, AUDIOBRIDGE_UNAUTHORIZED, STREAMING_NO_SUCH_MOUNTPOINT, STREAMING_UNAUTHORIZED}
)
_NOT_THE_CLIENTS_CORE: Final = frozenset({UNAUTHORIZED, HANDLE_NOT_FOUND})
JOIN_ATTEMPTS: Final = 2
UNSEAT_WAIT_S: Final = 3.0
EVENT_QUEUE: Final = 10_000  # media events waiting for the app
SESSION_QUEUE: Final = 1_000  # Janus's events waiting for the adapter (read at once, synchronously: never near)
SPEAKER_MIX_LISTENERS: Final = 100  # a room's per-speaker listeners: each receives every track (docs/BENCHMARKS.md)


# An interpreter's connection into a channel is a third kind, the adapter's own: the app names it by its channel.
_ConnKind = Literal["listen", "speak", "interpret"]


@dataclass(eq=False)
class _Conn:
    """One user connection: its handle, and for a speaker its participant id, its mute and its group (the track of
    the per-speaker mix) as Janus has them; ``channel``: the language of the channel it is in or watches (None: the
    floor); ``mix``: a listen connection to the per-speaker mix."""

    room_id: str
    user_id: str
    media: _ConnKind
    handle: JanusHandle
    participant: int = 0
    muted: bool = True
    answered: bool = False
    channel: str | None = None
    group: str | None = None
    mix: bool = False


class JanusMediaBase:
    """The adapter's state (set by ``JanusMedia.__init__``, documented there) and the helpers every part uses."""

    url: str
    _admin_key: str
    _broadcast: BroadcastFleet | None
    _webrtc_listeners: int | None
    _speaker_mix_listeners: int
    _talking: TalkingDetection
    _prebuffer: int
    _links: LinkKeeper
    _rooms: dict[str, RoomMedia]
    _admitted: dict[tuple[str, str], tuple[MediaRole, bool]]
    _conns: dict[tuple[str, str, _ConnKind], _Conn]
    _channels: dict[tuple[str, str], ChannelMedia]
    _booths: dict[tuple[str, str], Booth]
    _ducking: dict[tuple[str, str], int]
    _by_handle: dict[int, _Conn]
    _speakers: dict[tuple[int, int], _Conn]
    _mixes: dict[str, SpeakerMix]
    _tracks: dict[str, SpeakerTracks]
    _doomed: set[str]
    _events: asyncio.Queue[MediaEvent | None]
    _events_dropped: int
    _user_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock]
    _room_locks: weakref.WeakValueDictionary[str, asyncio.Lock]

    def _admitted_to(self, room_id: str, user_id: str, need: MediaRole | None = None) -> tuple[Link, RoomMedia]:
        link = self._links.require()
        room = self._rooms.get(room_id)
        entry = self._admitted.get((room_id, user_id))
        if room is None or entry is None or (need is not None and entry[0] != need):
            raise MediaRefused(f"{user_id} is not admitted to {room_id}" + (f" as a {need}" if need else ""))
        return link, room

    async def _watch(
        self, link: Link, room: RoomMedia, user_id: str, mountpoint: int, channel: str | None, *, mix: bool = False
    ) -> Jsep:
        room_id = room.room_id
        await self._drop(room_id, user_id, "listen")
        if self._webrtc_listeners is not None and self._count("listen") >= self._webrtc_listeners:
            raise MediaFull(f"this media node carries its budget of {self._webrtc_listeners} WebRTC listeners")
        handle = await link.session.attach(STREAMING)
        try:
            offer = await Streaming(handle).watch(mountpoint)
        except BaseException as exc:
            self._detach_later(handle)
            if isinstance(exc, JanusError):
                raise JanusUnavailable(f"watching room {room_id}: {exc}") from exc
            raise
        self._register(_Conn(room_id, user_id, "listen", handle, channel=channel, mix=mix), link, room)
        return {"type": offer["type"], "sdp": offer["sdp"]}

    async def _make_way_for_forward(self, link: Link, room: RoomMedia) -> None:
        """Before one more forward of a floor room's whole mix: take down what cannot stay beside it (the per-speaker
        mix, :class:`salon.adapters.janus.speaker_mix.SpeakerMixOps`, which implements this)."""
        raise NotImplementedError

    def _count(self, media: _ConnKind) -> int:
        return sum(1 for c in self._conns.values() if c.media == media)

    async def _forward(
        self,
        link: Link,
        stream: str,
        ident: int,
        secret: str,
        forwards: dict[str, BroadcastForward],
        node: BroadcastNode,
    ) -> None:
        """A new forward of the room to ``node`` with a new key, registered on the node first (so its first packets
        are heard), replacing any earlier one. Never an old forward re-registered: a node's fresh SRTP session
        expects the sequence to start over (its rollover counter is 0), which a forward older than 65,536 packets
        (~22 min) no longer does."""
        assert self._broadcast is not None
        control = AudioBridge(link.bridge, admin_key=self._admin_key, room_secret=secret)
        old = forwards.pop(node.name, None)
        key = media_rooms.new_forward_key()
        if old is not None:
            try:
                await control.stop_rtp_forward(ident, old.stream_id)
            except JanusError as exc:  # gone already: nothing of it is left to stop
                log.info("broadcast: the old forward of %s to %s: %s", stream, node.name, exc)
        try:
            await self._broadcast.register_room(node, stream, key)
            stream_id = await media_rooms.forward_to_broadcast(
                control, ident, node.rtp_host, node.rtp_port, stream_ssrc(stream), key
            )
        except JanusError as exc:
            raise JanusUnavailable(f"forwarding {stream} to {node.name}: {exc}") from exc
        forwards[node.name] = BroadcastForward(stream_id, key)

    async def _add_candidate(
        self, room_id: str, user_id: str, media: _ConnKind, channel: str | None, candidate: dict[str, Any] | None
    ) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            conn = self._conns.get((room_id, user_id, media))
            if conn is None or (media == "interpret" and conn.channel != channel):
                raise MediaRefused("no such connection")
            if candidate is not None and not isinstance(candidate.get("candidate"), str):
                raise MediaRefused("a candidate needs a 'candidate' string")
            try:
                await conn.handle.trickle(candidate)
            except JanusError as exc:
                raise _refusal(exc, "candidate") from exc

    def _register(self, conn: _Conn, link: Link, room: RoomMedia) -> None:
        """Record a connection just made, unless the room or the session ended while it was being made."""
        if self._links.current() is not link or self._rooms.get(room.room_id) is not room:
            self._detach_later(conn.handle)
            if self._links.current() is not link:
                raise JanusUnavailable("the media server was lost during the negotiation")
            raise MediaRefused(f"room {room.room_id} has no media any more")
        self._conns[(conn.room_id, conn.user_id, conn.media)] = conn
        self._by_handle[conn.handle.id] = conn
        if conn.media == "speak":
            self._speakers[(room.janus_id, conn.participant)] = conn

    def _forget(self, conn: _Conn) -> None:
        key = (conn.room_id, conn.user_id, conn.media)
        if self._conns.get(key) is conn:
            del self._conns[key]
        self._by_handle.pop(conn.handle.id, None)
        room = self._rooms.get(conn.room_id)
        if conn.media == "speak" and room is not None:
            self._speakers.pop((room.janus_id, conn.participant), None)
            self._stop_speaking(room, conn.user_id)

    async def _drop(self, room_id: str, user_id: str, media: _ConnKind) -> None:
        if (conn := self._conns.get((room_id, user_id, media))) is not None:
            self._forget(conn)
            await self._detach(conn.handle)

    async def _detach(self, handle: JanusHandle) -> None:
        """Detach (which hangs up first); a handle or session Janus no longer knows has nothing left to end."""
        if handle.session.closed:
            return
        try:
            await handle.detach()
        except (JanusError, JanusSessionLost) as exc:
            log.debug("janus: detaching handle %s: %s", handle.id, exc)

    def _detach_later(self, handle: JanusHandle) -> None:
        # From failure paths, possibly while being cancelled: the request must not depend on the caller.
        self._links.spawn(self._detach_quietly(handle), name=f"janus-detach-{handle.id}")

    async def _detach_quietly(self, handle: JanusHandle) -> None:
        try:
            await self._detach(handle)
        except JanusUnavailable as exc:
            log.info("janus: could not detach handle %s: %s", handle.id, exc)

    def _stop_speaking(self, room: RoomMedia, user_id: str) -> None:
        if user_id in room.speaking:
            room.speaking.discard(user_id)
            self._emit(MediaEvent(room.room_id, "stopped_speaking", user_id))

    def _emit(self, event: MediaEvent | None) -> None:
        if self._events.full():
            dropped = self._events.get_nowait()
            self._events_dropped += 1
            log.warning("janus: media events are not being consumed; dropped %s", dropped)
        self._events.put_nowait(event)

    @staticmethod
    def _lock(locks: weakref.WeakValueDictionary[_K, asyncio.Lock], key: _K) -> asyncio.Lock:
        # Weak values: a lock lives while someone holds or awaits it, so the table never grows with old users.
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock


def _jsep(value: object, kind: str) -> JanusJsep:
    if not isinstance(value, dict) or value.get("type") != kind or not isinstance(value.get("sdp"), str):
        raise MediaRefused(f"expected an SDP {kind}")
    return {"type": kind, "sdp": value["sdp"]}


def _refusal(exc: JanusError, what: str) -> Exception:
    """A Janus error answering the client's SDP or candidate: the client's mistake (``MediaRefused``, with Janus's
    short reason) unless it is one only Janus or this adapter can cause."""
    if exc.code in (_NOT_THE_CLIENTS_CORE if exc.plugin is None else _NOT_THE_CLIENTS_PLUGIN):
        return JanusUnavailable(f"Janus refused the {what}: {exc}")
    return MediaRefused(f"the media server refused the {what}: {exc.reason}")
