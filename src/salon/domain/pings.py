"""Domain layer: pinging a member into a live room — who may ping whom.

Someone in the room taps a member's name and the member is told (``pinged`` notification) with a way in. Pure rules;
the app loads the facts (the follow and the blocks between the two, the target's relation to the room) and passes
them in, then writes the notification in the same transaction and rate-limits (``app/ratelimit.py``).

* The pinger must be in the live room; nobody pings themself, someone already in the room (``conflict``) or someone
  a moderator removed from it.
* Nobody pings someone who blocked them (``blocked``) or whom they blocked (``unblock_first``), as for following.
* A listener or a speaker pings members they follow, and only into a room the member may see: bringing someone into
  a closed or social room they cannot see is a moderator's call.
* A moderator pings anyone. When the member may not see the room (closed, or social and they follow none of its
  moderators), the ping lets them in: the let-in path of ``stage.let_in``, logged as ``let_in`` in the moderation
  log. A member one of the room's moderators blocked stays out whoever pings: the refusal does not say why, so a
  block stays private even from co-moderators.
"""

from __future__ import annotations

from dataclasses import dataclass

from salon.domain.errors import ErrorCode, refuse
from salon.domain.rooms import Access, Outcome, Participant, Role, Room, can_see
from salon.domain.stage import let_in


@dataclass(frozen=True)
class PingFacts:
    """How the pinger and the target stand, and the target's relation to the room (``Access`` as for themself)."""

    target_access: Access
    follows_target: bool = False  # the pinger follows the target
    blocked_by_target: bool = False  # the target blocked the pinger
    blocked_target: bool = False  # the pinger blocked the target


def ping(
    room: Room, actor: Participant | None, target: Participant | None, target_id: str, facts: PingFacts
) -> Outcome:
    """Check a ping; the outcome is empty, or the let-in a moderator's ping grants (with its log entry)."""
    if room.ended:
        raise refuse(ErrorCode.ROOM_ENDED, "This room has ended.")
    if actor is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "You are not in this room.")
    if target_id == actor.user_id:
        raise refuse(ErrorCode.SELF_TARGET, "You are already here.")
    if facts.blocked_by_target:
        raise refuse(ErrorCode.BLOCKED, "This member blocked you.")
    if facts.blocked_target:
        raise refuse(ErrorCode.UNBLOCK_FIRST, "You blocked this member; unblock them first.")
    if target is not None:
        raise refuse(ErrorCode.CONFLICT, "That person is already in this room.")
    access = facts.target_access
    if access.banned:
        raise refuse(ErrorCode.REMOVED_FROM_ROOM, "That person was removed from this room.")
    visible = can_see(room, access, None)
    if actor.role is Role.MODERATOR:
        if visible:
            return Outcome()
        if access.blocked_by_a_moderator:
            raise refuse(ErrorCode.NOT_ALLOWED, "This member cannot be brought into this room.")
        return let_in(room, actor, target_id, already_let_in=access.let_in)
    if not facts.follows_target:
        raise refuse(ErrorCode.NOT_ALLOWED, "You can ping members you follow; a moderator can ping anyone.")
    if not visible:
        raise refuse(ErrorCode.NOT_ALLOWED, "This member cannot be brought into this room by you; ask a moderator.")
    return Outcome()
