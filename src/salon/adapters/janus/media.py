"""Adapters layer: the media port (:class:`salon.app.ports.MediaPort`) implemented with Janus.

One Janus session serves the whole app. Two control handles (AudioBridge, Streaming) create and destroy rooms,
forward RTP and mute; every user connection is a handle of its own on the same session: a Streaming handle watching
the room's mountpoint (``listen``) or an AudioBridge handle joined to the room's stage (``speak``). Clients never
talk to Janus: the app relays their SDP and candidates, so Janus only ever serves handles this adapter opened, for
users the app admitted — the admission table here is what refuses the rest (Janus's ``kick`` alone keeps nobody out).

Events come from the session's long poll: AudioBridge's ``talking`` / ``stopped-talking`` (sent to every participant
handle of the room, so de-duplicated into transitions), a ``hangup`` of a user's handle, and the loss of the session
(Janus restarted or stopped answering). On a loss one ``media_reset`` (``ALL_ROOMS``) is emitted, everything
Janus held is forgotten (the admission table is kept: it is the app's word, not Janus's state) and a new session
is sought in the background; the app awaits :meth:`JanusMedia.reconnect`, then re-creates its rooms and
re-admits their members.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import httpx

from salon.adapters.broadcast.fleet import BroadcastFleet, BroadcastNode, stream_ssrc
from salon.adapters.janus import media_channels, media_rooms
from salon.adapters.janus.api import (
    HANDLE_NOT_FOUND,
    UNAUTHORIZED,
    JanusError,
    JanusException,
    JanusSessionLost,
    JanusUnavailable,
)
from salon.adapters.janus.api import Jsep as JanusJsep
from salon.adapters.janus.media_channels import BOOTH_GROUP, ChannelMedia
from salon.adapters.janus.media_link import Link, LinkKeeper
from salon.adapters.janus.media_rooms import BroadcastForward, RoomMedia, TalkingDetection
from salon.adapters.janus.plugins import (
    AUDIOBRIDGE,
    AUDIOBRIDGE_NO_SUCH_ROOM,
    AUDIOBRIDGE_NO_SUCH_USER,
    AUDIOBRIDGE_UNAUTHORIZED,
    STREAMING,
    STREAMING_NO_SUCH_MOUNTPOINT,
    STREAMING_UNAUTHORIZED,
    AudioBridge,
    Streaming,
    janus_id,
)
from salon.adapters.janus.transport import JanusEvent, JanusHandle, JanusTransport
from salon.app.media_health import JanusNodeHealth, MediaHealth
from salon.app.ports import (
    ALL_ROOMS,
    Booth,
    Jsep,
    MediaEvent,
    MediaFull,
    MediaKind,
    MediaRefused,
    MediaRole,
    MediaUnavailable,
    NoBroadcastTier,
    StreamGrant,
)

if TYPE_CHECKING:
    from salon.app.ports import MediaPort

__all__ = ["JanusMedia", "TalkingDetection"]

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


# An interpreter's connection into a channel is a third kind, the adapter's own: the app names it by its channel.
_ConnKind = Literal["listen", "speak", "interpret"]


@dataclass(eq=False)
class _Conn:
    """One user connection: its handle, and for a speaker its participant id and its mute as Janus has it;
    ``channel``: the language of the channel it is in or watches (None: the floor)."""

    room_id: str
    user_id: str
    media: _ConnKind
    handle: JanusHandle
    participant: int = 0
    muted: bool = True
    answered: bool = False
    channel: str | None = None


class JanusMedia:
    """``async with JanusMedia(url, api_secret, admin_key) as media:`` — see the module docstring."""

    def __init__(
        self,
        url: str,
        api_secret: str | None,
        admin_key: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        talking: TalkingDetection | None = None,
        prebuffer: int = 2,
        event_timeout: float = 10.0,
        broadcast: BroadcastFleet | None = None,
        webrtc_listeners: int | None = None,
        session_queue: int = SESSION_QUEUE,
        event_queue: int = EVENT_QUEUE,
    ) -> None:
        self.url = url
        self._admin_key = admin_key
        self._broadcast = broadcast
        self._webrtc_listeners = webrtc_listeners  # this node's budget of WebRTC listeners; None: no limit
        self._talking = talking or TalkingDetection()
        # 2 packets (40 ms) before a speaker enters the mix: Janus's default 6 adds ~120 ms (measured speaker to
        # listener); 1 leaves no room for jitter on a real network.
        self._prebuffer = prebuffer
        self._links = LinkKeeper(
            JanusTransport(url, api_secret=api_secret, client=http_client),
            event_timeout=event_timeout,
            queue_size=session_queue,
            on_event=self._on_event,
            on_lost=self._on_lost,
            on_connected=self._on_connected,
        )
        self._rooms: dict[str, RoomMedia] = {}
        self._admitted: dict[tuple[str, str], tuple[MediaRole, bool]] = {}
        self._conns: dict[tuple[str, str, _ConnKind], _Conn] = {}
        self._channels: dict[tuple[str, str], ChannelMedia] = {}  # (room, language)
        self._booths: dict[tuple[str, str], Booth] = {}  # the app's word, kept across a loss like admissions
        self._ducking: dict[tuple[str, str], int] = {}  # the channels asked for (dB), kept across a loss too
        self._by_handle: dict[int, _Conn] = {}
        self._speakers: dict[tuple[int, int], _Conn] = {}  # (Janus room, participant) -> speak connection
        self._doomed: set[str] = set()  # rooms destroyed while Janus was out of reach: torn down on reconnecting
        self._events: asyncio.Queue[MediaEvent | None] = asyncio.Queue(event_queue)
        self._events_dropped = 0
        self._user_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
        self._room_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def __aenter__(self) -> JanusMedia:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Open the session (one attempt: ``JanusUnavailable`` if Janus does not answer)."""
        await self._links.start()

    async def reconnect(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - always JanusUnavailable, never TimeoutError
        """Return once a live session exists, opening one if needed (retrying with backoff); ``JanusUnavailable``
        after ``timeout`` s (the attempts go on in the background). Rooms are then re-created by ``create_room``."""
        await self._links.reconnect(timeout)

    async def aclose(self) -> None:
        """End the session (Janus drops its handles, so every user connection). Rooms stay in Janus until it
        restarts, or until a ``create_room`` finds and repairs them."""
        await self._links.aclose()
        self._emit(None)

    async def _on_connected(self, link: Link) -> None:
        for room_id in list(self._doomed):
            try:
                if room_id not in self._rooms:
                    await media_rooms.tear_down(link.bridge, link.streaming, self._admin_key, room_id)
            except JanusError as exc:  # not worth retrying: it would fail the same way next time
                log.error("janus: tearing down room %s, destroyed while Janus was out of reach: %s", room_id, exc)
            self._doomed.discard(room_id)

    def _on_lost(self, link: Link, error: JanusException | None) -> None:
        rooms = list(self._rooms.values())
        for store in (self._rooms, self._conns, self._by_handle, self._speakers, self._channels):
            store.clear()
        for room in rooms:
            for user_id in sorted(room.speaking):
                self._emit(MediaEvent(room.room_id, "stopped_speaking", user_id))
        self._emit(MediaEvent(ALL_ROOMS, "media_reset"))  # once per loss: the app re-creates every live room

    # --- rooms -------------------------------------------------------------------------------------------------

    async def create_room(self, room_id: str) -> None:
        async with self._lock(self._room_locks, room_id):
            if room_id in self._rooms:
                return
            link = self._links.require()
            try:
                room = await media_rooms.set_up(link.bridge, link.streaming, self._admin_key, room_id, self._talking)
            except JanusError as exc:
                raise JanusUnavailable(f"creating the media of room {room_id}: {exc}") from exc
            if self._links.current() is not link:
                raise JanusUnavailable("the media server was lost while the room was being created")
            self._rooms[room_id] = room
            self._doomed.discard(room_id)
            # A room made again after a loss gets its channels back, with their booths (the app's word, kept here
            # like admissions), before anyone can reconnect to them.
            for (wished_room, language), ducking_db in sorted(self._ducking.items()):
                if wished_room == room_id:
                    try:
                        await self._set_up_channel(link, room, language, ducking_db)
                    except JanusUnavailable as exc:  # the room stands; the app's next create_channel tries again
                        log.warning("janus: making the %s channel of room %s again: %s", language, room_id, exc)

    async def destroy_room(self, room_id: str, *, restarting: bool = False) -> None:
        async with self._lock(self._room_locks, room_id):
            self._rooms.pop(room_id, None)
            for key in [k for k in self._admitted if k[0] == room_id]:
                del self._admitted[key]
            languages = {k[1] for k in (*self._channels, *self._booths, *self._ducking) if k[0] == room_id}
            if (link := self._links.current()) is not None:
                for language in sorted(languages):
                    await self._tear_down_channel(link, room_id, language, restarting=restarting)
            for language in languages:  # out of reach: Janus forgets them when it restarts; not wished any more
                self._booths.pop((room_id, language), None)
                self._ducking.pop((room_id, language), None)
            conns = [c for c in self._conns.values() if c.room_id == room_id]
            for conn in conns:
                self._forget(conn)
            if self._broadcast is not None:
                await self._broadcast.end_room(room_id, "shutting_down" if restarting else "room_ended")
            link = self._links.current()
            if link is None:
                self._doomed.add(room_id)
                return
            # Not only rooms known here: after an app restart Janus may still hold this one.
            try:
                await media_rooms.tear_down(link.bridge, link.streaming, self._admin_key, room_id)
            except JanusError as exc:
                raise JanusUnavailable(f"destroying the media of room {room_id}: {exc}") from exc
            except JanusUnavailable:
                self._doomed.add(room_id)
                raise
            await asyncio.gather(*(self._detach(c.handle) for c in conns))

    # --- admission ---------------------------------------------------------------------------------------------

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            self._admitted[(room_id, user_id)] = (role, muted)
            if role == "listener":
                await self._drop(room_id, user_id, "speak")
                return
            await self._cut_stream(room_id, user_id, "on_stage")  # the stage hears through its own connection
            if (conn := self._conns.get((room_id, user_id, "speak"))) is not None and conn.muted != muted:
                await self._apply_mute(conn, muted)

    async def set_muted(self, room_id: str, user_id: str, muted: bool) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            if (entry := self._admitted.get((room_id, user_id))) is not None:
                self._admitted[(room_id, user_id)] = (entry[0], muted)
            if (conn := self._conns.get((room_id, user_id, "speak"))) is not None:
                await self._apply_mute(conn, muted)

    async def remove(self, room_id: str, user_id: str) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            self._admitted.pop((room_id, user_id), None)
            await self._drop(room_id, user_id, "speak")
            await self._drop(room_id, user_id, "listen")
            await self._drop(room_id, user_id, "interpret")
            await self._cut_stream(room_id, user_id, "removed")

    def _admitted_to(self, room_id: str, user_id: str, need: MediaRole | None = None) -> tuple[Link, RoomMedia]:
        link = self._links.require()
        room = self._rooms.get(room_id)
        entry = self._admitted.get((room_id, user_id))
        if room is None or entry is None or (need is not None and entry[0] != need):
            raise MediaRefused(f"{user_id} is not admitted to {room_id}" + (f" as a {need}" if need else ""))
        return link, room

    async def _apply_mute(self, conn: _Conn, muted: bool) -> None:
        link, room = self._links.require(), self._rooms.get(conn.room_id)
        if room is None:
            return
        if muted:
            self._stop_speaking(room, conn.user_id)
        control = AudioBridge(link.bridge, admin_key=self._admin_key, room_secret=room.secret)
        try:
            await (control.mute if muted else control.unmute)(room.janus_id, conn.participant)
        except JanusError as exc:
            if exc.code not in (AUDIOBRIDGE_NO_SUCH_USER, AUDIOBRIDGE_NO_SUCH_ROOM):
                raise JanusUnavailable(f"muting {conn.user_id}: {exc}") from exc
            return  # their connection ended meanwhile: the recorded mute applies to the next one
        conn.muted = muted

    # --- connections -------------------------------------------------------------------------------------------

    async def open_listen(self, room_id: str, user_id: str) -> Jsep:
        async with self._lock(self._user_locks, (room_id, user_id)):
            link, room = self._admitted_to(room_id, user_id)
            return await self._watch(link, room, user_id, room.janus_id, None)

    async def _watch(self, link: Link, room: RoomMedia, user_id: str, mountpoint: int, channel: str | None) -> Jsep:
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
        self._register(_Conn(room_id, user_id, "listen", handle, channel=channel), link, room)
        return {"type": offer["type"], "sdp": offer["sdp"]}

    async def open_stream(self, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        if self._broadcast is None:
            raise NoBroadcastTier("no broadcast nodes")
        async with self._lock(self._user_locks, (room_id, user_id)):
            link, room = self._admitted_to(room_id, user_id, "listener")
            await self._drop(room_id, user_id, "listen")  # one tier at a time
            node = await self._broadcast.place(room_id)
            async with self._lock(self._room_locks, room_id):
                if node.name not in room.broadcast or not self._broadcast.carries(node, room_id):
                    await self._forward(link, room_id, room.janus_id, room.secret, room.broadcast, node)
            return self._broadcast.grant(node, room_id, user_id, connection_id)

    async def open_channel_stream(self, room_id: str, language: str, user_id: str, connection_id: str) -> StreamGrant:
        if self._broadcast is None:
            raise NoBroadcastTier("no broadcast nodes")
        async with self._lock(self._user_locks, (room_id, user_id)):
            link, _room = self._admitted_to(room_id, user_id, "listener")
            if (room_id, language) not in self._channels:
                raise MediaRefused(f"room {room_id} has no {language} channel")
            await self._drop(room_id, user_id, "listen")  # one tier at a time
            name = media_channels.stream_name(room_id, language)
            node = await self._broadcast.place(name)
            async with self._lock(self._room_locks, room_id):
                channel = self._channels.get((room_id, language))
                if channel is None:
                    raise MediaRefused(f"the {language} channel of {room_id} ended")
                if node.name not in channel.broadcast or not self._broadcast.carries(node, name):
                    await self._forward(link, name, channel.janus_id, channel.secret, channel.broadcast, node)
            return self._broadcast.grant(node, name, user_id, connection_id)

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

    async def audience_split(self, room_id: str) -> dict[str, int]:
        webrtc = sum(1 for c in self._conns.values() if c.room_id == room_id and c.media == "listen")
        broadcast = 0 if self._broadcast is None else await self._broadcast.listeners(room_id)
        return {"webrtc": webrtc, "broadcast": broadcast}

    async def health(self) -> MediaHealth:
        """This node's state from what the adapter holds (no call to Janus), and the broadcast workers' loads."""
        node = JanusNodeHealth(
            name=self.url,
            up=self._links.current() is not None,
            rooms=len(self._rooms),
            webrtc_listeners=self._count("listen"),
            speakers=self._count("speak"),
            session_events_dropped=self._links.events_dropped,
            app_events_dropped=self._events_dropped,
        )
        return MediaHealth([node], [] if self._broadcast is None else await self._broadcast.health())

    def _count(self, media: _ConnKind) -> int:
        return sum(1 for c in self._conns.values() if c.media == media)

    async def _cut_stream(self, room_id: str, user_id: str, reason: str) -> None:
        """End the user's broadcast streams of the room: its Original and its channels'."""
        if self._broadcast is None:
            return
        languages = sorted({k[1] for k in (*self._channels, *self._booths) if k[0] == room_id})
        for stream in (room_id, *(media_channels.stream_name(room_id, lang) for lang in languages)):
            try:
                await self._broadcast.cut(stream, [user_id], reason)
            except MediaUnavailable as exc:  # a node that cannot be told carries no stream to cut
                log.warning("broadcast: cutting %s from %s (%s): %s", user_id, stream, reason, exc)

    async def answer_listen(self, room_id: str, user_id: str, answer: Jsep) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            self._admitted_to(room_id, user_id)
            conn = self._conns.get((room_id, user_id, "listen"))
            if conn is None or conn.answered:
                raise MediaRefused("no offer to answer")
            try:
                await Streaming(conn.handle).start(_jsep(answer, "answer"))
            except JanusError as exc:
                await self._drop(room_id, user_id, "listen")  # a handle whose negotiation failed is spoiled
                raise _refusal(exc, "answer") from exc
            conn.answered = True

    async def open_speak(self, room_id: str, user_id: str, offer: Jsep) -> Jsep:
        async with self._lock(self._user_locks, (room_id, user_id)):
            link, room = self._admitted_to(room_id, user_id, "speaker")
            jsep = _jsep(offer, "offer")
            await self._drop(room_id, user_id, "speak")
            muted = self._admitted[(room_id, user_id)][1]
            participant = janus_id(user_id)
            for attempt in range(1, JOIN_ATTEMPTS + 1):
                # A fresh handle each time: Janus keeps the ICE state of a refused offer, and refuses the next one.
                handle = await link.session.attach(AUDIOBRIDGE)
                try:
                    joined = await AudioBridge(handle).join(
                        room.janus_id, jsep, participant_id=participant, display=user_id, muted=muted,
                        prebuffer=self._prebuffer,
                    )  # fmt: skip
                except BaseException as exc:
                    self._detach_later(handle)
                    if not isinstance(exc, JanusError):
                        raise
                    if exc.plugin is None or exc.code != AUDIOBRIDGE_ID_EXISTS or attempt == JOIN_ATTEMPTS:
                        raise _refusal(exc, "offer") from exc
                    await self._unseat(link, room, participant)
                    continue
                break
            if joined.jsep is None:
                self._detach_later(handle)
                raise JanusUnavailable("Janus joined the speaker without answering the offer")
            conn = _Conn(room_id, user_id, "speak", handle, participant=participant, muted=muted)
            self._register(conn, link, room)
            return {"type": joined.jsep["type"], "sdp": joined.jsep["sdp"]}

    async def _unseat(self, link: Link, room: RoomMedia, participant: int) -> None:
        """Free a participant id held by a handle that is not ours (a session given up on, an earlier app)."""
        control = AudioBridge(link.bridge, room_secret=room.secret)
        deadline = asyncio.get_running_loop().time() + UNSEAT_WAIT_S
        # A refusal here (gone meanwhile, room destroyed) ends the wait: the next join attempt tells the truth.
        with contextlib.suppress(JanusError):
            await control.kick(room.janus_id, participant)
            # Janus answers the kick at once but lets the participant go once its PeerConnection is closed (~0.7 s).
            while asyncio.get_running_loop().time() < deadline:
                if all(p.id != participant for p in await control.list_participants(room.janus_id)):
                    return
                await asyncio.sleep(0.1)

    async def add_candidate(
        self, room_id: str, user_id: str, media: MediaKind, candidate: dict[str, Any] | None
    ) -> None:
        await self._add_candidate(room_id, user_id, media, None, candidate)

    async def add_interpret_candidate(
        self, room_id: str, language: str, user_id: str, candidate: dict[str, Any] | None
    ) -> None:
        await self._add_candidate(room_id, user_id, "interpret", language, candidate)

    async def close_interpret(self, room_id: str, language: str, user_id: str) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            conn = self._conns.get((room_id, user_id, "interpret"))
            if conn is not None and conn.channel == language:
                await self._drop(room_id, user_id, "interpret")

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

    async def close(self, room_id: str, user_id: str, media: MediaKind) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            await self._drop(room_id, user_id, media)

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

    # --- interpretation channels (media_channels.py) -------------------------------------------------------------

    async def create_channel(self, room_id: str, language: str, ducking_db: int) -> None:
        async with self._lock(self._room_locks, room_id):
            if (room_id, language) in self._channels:
                return
            link = self._links.require()
            room = self._rooms.get(room_id)
            if room is None:
                raise MediaRefused(f"room {room_id} has no media")
            self._booths.setdefault((room_id, language), Booth(language))
            self._ducking[(room_id, language)] = ducking_db
            await self._set_up_channel(link, room, language, ducking_db)

    async def _set_up_channel(self, link: Link, room: RoomMedia, language: str, ducking_db: int) -> None:
        room_id = room.room_id
        try:
            channel = await media_channels.set_up(
                link.session, link.bridge, link.streaming, self._admin_key, room, language,
                ducking_db=ducking_db, prebuffer=self._prebuffer,
            )  # fmt: skip
        except JanusError as exc:
            raise JanusUnavailable(f"creating the {language} channel of room {room_id}: {exc}") from exc
        if self._links.current() is not link or self._rooms.get(room_id) is not room:
            raise JanusUnavailable("the media server was lost while the channel was being created")
        self._channels[(room_id, language)] = channel
        await self._apply_booth(link, channel, self._booths.setdefault((room_id, language), Booth(language)))

    async def destroy_channel(self, room_id: str, language: str) -> None:
        async with self._lock(self._room_locks, room_id):
            link = self._links.require()
            await self._tear_down_channel(link, room_id, language)

    async def _tear_down_channel(self, link: Link, room_id: str, language: str, *, restarting: bool = False) -> None:
        if self._broadcast is not None:
            reason = "shutting_down" if restarting else "room_ended"
            await self._broadcast.end_room(media_channels.stream_name(room_id, language), reason)
        self._booths.pop((room_id, language), None)
        self._ducking.pop((room_id, language), None)
        channel = self._channels.pop((room_id, language), None)
        conns = [c for c in self._conns.values() if c.room_id == room_id and c.channel == language]
        for conn in conns:
            self._forget(conn)
        try:
            await media_channels.tear_down(link.bridge, link.streaming, self._admin_key, room_id, language, channel)
        except JanusError as exc:
            raise JanusUnavailable(f"destroying the {language} channel of room {room_id}: {exc}") from exc
        await asyncio.gather(*(self._detach(c.handle) for c in conns))

    async def set_ducking(self, room_id: str, language: str, ducking_db: int) -> None:
        async with self._lock(self._room_locks, room_id):
            if (room_id, language) not in self._ducking:
                raise MediaRefused(f"room {room_id} has no {language} channel")
            self._ducking[(room_id, language)] = ducking_db  # what a channel made again after a loss gets
            channel = self._channels.get((room_id, language))
            if channel is None:
                return
            channel.ducking_db = ducking_db
            booth = self._booths.get((room_id, language), Booth(language))
            try:
                await media_channels.set_floor_volume(channel, booth.floor_volume(ducking_db))
            except JanusError as exc:
                raise JanusUnavailable(f"ducking the {language} channel of room {room_id}: {exc}") from exc

    async def set_booth(self, room_id: str, booth: Booth) -> None:
        async with self._lock(self._room_locks, room_id):
            self._booths[(room_id, booth.language)] = booth
            channel = self._channels.get((room_id, booth.language))
            if channel is not None:
                await self._apply_booth(self._links.require(), channel, booth)

    async def _apply_booth(self, link: Link, channel: ChannelMedia, booth: Booth) -> None:
        """Make Janus match ``booth``: who is not in it cut, then the mutes and the floor's level
        (:func:`media_channels.apply_booth`)."""
        conns = [
            c for c in self._conns.values()
            if c.media == "interpret" and c.room_id == channel.room_id and c.channel == booth.language
        ]  # fmt: skip
        for conn in [c for c in conns if c.user_id not in booth.interpreters]:
            self._forget(conn)
            await self._detach(conn.handle)
        control = AudioBridge(link.bridge, admin_key=self._admin_key, room_secret=channel.secret)
        try:
            await media_channels.apply_booth(
                control, channel, booth, [c for c in conns if c.user_id in booth.interpreters]
            )
        except JanusError as exc:
            raise JanusUnavailable(f"applying the {booth.language} booth of room {channel.room_id}: {exc}") from exc

    async def open_interpret(self, room_id: str, language: str, user_id: str, offer: Jsep) -> Jsep:
        async with self._lock(self._user_locks, (room_id, user_id)), self._lock(self._room_locks, room_id):
            link = self._links.require()
            channel, booth = self._channels.get((room_id, language)), self._booths.get((room_id, language))
            room = self._rooms.get(room_id)
            if channel is None or booth is None or room is None or user_id not in booth.interpreters:
                raise MediaRefused(f"{user_id} is not an interpreter of the {language} channel of {room_id}")
            jsep = _jsep(offer, "offer")
            await self._drop(room_id, user_id, "interpret")
            muted = not booth.is_live(user_id)
            handle = await link.session.attach(AUDIOBRIDGE)
            try:
                # Janus picks the participant id: the handle is fresh, and nothing outside needs to find it again.
                joined = await AudioBridge(handle).join(
                    channel.janus_id, jsep, display=user_id, muted=muted, prebuffer=self._prebuffer,
                    group=BOOTH_GROUP,
                )  # fmt: skip
            except BaseException as exc:
                self._detach_later(handle)
                if isinstance(exc, JanusError):
                    raise _refusal(exc, "offer") from exc
                raise
            if joined.jsep is None:
                self._detach_later(handle)
                raise JanusUnavailable("Janus joined the interpreter without answering the offer")
            conn = _Conn(
                room_id, user_id, "interpret", handle, participant=joined.participant_id, muted=muted,
                channel=language,
            )  # fmt: skip
            self._register(conn, link, room)
            return {"type": joined.jsep["type"], "sdp": joined.jsep["sdp"]}

    async def open_channel_listen(
        self, room_id: str, language: str, user_id: str, *, interpreter_only: bool = False
    ) -> Jsep:
        async with self._lock(self._user_locks, (room_id, user_id)), self._lock(self._room_locks, room_id):
            link, room = self._admitted_to(room_id, user_id)
            channel = self._channels.get((room_id, language))
            if channel is None:
                raise MediaRefused(f"room {room_id} has no {language} channel")
            mountpoint = channel.booth_mountpoint if interpreter_only else channel.janus_id
            return await self._watch(link, room, user_id, mountpoint, language)

    async def switch_listen(
        self, room_id: str, user_id: str, language: str | None, *, interpreter_only: bool = False
    ) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)), self._lock(self._room_locks, room_id):
            _link, room = self._admitted_to(room_id, user_id)
            conn = self._conns.get((room_id, user_id, "listen"))
            if conn is None or not conn.answered:
                raise MediaRefused("no listen connection to switch")
            if language is None:
                mountpoint = room.janus_id
            elif (channel := self._channels.get((room_id, language))) is not None:
                mountpoint = channel.booth_mountpoint if interpreter_only else channel.janus_id
            else:
                raise MediaRefused(f"room {room_id} has no {language} channel")
            try:
                await Streaming(conn.handle).switch(mountpoint)
            except JanusError as exc:
                raise JanusUnavailable(f"switching {user_id} in room {room_id}: {exc}") from exc
            conn.channel = language

    # --- events ------------------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[MediaEvent]:
        """The media events, in order, for one consumer; ends after ``aclose``."""
        while not (self._links.closed and self._events.empty()):
            event = await self._events.get()
            if event is None:
                return
            yield event

    def _on_event(self, link: Link, event: JanusEvent) -> None:
        if event.kind in ("hangup", "webrtcdown", "detached"):
            conn = self._by_handle.get(event.sender) if event.sender is not None else None
            if conn is not None:
                self._forget(conn)
                if conn.media != "interpret":  # the app re-offers what it knows; an interpreter's client reconnects
                    self._emit(MediaEvent(conn.room_id, "hung_up", conn.user_id, conn.media))
                if event.kind != "detached":
                    self._detach_later(conn.handle)
        elif event.kind == "event" and event.plugin == AUDIOBRIDGE:
            what = event.data.get("audiobridge")
            if what in ("talking", "stopped-talking"):
                self._on_talking(event.data, what == "talking")

    def _on_talking(self, data: dict[str, Any], talking: bool) -> None:
        room_ident, participant = data.get("room"), data.get("id")
        if not isinstance(room_ident, int) or not isinstance(participant, int):
            return
        conn = self._speakers.get((room_ident, participant))
        room = self._rooms.get(conn.room_id) if conn is not None else None
        if conn is None or room is None:
            return
        if not talking:
            self._stop_speaking(room, conn.user_id)
        elif not conn.muted and conn.user_id not in room.speaking:
            room.speaking.add(conn.user_id)
            self._emit(MediaEvent(room.room_id, "speaking", conn.user_id))

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

    # --- helpers -----------------------------------------------------------------------------------------------

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


if TYPE_CHECKING:

    def _conforms(media: JanusMedia) -> MediaPort:
        return media
