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

Here: lifecycle, rooms, admission, the listen and speak connections, the broadcast tier's forwards, events. The
interpretation channels are :class:`media_interpretation.InterpretationOps`, the per-speaker mix
:class:`speaker_mix.SpeakerMixOps`, both on :class:`media_base.JanusMediaBase` (the state and the connections'
bookkeeping), which this class joins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from salon.adapters.broadcast.fleet import BroadcastFleet
from salon.adapters.janus import media_channels, media_rooms, speaker_mix
from salon.adapters.janus.api import (
    JanusError,
    JanusException,
    JanusUnavailable,
)
from salon.adapters.janus.media_base import (
    AUDIOBRIDGE_ID_EXISTS,
    EVENT_QUEUE,
    JOIN_ATTEMPTS,
    SESSION_QUEUE,
    SPEAKER_MIX_LISTENERS,
    UNSEAT_WAIT_S,
    _Conn,
    _ConnKind,
    _jsep,
    _refusal,
)
from salon.adapters.janus.media_channels import ChannelMedia
from salon.adapters.janus.media_interpretation import InterpretationOps
from salon.adapters.janus.media_link import Link, LinkKeeper
from salon.adapters.janus.media_rooms import RoomMedia, TalkingDetection
from salon.adapters.janus.plugins import (
    AUDIOBRIDGE,
    AUDIOBRIDGE_NO_SUCH_ROOM,
    AUDIOBRIDGE_NO_SUCH_USER,
    AudioBridge,
    Streaming,
    janus_id,
)
from salon.adapters.janus.speaker_mix import SpeakerMix, SpeakerMixOps
from salon.adapters.janus.transport import JanusEvent, JanusTransport
from salon.app.media_health import JanusNodeHealth, MediaHealth
from salon.app.ports import (
    ALL_ROOMS,
    Booth,
    Jsep,
    MediaEvent,
    MediaKind,
    MediaRefused,
    MediaRole,
    MediaUnavailable,
    NoBroadcastTier,
    StreamGrant,
)
from salon.domain.speaker_tracks import OTHERS, SpeakerTracks

if TYPE_CHECKING:
    from salon.app.ports import MediaPort

__all__ = ["JanusMedia", "TalkingDetection"]

log = logging.getLogger(__name__)


class JanusMedia(InterpretationOps, SpeakerMixOps):
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
        speaker_mix_listeners: int = SPEAKER_MIX_LISTENERS,
        session_queue: int = SESSION_QUEUE,
        event_queue: int = EVENT_QUEUE,
    ) -> None:
        self.url = url
        self._admin_key = admin_key
        self._broadcast = broadcast
        self._webrtc_listeners = webrtc_listeners  # this node's budget of WebRTC listeners; None: no limit
        self._speaker_mix_listeners = speaker_mix_listeners  # per room
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
        self._mixes: dict[str, SpeakerMix] = {}  # made on a room's first opt-in
        self._tracks: dict[str, SpeakerTracks] = {}  # from admissions (the app's word): kept across a loss too
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
                    await self._tear_down_room(link, room_id)
            except JanusError as exc:  # not worth retrying: it would fail the same way next time
                log.error("janus: tearing down room %s, destroyed while Janus was out of reach: %s", room_id, exc)
            self._doomed.discard(room_id)

    def _on_lost(self, link: Link, error: JanusException | None) -> None:
        rooms = list(self._rooms.values())
        for store in (self._rooms, self._conns, self._by_handle, self._speakers, self._channels, self._mixes):
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
            self._mixes.pop(room_id, None)
            self._tracks.pop(room_id, None)
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
                await self._tear_down_room(link, room_id)
            except JanusError as exc:
                raise JanusUnavailable(f"destroying the media of room {room_id}: {exc}") from exc
            except JanusUnavailable:
                self._doomed.add(room_id)
                raise
            await asyncio.gather(*(self._detach(c.handle) for c in conns))

    async def _tear_down_room(self, link: Link, room_id: str) -> None:
        await media_rooms.tear_down(link.bridge, link.streaming, self._admin_key, room_id)
        await speaker_mix.tear_down(link.streaming, self._admin_key, room_id)

    # --- admission ---------------------------------------------------------------------------------------------

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            self._admitted[(room_id, user_id)] = (role, muted)
            if role == "listener":
                await self._drop(room_id, user_id, "speak")
            else:
                await self._cut_stream(room_id, user_id, "on_stage")  # the stage hears through its own connection
                if (conn := self._conns.get((room_id, user_id, "speak"))) is not None and conn.muted != muted:
                    await self._apply_mute(conn, muted)
            if role == "speaker" or self._has_track(room_id, user_id):  # a listener staying one changes nothing
                await self._follow_stage(room_id)

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
            if self._has_track(room_id, user_id):
                await self._follow_stage(room_id)

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

    async def open_stream(self, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        if self._broadcast is None:
            raise NoBroadcastTier("no broadcast nodes")
        async with self._lock(self._user_locks, (room_id, user_id)):
            link, room = self._admitted_to(room_id, user_id, "listener")
            await self._drop(room_id, user_id, "listen")  # one tier at a time
            node = await self._broadcast.place(room_id)
            async with self._lock(self._room_locks, room_id):
                if node.name not in room.broadcast or not self._broadcast.carries(node, room_id):
                    if node.name not in room.broadcast:  # one more forward of the whole mix
                        await self._make_way_for_forward(link, room)
                    await self._forward(link, room_id, room.janus_id, room.secret, room.broadcast, node)
            return self._broadcast.grant(node, room_id, user_id, connection_id)

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
            group = self._tracks.get(room_id, SpeakerTracks()).track_of(user_id) or OTHERS
            participant = janus_id(user_id)
            for attempt in range(1, JOIN_ATTEMPTS + 1):
                # A fresh handle each time: Janus keeps the ICE state of a refused offer, and refuses the next one.
                handle = await link.session.attach(AUDIOBRIDGE)
                try:
                    joined = await AudioBridge(handle).join(
                        room.janus_id, jsep, participant_id=participant, display=user_id, muted=muted,
                        prebuffer=self._prebuffer, group=group,
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
            conn = _Conn(room_id, user_id, "speak", handle, participant=participant, muted=muted, group=group)
            self._register(conn, link, room)
            await self._retag(room_id)  # the tracks may have moved while it joined
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

    async def close(self, room_id: str, user_id: str, media: MediaKind) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            await self._drop(room_id, user_id, media)

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


if TYPE_CHECKING:

    def _conforms(media: JanusMedia) -> MediaPort:
        return media
