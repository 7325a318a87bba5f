"""Domain layer: who may have which media connection in a room.

The rule behind Clubhouse's 2021 failure, decided here and nowhere else: hearing a room needs being in it (any
role); speaking into it needs being on its stage. A removed member is no longer a participant, so both follow.
"""

from __future__ import annotations

from typing import Literal

from salon.domain.errors import ErrorCode, refuse
from salon.domain.rooms import Access, Participant, Role, Room, no_such_room

# The two kinds of WebRTC connection a member can have in a room: hearing the room's mix (everyone not on stage),
# or speaking into the stage (and hearing the others, minus oneself).
MediaKind = Literal["listen", "speak"]


def check_media(room: Room | None, participant: Participant | None, kind: MediaKind, *, banned: bool = False) -> None:
    """Refuse a media connection the member may not have right now."""
    if room is None:
        raise no_such_room()
    if room.ended_at is not None:
        raise refuse(ErrorCode.ROOM_ENDED, "This room has ended.")
    if banned:
        raise refuse(ErrorCode.REMOVED_FROM_ROOM, "You were removed from this room.")
    if participant is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "Join the room first.")
    if kind == "speak" and not participant.role.on_stage:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only people on stage can speak.")


def check_speaker_mix(room: Room | None, participant: Participant | None, *, banned: bool = False) -> None:
    """Refuse the per-speaker mix (each speaker on a track of their own) to whoever may not have it: it is a way of
    hearing the room, so the listen rule applies, and it is for the audience only — people on stage hear the stage
    through their own connection (the mix minus themselves)."""
    check_media(room, participant, "listen", banned=banned)
    if participant is not None and participant.role.on_stage:
        raise refuse(ErrorCode.MEDIA_REFUSED, "On stage you hear the others through your own connection.")


def check_audience_reader(room: Room, access: Access, participant: Participant | None) -> None:
    """How a room's audience hears it (how many on each tier) is for its moderators and admins: it tells them when
    the room outgrows a tier, and tells nobody else anything they need."""
    if room.ended_at is not None:
        raise refuse(ErrorCode.ROOM_ENDED, "This room has ended.")
    if access.is_admin or (participant is not None and participant.role is Role.MODERATOR):
        return
    if participant is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "Join the room first.")
    raise refuse(ErrorCode.NOT_ALLOWED, "Only the room's moderators and admins see how its audience listens.")
