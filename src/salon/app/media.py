"""App layer: a member's media connections in a room — signalling relayed through the app, never to Janus directly.

Each verb checks the member's right from the database (``domain.media.check_media``) and only then asks the media
port, which enforces the same admission on its own side. The media port's refusals become domain errors:
``conflict`` when a request does not fit the connection's state, ``media_unavailable`` when the media plane is down
(or has no broadcast tier, with ``data.tier``), ``room_full`` when the tier asked for is at its budget.
The per-speaker mix (``open_speaker_mix``) has its own: ``media_refused`` for someone on stage, ``speaker_mix_full``
when the room's per-speaker listeners are at the cap, ``speaker_mix_unavailable`` in a room with interpretation
channels or a broadcast audience (the client goes back to the one mix).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from salon.app.ports import (
    Jsep,
    MediaFull,
    MediaKind,
    MediaRefused,
    MediaUnavailable,
    NoBroadcastTier,
    SpeakerMixUnavailable,
    StreamGrant,
)
from salon.app.room_access import access_room
from salon.app.services import Services
from salon.domain.errors import ErrorCode, refuse
from salon.domain.media import check_media, check_speaker_mix

T = TypeVar("T")


async def _check(services: Services, user_id: str, room_id: str, kind: MediaKind | None) -> None:
    """The member's right from the database: ``kind`` a connection's, None the per-speaker mix's."""
    async with services.db.read() as conn:
        reached = await access_room(conn, room_id, user_id, "act")
    banned = reached.participant is None and reached.access.banned
    if kind is None:
        check_speaker_mix(reached.room, reached.participant, banned=banned)
    else:
        check_media(reached.room, reached.participant, kind, banned=banned)


async def ask_media(call: Awaitable[T]) -> T:
    """Await a media port call, its refusals turned into the domain's errors."""
    try:
        return await call
    except MediaRefused as exc:
        raise refuse(ErrorCode.CONFLICT, f"Media: {exc}") from None
    except MediaUnavailable:
        raise refuse(ErrorCode.MEDIA_UNAVAILABLE, "Audio is not available right now; try again shortly.") from None
    except MediaFull:
        raise refuse(ErrorCode.ROOM_FULL, "No room for another listener on this tier right now.") from None
    except NoBroadcastTier:
        message = "This server has no broadcast tier; listen with WebRTC (media_listen)."
        raise refuse(ErrorCode.MEDIA_UNAVAILABLE, message, tier="broadcast") from None


async def open_listen(services: Services, user_id: str, room_id: str) -> Jsep:
    """Start hearing the room: the media server's offer, for the client to answer."""
    await _check(services, user_id, room_id, "listen")
    return await ask_media(services.media.open_listen(room_id, user_id))


@dataclass(frozen=True)
class SpeakerMix:
    """The offer of a per-speaker connection, and which of its tracks (mids) carries each speaker now."""

    jsep: Jsep
    tracks: dict[str, str]


async def open_speaker_mix(services: Services, user_id: str, room_id: str) -> SpeakerMix:
    """Hear each speaker on a track of their own, to set their volumes apart (replaces the listen connection; the
    client answers with ``answer_listen``). ``open_listen`` goes back to the one mix."""
    await _check(services, user_id, room_id, None)
    jsep = await ask_media(_speaker_mix_offer(services, user_id, room_id))
    return SpeakerMix(jsep, services.media.speaker_tracks(room_id))


async def _speaker_mix_offer(services: Services, user_id: str, room_id: str) -> Jsep:
    """The media port's refusals of a per-speaker mix in its own words (the rest as ``ask_media`` says them)."""
    try:
        return await services.media.open_speaker_mix(room_id, user_id)
    except MediaRefused:  # not admitted as a listener there (the database said listener a moment ago)
        raise refuse(ErrorCode.MEDIA_REFUSED, "The per-speaker sound is for listeners.") from None
    except MediaFull:
        message = "Volume per speaker is in use by as many listeners as this room allows; you hear the one mix."
        raise refuse(ErrorCode.SPEAKER_MIX_FULL, message) from None
    except SpeakerMixUnavailable:
        message = (
            "Volume per speaker is not available in rooms with interpretation channels or a broadcast audience;"
            " you hear the one mix."
        )
        raise refuse(ErrorCode.SPEAKER_MIX_UNAVAILABLE, message) from None


async def open_stream(services: Services, user_id: str, room_id: str, connection_id: str) -> StreamGrant:
    """Hear the room on the broadcast tier: a single-use ticket for this member, room and connection."""
    await _check(services, user_id, room_id, "listen")
    return await ask_media(services.media.open_stream(room_id, user_id, connection_id))


async def answer_listen(services: Services, user_id: str, room_id: str, answer: Jsep) -> None:
    await _check(services, user_id, room_id, "listen")
    await ask_media(services.media.answer_listen(room_id, user_id, answer))


async def open_speak(services: Services, user_id: str, room_id: str, offer: Jsep) -> Jsep:
    """Start speaking into the stage (and hearing it minus oneself): the client's offer in, the answer out."""
    await _check(services, user_id, room_id, "speak")
    return await ask_media(services.media.open_speak(room_id, user_id, offer))


async def add_candidate(
    services: Services, user_id: str, room_id: str, kind: MediaKind, candidate: dict[str, Any] | None
) -> None:
    await _check(services, user_id, room_id, kind)
    await ask_media(services.media.add_candidate(room_id, user_id, kind, candidate))


async def close(services: Services, user_id: str, room_id: str, kind: MediaKind) -> None:
    """End one of one's own connections; always allowed (it only ever takes media away)."""
    await ask_media(services.media.close(room_id, user_id, kind))
