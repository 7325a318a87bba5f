"""Domain layer: "someone you follow started a room / is speaking" — who is told, bounded so nobody is flooded.

Two notification kinds are about a followed member (the *subject*) in a room: ``followed_started_room`` when they
open a room (or start a scheduled event), ``followed_speaking`` when they arrive on its stage (accepting an
invitation up, or joining with one). Stage arrival, not the media plane's voice activity: it is a change the room
commits, so the notification is written in that command's transaction, exactly once, and needs no media server.

Who is told, decided here in one place (:func:`recipients`): the subject's followers who

* may see the room as a member (``rooms.can_see``: closed and social rules, a block by one of its moderators),
  judged without admin rights (an admin's view of every room is for moderation, not for discovery), and were not
  removed from it;
* are not in the room already;
* have no block with the subject, either way (a block ends follows, so this is a second lock on the door);
* were not told about this subject in this room before (either kind: one notice per followed member per room);
* were told fewer than :data:`PER_HOUR` of these notices in the last hour (all subjects and rooms together).

The notice carries the room (id, title) and the subject's card; the app writes it in the transaction of what caused
it and pushes it after the commit (``app/follow_notices.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from salon.domain.rooms import Access, Participant, Room, can_see

STARTED_ROOM = "followed_started_room"
SPEAKING = "followed_speaking"
KINDS = (STARTED_ROOM, SPEAKING)
PER_HOUR = 5  # follow notices per member per hour: enough to find a room, too few to become noise
WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Candidate:
    """A follower of the subject, and what the rule needs to know about them for this room."""

    user_id: str
    access: Access  # their relation to the room
    in_room: bool = False
    block_with_subject: bool = False  # either of them blocked the other
    told_here: bool = False  # already had a follow notice about this subject in this room
    told_last_hour: int = 0  # follow notices (any subject, any room) in the last hour


def recipients(
    room: Room, candidates: Iterable[Candidate], *, exclude: Collection[str] = (), per_hour: int = PER_HOUR
) -> list[str]:
    """The candidates to tell, in the order given; ``exclude``: members the same command told about this room
    another way already (the list of a scheduled event that just started)."""
    if room.ended:
        return []
    out: list[str] = []
    for c in candidates:
        member_view = replace(c.access, is_admin=False)
        if c.user_id in exclude or c.in_room or c.access.banned or not can_see(room, member_view, None):
            continue
        if c.block_with_subject or c.told_here or c.told_last_hour >= per_hour:
            continue
        out.append(c.user_id)
    return out


def stage_arrivals(before: Mapping[str, Participant], after: Iterable[Participant]) -> list[Participant]:
    """Who a command put on stage: written on stage now, and not on stage (or not in the room) before."""
    return [p for p in after if p.role.on_stage and not (p.user_id in before and before[p.user_id].role.on_stage)]
