"""Domain layer: who may have which media connection in a room.

The rule behind Clubhouse's 2021 failure, decided here and nowhere else: hearing a room needs being in it (any
role); speaking into it needs being on its stage. A removed member is no longer a participant, so both follow.
"""

from __future__ import annotations

from typing import Literal

from salon.domain.errors import ErrorCode, refuse
from salon.domain.rooms import Participant, Room, no_such_room

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
