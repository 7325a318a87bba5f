"""App layer: in-memory fakes of the ports, for tests only (a process with no audio uses ``adapters/null_media.py``).

The product never fakes the media path; ``FakeMedia`` records what the app asked for so tests can assert it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from salon.app.media_health import BroadcastNodeHealth, JanusNodeHealth, MediaHealth
from salon.app.ports import (
    Booth,
    Jsep,
    MediaEvent,
    MediaFull,
    MediaKind,
    MediaRefused,
    MediaRole,
    RoomMessage,
    SpeakerMixUnavailable,
    StreamGrant,
)
from salon.domain.speaker_tracks import SpeakerTracks, follow


def _resolve(future: asyncio.Future[None], *_: object) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(eq=False)
class _Sleeper:
    until: datetime
    wake: asyncio.Future[None]
    task: asyncio.Task[Any] | None


@dataclass
class FakeClock:
    """Time that moves only when a test says so: timers that sleep on it wait for ``advance`` or ``elapse``."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    _sleepers: list[_Sleeper] = field(default_factory=list, repr=False, compare=False)
    # Tasks an ``elapse`` woke, and what it waits on: done when the task ends or sleeps on this clock again.
    _settling: dict[asyncio.Task[Any], asyncio.Future[None]] = field(default_factory=dict, repr=False, compare=False)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        """Move the time on and wake the sleepers it made due (they run when the test next awaits)."""
        self.current += timedelta(seconds=seconds)
        self._wake()

    async def elapse(self, seconds: float, *, settle_timeout_s: float = 10.0) -> None:
        """Let ``seconds`` pass: step from one sleeper's deadline to the next, and at each let the tasks woken run
        until they end or sleep on this clock again (a loop on a 1 s timer ticks ten times in ``elapse(10)``).
        Their real I/O (a database, a socket) gets up to ``settle_timeout_s`` of real time per step."""
        end = self.current + timedelta(seconds=seconds)
        while True:
            await asyncio.sleep(0)  # a timer task just created has yet to reach its first sleep
            due = [s for s in self._sleepers if s.until <= end and not s.wake.done()]
            if not due:
                break
            self.current = max(self.current, min(s.until for s in due))
            await self._settle(self._wake(), settle_timeout_s)
        self.current = max(self.current, end)

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        settling = self._settling.pop(task, None) if task is not None else None
        if settling is not None:
            _resolve(settling)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        sleeper = _Sleeper(self.current + timedelta(seconds=seconds), asyncio.get_running_loop().create_future(), task)
        self._sleepers.append(sleeper)
        try:
            await sleeper.wake
        finally:
            self._sleepers.remove(sleeper)

    def _wake(self) -> list[asyncio.Task[Any]]:
        woken = []
        for sleeper in self._sleepers:
            if sleeper.until <= self.current and not sleeper.wake.done():
                sleeper.wake.set_result(None)
                if sleeper.task is not None:
                    woken.append(sleeper.task)
        return woken

    async def _settle(self, tasks: list[asyncio.Task[Any]], timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        waits = []
        for task in tasks:
            settled: asyncio.Future[None] = loop.create_future()
            self._settling[task] = settled
            task.add_done_callback(partial(_resolve, settled))
            waits.append(settled)
        try:
            _, pending = await asyncio.wait(waits, timeout=timeout_s)
        finally:
            for task in tasks:
                self._settling.pop(task, None)
        if pending:
            raise TimeoutError(f"{len(pending)} timer task(s) still busy {timeout_s} s after their time came")


@dataclass
class RecordingBus:
    rooms: list[RoomMessage] = field(default_factory=list)
    users: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    closed_sessions: list[str] = field(default_factory=list)
    closed_users: list[str] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)
    signals: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)

    async def publish_room(self, messages: list[RoomMessage]) -> None:
        self.rooms.extend(messages)

    async def publish_user(self, user_id: str, name: str, data: dict[str, Any]) -> None:
        self.users.append((user_id, name, data))

    async def publish_signal(self, room_id: str, name: str, data: dict[str, Any]) -> None:
        self.signals.append((room_id, name, data))

    async def room_opened(self, room_id: str) -> None:
        self.opened.append(room_id)

    async def close_sessions(self, token_hashes: list[str], reason: str) -> None:
        self.closed_sessions.extend(token_hashes)

    async def close_user(self, user_id: str, reason: str) -> None:
        self.closed_users.append(user_id)

    async def leave_room(self, room_id: str, user_id: str, reason: str) -> None:
        self.left.append((room_id, user_id))


@dataclass
class FakeMedia:
    """Keeps the media state the app asked for — rooms, each admitted user's role and mute, open connections — and
    refuses connections the way the real media plane does. Offers and answers are placeholders."""

    rooms: set[str] = field(default_factory=set)
    members: dict[tuple[str, str], tuple[MediaRole, bool]] = field(default_factory=dict)
    connections: dict[tuple[str, str, MediaKind], str] = field(default_factory=dict)  # -> "offered" | "open"
    candidates: list[tuple[str, str, MediaKind]] = field(default_factory=list)
    streams: dict[tuple[str, str], str] = field(default_factory=dict)  # (room, user) -> connection id
    calls: list[tuple[str, ...]] = field(default_factory=list)
    channels: dict[tuple[str, str], int] = field(default_factory=dict)  # (room, language) -> ducking dB
    booths: dict[tuple[str, str], Booth] = field(default_factory=dict)
    interpreting: dict[tuple[str, str], str] = field(default_factory=dict)  # (room, user) -> language
    listening: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (room, user) -> channel heard
    interpreter_only: dict[tuple[str, str], bool] = field(default_factory=dict)  # (room, user) -> as last asked
    tracks: dict[str, SpeakerTracks] = field(default_factory=dict)  # room -> its per-speaker mix's assignment
    speaker_mix: set[tuple[str, str]] = field(default_factory=set)  # (room, user) whose listen is the per-speaker mix
    speaker_mix_max_listeners: int = 100  # per room, like the Janus adapter's setting
    broadcast: set[str] = field(default_factory=set)  # rooms forwarded to the broadcast tier (its first stream on)
    queue: asyncio.Queue[MediaEvent] = field(default_factory=asyncio.Queue)
    up: bool = True  # what health() says of its one pretend Janus node (a test sets False: the media plane is down)

    async def create_room(self, room_id: str) -> None:
        self.calls.append(("create_room", room_id))
        self.rooms.add(room_id)

    async def destroy_room(self, room_id: str, *, restarting: bool = False) -> None:
        self.calls.append(("destroy_room", room_id, *(("restarting",) if restarting else ())))
        self.rooms.discard(room_id)
        for key in [k for k in self.members if k[0] == room_id]:
            del self.members[key]
        for conn in [k for k in self.connections if k[0] == room_id]:
            del self.connections[conn]
        for stream in [k for k in self.streams if k[0] == room_id]:
            del self.streams[stream]
        self.tracks.pop(room_id, None)  # the room ended: nobody to tell
        self.broadcast.discard(room_id)
        self.speaker_mix -= {k for k in self.speaker_mix if k[0] == room_id}
        for language in [k[1] for k in self.channels if k[0] == room_id]:
            await self.destroy_channel(room_id, language)

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        self.calls.append(("admit", room_id, user_id, role))
        self.members[(room_id, user_id)] = (role, muted)
        if role == "listener":
            self.connections.pop((room_id, user_id, "speak"), None)
        else:
            self.streams.pop((room_id, user_id), None)
        self._follow_stage(room_id)

    async def set_muted(self, room_id: str, user_id: str, muted: bool) -> None:
        self.calls.append(("set_muted", room_id, user_id, str(muted)))
        if (room_id, user_id) in self.members:
            role, _ = self.members[(room_id, user_id)]
            self.members[(room_id, user_id)] = (role, muted)

    async def remove(self, room_id: str, user_id: str) -> None:
        self.calls.append(("remove", room_id, user_id))
        self.members.pop((room_id, user_id), None)
        for media in ("listen", "speak"):
            self.connections.pop((room_id, user_id, media), None)
        self.streams.pop((room_id, user_id), None)
        self.interpreting.pop((room_id, user_id), None)
        self.speaker_mix.discard((room_id, user_id))
        self._follow_stage(room_id)

    def _follow_stage(self, room_id: str) -> None:
        """Re-assign the room's tracks to its admitted speakers (in admission order); a change is an event."""
        on_stage = [k[1] for k, (role, _) in self.members.items() if k[0] == room_id and role == "speaker"]
        before = self.tracks.get(room_id, SpeakerTracks())
        after = follow(before, on_stage)
        if after.mapping() != before.mapping():
            self.queue.put_nowait(MediaEvent(room_id, "speaker_tracks"))
        self.tracks[room_id] = after

    def _end_speaker_mix(self, room_id: str) -> None:
        """A channel or a broadcast forward takes the room's per-speaker mix down, as the Janus adapter does: its
        listeners' connections end, and the event says so."""
        taking = [k for k in self.speaker_mix if k[0] == room_id]
        for key in taking:
            self._drop_listen(*key)
        if taking:
            self.queue.put_nowait(MediaEvent(room_id, "speaker_mix_ended"))

    def _drop_listen(self, room_id: str, user_id: str) -> None:
        self.connections.pop((room_id, user_id, "listen"), None)
        self.speaker_mix.discard((room_id, user_id))

    def _admitted(self, room_id: str, user_id: str, need: MediaRole | None = None) -> None:
        member = self.members.get((room_id, user_id))
        if room_id not in self.rooms or member is None or (need is not None and member[0] != need):
            raise MediaRefused(f"{user_id} is not admitted to {room_id}" + (f" as a {need}" if need else ""))

    async def open_listen(self, room_id: str, user_id: str) -> Jsep:
        self.calls.append(("open_listen", room_id, user_id))
        self._admitted(room_id, user_id)
        self._drop_listen(room_id, user_id)
        self.connections[(room_id, user_id, "listen")] = "offered"
        return {"type": "offer", "sdp": f"v=0 fake offer to {user_id}"}

    async def open_speaker_mix(self, room_id: str, user_id: str) -> Jsep:
        self.calls.append(("open_speaker_mix", room_id, user_id))
        self._admitted(room_id, user_id, "listener")
        if room_id in self.broadcast or any(k[0] == room_id for k in self.channels):  # as the Janus adapter's rule
            raise SpeakerMixUnavailable(f"room {room_id} has interpretation channels or a broadcast audience")
        self._drop_listen(room_id, user_id)
        if sum(1 for k in self.speaker_mix if k[0] == room_id) >= self.speaker_mix_max_listeners:
            raise MediaFull(f"room {room_id} carries {self.speaker_mix_max_listeners} per-speaker listeners")
        self.connections[(room_id, user_id, "listen")] = "offered"
        self.speaker_mix.add((room_id, user_id))
        return {"type": "offer", "sdp": f"v=0 fake per-speaker offer to {user_id}"}

    def speaker_tracks(self, room_id: str) -> dict[str, str]:
        return self.tracks.get(room_id, SpeakerTracks()).mapping()

    async def answer_listen(self, room_id: str, user_id: str, answer: Jsep) -> None:
        self.calls.append(("answer_listen", room_id, user_id))
        self._admitted(room_id, user_id)
        if self.connections.get((room_id, user_id, "listen")) != "offered":
            raise MediaRefused("no offer to answer")
        self.connections[(room_id, user_id, "listen")] = "open"

    async def open_speak(self, room_id: str, user_id: str, offer: Jsep) -> Jsep:
        self.calls.append(("open_speak", room_id, user_id))
        self._admitted(room_id, user_id, "speaker")
        self.connections[(room_id, user_id, "speak")] = "open"
        return {"type": "answer", "sdp": f"v=0 fake answer to {user_id}"}

    async def add_candidate(
        self, room_id: str, user_id: str, media: MediaKind, candidate: dict[str, Any] | None
    ) -> None:
        if (room_id, user_id, media) not in self.connections:
            raise MediaRefused("no such connection")
        self.candidates.append((room_id, user_id, media))

    async def close(self, room_id: str, user_id: str, media: MediaKind) -> None:
        self.calls.append(("close", room_id, user_id, media))
        self.connections.pop((room_id, user_id, media), None)
        if media == "listen":
            self.speaker_mix.discard((room_id, user_id))

    async def open_stream(self, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        self.calls.append(("open_stream", room_id, user_id))
        self._admitted(room_id, user_id, "listener")
        self._drop_listen(room_id, user_id)
        self._end_speaker_mix(room_id)
        self.broadcast.add(room_id)
        self.streams[(room_id, user_id)] = connection_id
        return StreamGrant(url=f"http://broadcast.invalid/v1/stream/{room_id}?ticket=fake-{user_id}", expires_at=0)

    async def audience_split(self, room_id: str) -> dict[str, int]:
        webrtc = sum(1 for k in self.connections if k[0] == room_id and k[2] == "listen")
        return {"webrtc": webrtc, "broadcast": sum(1 for k in self.streams if k[0] == room_id)}

    async def reconnect(self) -> None:
        """A media plane that lost everything: no rooms, nobody admitted, no connections."""
        self.calls.append(("reconnect",))
        self.rooms.clear()
        self.members.clear()
        self.connections.clear()
        self.streams.clear()
        self.channels.clear()
        self.interpreting.clear()
        self.tracks.clear()
        self.speaker_mix.clear()
        self.broadcast.clear()

    async def create_channel(self, room_id: str, language: str, ducking_db: int) -> None:
        self.calls.append(("create_channel", room_id, language))
        if room_id not in self.rooms:
            raise MediaRefused(f"room {room_id} has no media")
        self._end_speaker_mix(room_id)
        self.channels[(room_id, language)] = ducking_db
        self.booths.setdefault((room_id, language), Booth(language))

    async def destroy_channel(self, room_id: str, language: str) -> None:
        self.calls.append(("destroy_channel", room_id, language))
        self.channels.pop((room_id, language), None)
        self.booths.pop((room_id, language), None)
        for key in [k for k, v in self.interpreting.items() if k[0] == room_id and v == language]:
            del self.interpreting[key]

    async def set_ducking(self, room_id: str, language: str, ducking_db: int) -> None:
        self.calls.append(("set_ducking", room_id, language, str(ducking_db)))
        if (room_id, language) not in self.channels:
            raise MediaRefused(f"room {room_id} has no {language} channel")
        self.channels[(room_id, language)] = ducking_db

    async def set_booth(self, room_id: str, booth: Booth) -> None:
        self.calls.append(("set_booth", room_id, booth.language, booth.live or ""))
        self.booths[(room_id, booth.language)] = booth
        for key in [k for k, v in self.interpreting.items() if k[0] == room_id and v == booth.language]:
            if key[1] not in booth.interpreters:
                del self.interpreting[key]

    async def open_interpret(self, room_id: str, language: str, user_id: str, offer: Jsep) -> Jsep:
        self.calls.append(("open_interpret", room_id, language, user_id))
        booth = self.booths.get((room_id, language))
        if (room_id, language) not in self.channels or booth is None or user_id not in booth.interpreters:
            raise MediaRefused(f"{user_id} is not an interpreter of the {language} channel of {room_id}")
        self.interpreting[(room_id, user_id)] = language
        return {"type": "answer", "sdp": f"v=0 fake answer to {user_id}"}

    async def open_channel_listen(
        self, room_id: str, language: str, user_id: str, *, interpreter_only: bool = False
    ) -> Jsep:
        self.calls.append(("open_channel_listen", room_id, language, user_id))
        self._admitted(room_id, user_id)
        if (room_id, language) not in self.channels:
            raise MediaRefused(f"room {room_id} has no {language} channel")
        self._drop_listen(room_id, user_id)
        self.connections[(room_id, user_id, "listen")] = "offered"
        self.listening[(room_id, user_id)] = language
        self.interpreter_only[(room_id, user_id)] = interpreter_only
        return {"type": "offer", "sdp": f"v=0 fake offer to {user_id}"}

    async def open_channel_stream(self, room_id: str, language: str, user_id: str, connection_id: str) -> StreamGrant:
        self.calls.append(("open_channel_stream", room_id, language, user_id))
        self._admitted(room_id, user_id, "listener")
        if (room_id, language) not in self.channels:
            raise MediaRefused(f"room {room_id} has no {language} channel")
        self.connections.pop((room_id, user_id, "listen"), None)
        self.streams[(room_id, user_id)] = connection_id
        self.listening[(room_id, user_id)] = language
        return StreamGrant(
            url=f"http://broadcast.invalid/v1/stream/{room_id}-{language}?ticket=fake-{user_id}", expires_at=0
        )

    async def add_interpret_candidate(
        self, room_id: str, language: str, user_id: str, candidate: dict[str, Any] | None
    ) -> None:
        if self.interpreting.get((room_id, user_id)) != language:
            raise MediaRefused("no such connection")

    async def close_interpret(self, room_id: str, language: str, user_id: str) -> None:
        self.calls.append(("close_interpret", room_id, language, user_id))
        if self.interpreting.get((room_id, user_id)) == language:
            del self.interpreting[(room_id, user_id)]

    async def switch_listen(
        self, room_id: str, user_id: str, language: str | None, *, interpreter_only: bool = False
    ) -> None:
        self.calls.append(("switch_listen", room_id, user_id, language or ""))
        self._admitted(room_id, user_id)
        if self.connections.get((room_id, user_id, "listen")) != "open":
            raise MediaRefused("no listen connection to switch")
        if (room_id, user_id) in self.speaker_mix:
            raise MediaRefused("the per-speaker mix has no channels: open a channel's listen connection instead")
        if language is not None and (room_id, language) not in self.channels:
            raise MediaRefused(f"room {room_id} has no {language} channel")
        self.listening[(room_id, user_id)] = language
        self.interpreter_only[(room_id, user_id)] = interpreter_only

    async def events(self) -> AsyncIterator[MediaEvent]:
        while True:
            yield await self.queue.get()

    async def health(self) -> MediaHealth:
        listeners = sum(1 for k in self.connections if k[2] == "listen")
        speakers = sum(1 for k in self.connections if k[2] == "speak")
        janus = JanusNodeHealth("fake", self.up, len(self.rooms), listeners, speakers)
        return MediaHealth([janus], [BroadcastNodeHealth("fake-broadcast", self.up, len(self.streams))])
