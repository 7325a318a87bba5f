"""App layer: the ports — what use cases need from the outside world, as Protocols.

Real implementations live in ``salon.adapters``; unit tests use the in-memory fakes in ``salon.app.fakes``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from salon.domain.interpretation import Booth as Booth  # re-exported, like MediaKind
from salon.domain.media import MediaKind as MediaKind  # re-exported: the port speaks the domain's word
from salon.domain.rooms import RoomEventName


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time: timers waited on through the clock run on a test's fake time."""
        ...


class Ids(Protocol):
    def new_id(self) -> str:
        """A public, non-sequential identifier."""
        ...

    def new_secret(self) -> str:
        """A URL-safe secret of at least 128 random bits (invite codes, session tokens)."""
        ...


@dataclass(frozen=True)
class RoomMessage:
    """One event of a room's stream, as committed: ``seq`` is the room's sequence number."""

    room_id: str
    seq: int
    name: RoomEventName
    data: dict[str, Any]


class EventBus(Protocol):
    """Fan-out of committed events to live connections (in-process, or across instances through Redis)."""

    async def publish_room(self, messages: list[RoomMessage]) -> None: ...

    async def publish_user(self, user_id: str, name: str, data: dict[str, Any]) -> None: ...

    async def publish_signal(self, room_id: str, name: str, data: dict[str, Any]) -> None:
        """A passing state of a room that is not kept in its event log (who is speaking now, "reconnect your
        media"): sent to the room's live followers only, without a ``seq``."""
        ...

    async def room_opened(self, room_id: str) -> None:
        """A room went live (it has no event yet): open hallways that may see it show it."""
        ...

    async def close_sessions(self, token_hashes: list[str], reason: str) -> None:
        """Close every open WebSocket authenticated by one of these sessions."""
        ...

    async def close_user(self, user_id: str, reason: str) -> None: ...

    async def leave_room(self, room_id: str, user_id: str, reason: str) -> None:
        """Stop delivering a room's events to a user's connections (removed, or the room ended)."""
        ...


class SharedStateUnavailable(Exception):
    """The store of live state shared between instances (Redis) did not answer."""


@dataclass(frozen=True)
class FailureRecord:
    """One key's failures (the log-in lock, ``app/ratelimit.Backoff``): how many, the last one, the lock."""

    count: int
    last: datetime
    locked_until: datetime | None


class FailureStore(Protocol):
    """Where ``Backoff`` keeps its failures: this instance's memory, or Redis shared by every instance. Each
    operation is atomic, so concurrent failures on several instances all count. Raises ``SharedStateUnavailable``
    when a shared store does not answer."""

    async def get(self, key: str) -> FailureRecord | None: ...

    async def add_failure(self, key: str, now: datetime, forget_before: datetime) -> int:
        """Count one more failure at ``now`` (the count restarts when the last one was at or before
        ``forget_before``) and return the count."""
        ...

    async def lock(self, key: str, until: datetime) -> None:
        """Lock a key that has failures until ``until``, or keep its later lock."""
        ...

    async def forget(self, key: str) -> None: ...


class Liveness(Protocol):
    """Who has a live connection: to this instance only (one instance), or to any running instance (Redis). The
    hub tells it who arrived and left here; presence asks it about a batch of members at once."""

    def arrived(self, user_id: str) -> None: ...

    def left(self, user_id: str) -> None:
        """The member's last connection to this instance closed."""
        ...

    async def connected(self, user_ids: Sequence[str]) -> set[str]:
        """Those of ``user_ids`` connected to some running instance (one round trip at most). Raises
        ``SharedStateUnavailable`` when that cannot be known now."""
        ...

    async def vanished(self) -> set[str]:
        """Members who were connected to an instance that has since stopped answering (its record expired) and are
        connected nowhere else; each is reported once."""
        ...

    async def close(self) -> None: ...


class AudiencePace(Protocol):
    """Several instances: which of this instance's dirty batched rooms it may publish a listener count for now, so
    that a room gets at most one a second whichever instances saw its audience change."""

    async def claim(self, room_ids: Sequence[str], seconds: float) -> set[str]:
        """The rooms no instance published a count for in the last ``seconds``; each is claimed for that long.
        Raises ``SharedStateUnavailable`` when that cannot be known now."""
        ...

    async def close(self) -> None: ...


MediaRole = Literal["speaker", "listener"]
# A session description as WebRTC and Janus write it: {"type": "offer" | "answer", "sdp": "v=0..."}.
Jsep = dict[str, str]


ALL_ROOMS = "*"


@dataclass(frozen=True)
class MediaEvent:
    """Something the media plane noticed: ``speaking`` on/off, that a user's connection ended on its side
    (``hung_up``), that the room's per-speaker mix carries its speakers on other tracks now (``speaker_tracks``,
    ``user_id`` None: read ``MediaPort.speaker_tracks``), that the room's per-speaker mix was taken down to make way
    for an interpretation channel or a broadcast audience (``speaker_mix_ended``: its listeners' connections are
    cut; they hear the one mix again), or that it lost its state (``media_reset``, once per loss,
    with ``room_id`` ``ALL_ROOMS``: the app calls ``reconnect`` and re-creates every live room; every client must
    reconnect its media)."""

    room_id: str
    kind: Literal["speaking", "stopped_speaking", "hung_up", "speaker_tracks", "speaker_mix_ended", "media_reset"]
    user_id: str | None = None
    media: MediaKind | None = None


class MediaRefused(Exception):
    """The media plane refused a connection: the user is not admitted to the room with the role it needs, or the
    request does not fit the connection's state (an answer with no offer, a candidate for no connection)."""


class MediaUnavailable(Exception):
    """The media plane cannot be reached right now (it is restarting, or down); worth retrying later."""


class MediaFull(Exception):
    """The tier asked for is at its budget (a Janus node's WebRTC listeners, a broadcast node's listeners,
    a room's per-speaker mix listeners)."""


class SpeakerMixUnavailable(Exception):
    """The room's per-speaker mix cannot be made while the room has an interpretation channel or a broadcast
    audience (Janus 1.1.2 would spoil their sound: docs/ARCHITECTURE.md, "Janus 1.1.2: one Opus forward per
    group"). Not a passing state like ``MediaFull``: it lasts while the channel or the audience does."""


class NoBroadcastTier(Exception):
    """This server offers no broadcast tier (none configured, or the policy says WebRTC): listen with WebRTC."""


@dataclass(frozen=True)
class StreamGrant:
    """A listener's way onto the broadcast tier: the stream's URL, its single-use ticket inside, which must start
    a stream before ``expires_at`` (unix seconds). The stream then lasts until the listener leaves or is cut."""

    url: str
    expires_at: int


class MediaPort(Protocol):
    """The media plane (Janus in production). The app decides every permission from the database and tells the
    media plane (``admit``, ``set_muted``, ``remove``); the media plane enforces it on its own side too, so a
    client never gets media it was not admitted to. Calls are idempotent; the app makes them after its commit.

    Signalling goes through the app, never from a client to the media server: ``open_listen`` gives the offer for
    a receive-only connection (the client answers with ``answer_listen``); ``open_speak`` takes the client's offer
    and gives the answer. Opening again replaces that user's previous connection of the same kind."""

    async def create_room(self, room_id: str) -> None: ...

    async def destroy_room(self, room_id: str, *, restarting: bool = False) -> None:
        """Tear down the room's media: every connection, the stage, the audience's stream. ``restarting``: Salon is
        stopping and the room stays live, so broadcast listeners are told to reconnect (``shutting_down``), not that
        the room ended."""
        ...

    async def admit(self, room_id: str, user_id: str, role: MediaRole, muted: bool) -> None:
        """Allow this user's media in the room with this role (speaker: publish into the mix; listener: hear it).
        Admitting a speaker as a listener ends their speaking connection at once."""
        ...

    async def set_muted(self, room_id: str, user_id: str, muted: bool) -> None: ...

    async def remove(self, room_id: str, user_id: str) -> None:
        """Tear down this user's media in the room and refuse new connections until admitted again."""
        ...

    async def open_listen(self, room_id: str, user_id: str) -> Jsep:
        """A receive-only connection to the room's mix; the media server's offer. ``MediaRefused`` unless
        admitted."""
        ...

    async def answer_listen(self, room_id: str, user_id: str, answer: Jsep) -> None:
        """The client's answer to ``open_listen``'s offer: audio starts flowing."""
        ...

    async def open_speaker_mix(self, room_id: str, user_id: str) -> Jsep:
        """A receive-only connection carrying each stage speaker on a track of their own (the per-speaker mix), so the
        listener's client sets each speaker's volume. Replaces the user's listen connection (one room, one listen);
        answered with ``answer_listen``, candidates with ``add_candidate(..., "listen", ...)``. ``MediaRefused`` unless
        admitted as a listener (a speaker hears the stage through their own connection); ``MediaFull`` when the room's
        per-speaker listeners are at the cap; ``SpeakerMixUnavailable`` in a room with an interpretation channel or
        a broadcast audience (and making either later takes the mix down: ``speaker_mix_ended``). ``open_listen``
        goes back to the one mix.

        The tracks are the offer's mids, ``domain.speaker_tracks.MIDS`` (``t0``..``t3`` then ``others``)."""
        ...

    def speaker_tracks(self, room_id: str) -> dict[str, str]:
        """Which track (a mid of the per-speaker mix: ``t0``..``t3``, ``others``) carries each speaker now, by user
        id."""
        ...

    async def open_speak(self, room_id: str, user_id: str, offer: Jsep) -> Jsep:
        """Publish into the stage with the client's offer; the media server's answer. ``MediaRefused`` unless
        admitted as a speaker."""
        ...

    async def add_candidate(
        self, room_id: str, user_id: str, media: MediaKind, candidate: dict[str, Any] | None
    ) -> None:
        """A trickled ICE candidate from the client (None: end of candidates)."""
        ...

    async def close(self, room_id: str, user_id: str, media: MediaKind) -> None:
        """End one of the user's connections (the client left the stage, or stopped listening)."""
        ...

    async def open_stream(self, room_id: str, user_id: str, connection_id: str) -> StreamGrant:
        """Hear the room on the broadcast tier instead of WebRTC (ending a WebRTC listen connection): a ticket bound
        to the user, the room and the asking connection. ``MediaRefused`` unless admitted as a listener,
        ``NoBroadcastTier`` when there is none, ``MediaFull`` when every broadcast node is full. The stream is cut
        (within 2 s) when the user is removed, goes on stage, or the room ends."""
        ...

    async def audience_split(self, room_id: str) -> dict[str, int]:
        """How the room's audience hears it now: ``{"webrtc": n, "broadcast": m}``."""
        ...

    async def reconnect(self) -> None:
        """After ``media_reset``: wait until the media plane answers again, with none of the old state. The app
        then re-creates every live room from the database."""
        ...

    # --- interpretation channels (docs/ARCHITECTURE.md, "Interpretation channels") ---------------------------------

    async def create_channel(self, room_id: str, language: str, ducking_db: int) -> None:
        """An interpretation channel of a live room (after ``create_room``): the floor, at full level until an
        interpreter is live, then ``ducking_db`` under them. Idempotent; ``destroy_room`` ends the room's channels."""
        ...

    async def destroy_channel(self, room_id: str, language: str) -> None:
        """End a channel: its interpreters' and listeners' connections with it."""
        ...

    async def set_ducking(self, room_id: str, language: str, ducking_db: int) -> None:
        """A channel's floor level under a live interpreter, changed live (the room's setting); with nobody live the
        floor stays at full level and the new value applies when someone goes live. Idempotent."""
        ...

    async def set_booth(self, room_id: str, booth: Booth) -> None:
        """A channel's interpreters and who is live, as the app decided (``domain.interpretation``): only the live
        one is heard (the others are muted in the media plane, the live one after the others, so two are never live
        together), the floor ducked under them or at full level with nobody live; an interpreter no longer listed
        is cut and refused until listed again."""
        ...

    async def open_interpret(self, room_id: str, language: str, user_id: str, offer: Jsep) -> Jsep:
        """An interpreter's connection into their channel (never into the floor) with the client's offer; the media
        server's answer. ``MediaRefused`` unless in the channel's booth."""
        ...

    async def open_channel_listen(
        self, room_id: str, language: str, user_id: str, *, interpreter_only: bool = False
    ) -> Jsep:
        """Like ``open_listen``, to a channel: its mix (the interpreter over the ducked floor), or, for someone who
        hears the floor already (a speaker), the interpreter only. Replaces the user's listen connection (one room,
        one listen); answered with ``answer_listen``."""
        ...

    async def open_channel_stream(self, room_id: str, language: str, user_id: str, connection_id: str) -> StreamGrant:
        """Like ``open_stream``, to a channel's mix on the broadcast tier (ending a WebRTC listen connection): a
        ticket for the channel's stream. Cut, like the room's, when the user is removed or goes on stage, and ended
        with the channel."""
        ...

    async def add_interpret_candidate(
        self, room_id: str, language: str, user_id: str, candidate: dict[str, Any] | None
    ) -> None:
        """A trickled ICE candidate for the user's connection into that channel (None: end of candidates)."""
        ...

    async def close_interpret(self, room_id: str, language: str, user_id: str) -> None:
        """End the user's connection into that channel (the interpreter left the booth's page)."""
        ...

    async def switch_listen(
        self, room_id: str, user_id: str, language: str | None, *, interpreter_only: bool = False
    ) -> None:
        """Move the user's WebRTC listen connection to a channel (``language``) or back to the Original (None)
        without renegotiating: the language picker. ``MediaRefused`` without an answered listen connection, or
        for a channel the room does not have."""
        ...

    def events(self) -> AsyncIterator[MediaEvent]: ...


@runtime_checkable
class SharesRooms(Protocol):
    """A media port shared by several instances, each room driven by one of them (the Redis lease:
    docs/ARCHITECTURE.md, "Several instances: who drives a room's media")."""

    async def claim(self, room_ids: list[str]) -> list[str]:
        """Of these live rooms, those this instance drives from now on: the ones it holds, and the ones nobody
        holds, which it takes. A media reset re-creates only those here (the others' drivers keep theirs)."""
        ...
