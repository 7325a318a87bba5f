"""Adapters layer: the interpretation channels part of the Janus media adapter — the port's channel methods on the
adapter's state (:mod:`media_base`); the Janus objects themselves are :mod:`media_channels`'."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from salon.adapters.janus import media_channels
from salon.adapters.janus.api import (
    JanusError,
    JanusUnavailable,
)
from salon.adapters.janus.media_base import JanusMediaBase, _Conn, _jsep, _refusal
from salon.adapters.janus.media_channels import ChannelMedia
from salon.adapters.janus.media_link import Link
from salon.adapters.janus.media_rooms import RoomMedia
from salon.adapters.janus.plugins import (
    AUDIOBRIDGE,
    AudioBridge,
    Streaming,
)
from salon.app.ports import (
    Booth,
    Jsep,
    MediaRefused,
    NoBroadcastTier,
    StreamGrant,
)

log = logging.getLogger(__name__)


class InterpretationOps(JanusMediaBase):
    """Interpretation channels (docs/ARCHITECTURE.md, "Interpretation channels")."""

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
        await self._make_way_for_forward(link, room)  # the floor feed is a forward of the whole mix (forward_rules)
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
        control = AudioBridge(link.bridge, admin_key=self._admin_key, room_secret=channel.booth_secret)
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
                    channel.booth_room, jsep, display=user_id, muted=muted, prebuffer=self._prebuffer
                )
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
            mountpoint = channel.booth_room if interpreter_only else channel.janus_id
            return await self._watch(link, room, user_id, mountpoint, language)

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

    async def switch_listen(
        self, room_id: str, user_id: str, language: str | None, *, interpreter_only: bool = False
    ) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)), self._lock(self._room_locks, room_id):
            _link, room = self._admitted_to(room_id, user_id)
            conn = self._conns.get((room_id, user_id, "listen"))
            if conn is None or not conn.answered:
                raise MediaRefused("no listen connection to switch")
            if conn.mix:  # its streams are the tracks; a channel is one mix
                raise MediaRefused("the per-speaker mix has no channels: open a channel's listen connection instead")
            if language is None:
                mountpoint = room.janus_id
            elif (channel := self._channels.get((room_id, language))) is not None:
                mountpoint = channel.booth_room if interpreter_only else channel.janus_id
            else:
                raise MediaRefused(f"room {room_id} has no {language} channel")
            try:
                await Streaming(conn.handle).switch(mountpoint)
            except JanusError as exc:
                raise JanusUnavailable(f"switching {user_id} in room {room_id}: {exc}") from exc
            conn.channel = language

    async def add_interpret_candidate(
        self, room_id: str, language: str, user_id: str, candidate: dict[str, Any] | None
    ) -> None:
        await self._add_candidate(room_id, user_id, "interpret", language, candidate)

    async def close_interpret(self, room_id: str, language: str, user_id: str) -> None:
        async with self._lock(self._user_locks, (room_id, user_id)):
            conn = self._conns.get((room_id, user_id, "interpret"))
            if conn is not None and conn.channel == language:
                await self._drop(room_id, user_id, "interpret")
