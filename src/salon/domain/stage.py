"""Domain layer: the commands of a live room — joining, the hand queue, the stage, mutes, removal, the end.

Pure functions: each takes the state the app loaded (the room, the actor's and target's participation, the stage)
and the current time, and returns an :class:`~salon.domain.rooms.Outcome` or raises
:class:`~salon.domain.errors.DomainError`. The server calls these for every route and WebSocket op.

A moderator's action against someone or the room also returns its moderation-log entry (``Outcome.moderation``,
see ``moderation.py``), and so do the room's automatic transitions; a command that changes nothing returns none.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from salon.domain.errors import ErrorCode, refuse
from salon.domain.moderation import ModAction, SystemReason, by_moderator, by_system, room_ended
from salon.domain.rooms import (
    Access,
    Event,
    Outcome,
    Participant,
    Profile,
    Role,
    Room,
    RoomEventName,
    can_see,
    no_such_room,
    participant_data,
)


def _changed(name: RoomEventName, p: Participant, by: Participant | None = None) -> Event:
    """An event carrying one participant's new card; ``by`` names the moderator who did it to someone else (the
    client says who: "Ana muted you"). Absent when the person did it themself or the room did it."""
    data: dict[str, Any] = {"participant": participant_data(p)}
    if by is not None and by.user_id != p.user_id:
        data["by"] = by.user_id
    return Event(name, data)


def join(
    room: Room, user: Profile, access: Access, existing: Participant | None, headcount: int, now: datetime
) -> Outcome:
    """A member enters: as a listener, or straight onto the stage when a moderator invited them up (as a moderator
    when the invitation says so: how a scheduled event's other hosts take their place)."""
    if room.ended:
        raise refuse(ErrorCode.ROOM_ENDED, "This room has ended.")
    if access.banned:
        raise refuse(ErrorCode.REMOVED_FROM_ROOM, "A moderator removed you from this room.")
    if not can_see(room, access, existing):
        raise no_such_room()
    out = Outcome()
    if existing is not None:
        return out
    if headcount >= room.capacity:
        raise refuse(ErrorCode.ROOM_FULL, "This room is full.", capacity=room.capacity)
    if access.stage_invite:
        role = Role.MODERATOR if access.invited_as_moderator else Role.SPEAKER
        p = Participant(room.id, user, role, now, stage_since=now, muted=True)
        out.clear_stage_invite = user.user_id
    else:
        p = Participant(room.id, user, Role.LISTENER, now)
    quiet = p.role is Role.LISTENER and room.audience_batched
    out.put(p, None if quiet else Event("participant_joined", {"participant": participant_data(p)}))
    return out


# --- the hand queue --------------------------------------------------------------------------------------------


def _require_in_room(p: Participant | None) -> Participant:
    if p is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "You are not in this room.")
    return p


def _require_live(room: Room) -> None:
    if room.ended:
        raise refuse(ErrorCode.ROOM_ENDED, "This room has ended.")


def _require_moderator(room: Room, p: Participant | None) -> Participant:
    _require_live(room)
    actor = _require_in_room(p)
    if actor.role is not Role.MODERATOR:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only a moderator can do that.")
    return actor


def _require_target(p: Participant | None) -> Participant:
    if p is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "That person is not in this room.")
    return p


def _spare_the_creator(room: Room, me: Participant, target_id: str) -> None:
    """The room's creator keeps their place, as in Clubhouse: no other moderator takes their moderator role, moves
    them to the audience or removes them. They may step down or leave themselves; being muted is not losing it."""
    if target_id == room.created_by and target_id != me.user_id:
        raise refuse(
            ErrorCode.NOT_ALLOWED,
            "The room's creator cannot be moved down, demoted or removed by another moderator.",
            reason="room_creator",
        )


def raise_hand(room: Room, actor: Participant | None, now: datetime) -> Outcome:
    _require_live(room)
    me = _require_in_room(actor)
    if me.role is not Role.LISTENER:
        raise refuse(ErrorCode.CONFLICT, "You are already on stage.")
    if not room.hands_enabled:
        raise refuse(ErrorCode.HANDS_DISABLED, "The moderators turned hand-raising off.")
    out = Outcome()
    if me.hand_raised_at is None:
        me = replace(me, hand_raised_at=now)
        out.put(me, _changed("hand_raised", me))
    return out


def lower_hand(room: Room, actor: Participant | None) -> Outcome:
    _require_live(room)
    me = _require_in_room(actor)
    out = Outcome()
    if me.hand_raised_at is not None:
        down = replace(me, hand_raised_at=None)
        out.put(down, _changed("hand_lowered", down))
    return out


def set_hands_enabled(room: Room, actor: Participant | None, enabled: bool, raised: list[Participant]) -> Outcome:
    """Turning hand-raising off also clears the queue: a stale queue would surprise everyone later."""
    me = _require_moderator(room, actor)
    out = Outcome()
    if room.hands_enabled == enabled:
        return out
    out.room = replace(room, hands_enabled=enabled)
    if not enabled:
        for p in raised:
            out.put(replace(p, hand_raised_at=None))
    out.events.append(Event("hands_enabled", {"enabled": enabled}))
    out.moderation.append(by_moderator(ModAction.ENABLE_HANDS if enabled else ModAction.DISABLE_HANDS, me))
    return out


# --- bringing people up and down -------------------------------------------------------------------------------


def invite_up(
    room: Room,
    actor: Participant | None,
    target: Participant | None,
    target_id: str,
    target_banned: bool,
    *,
    already_invited: bool = False,
    now: datetime | None = None,
    until: datetime | None = None,
) -> Outcome:
    """A moderator invites someone to speak: a listener in the room, or a member not yet in it (``already_invited``:
    that member holds an invitation up already). A listener's invitation lapses at ``until`` (``expire_stage_invite``);
    inviting again someone whose invitation lapsed (not yet swept) renews it."""
    me = _require_moderator(room, actor)
    if target_banned:
        raise refuse(ErrorCode.REMOVED_FROM_ROOM, "That person was removed from this room.")
    out = Outcome()
    if target is None:
        if not already_invited:
            out.stage_invite = target_id
            out.moderation.append(by_moderator(ModAction.INVITE_UP, me, target_id))
        return out
    if target.role.on_stage:
        raise refuse(ErrorCode.CONFLICT, "That person is already on stage.")
    if not target.invited_up or (now is not None and _lapsed(target, now)):
        invited = replace(target, invited_up=True, invited_until=until)
        out.put(invited, _changed("stage_invited", invited, me))
        out.moderation.append(by_moderator(ModAction.INVITE_UP, me, target_id))
    return out


def accept_stage_invite(room: Room, actor: Participant | None, now: datetime) -> Outcome:
    _require_live(room)
    me = _require_in_room(actor)
    if me.role.on_stage:
        raise refuse(ErrorCode.CONFLICT, "You are already on stage.")
    if not me.invited_up:
        raise refuse(ErrorCode.NOT_ALLOWED, "Nobody invited you up.")
    if _lapsed(me, now):
        raise refuse(ErrorCode.NOT_ALLOWED, "Your invitation to speak expired.", reason="invite_expired")
    # Clubhouse brought new speakers up muted; they unmute themselves when ready.
    up = replace(
        me,
        role=Role.SPEAKER,
        stage_since=now,
        hand_raised_at=None,
        invited_up=False,
        invited_until=None,
        muted=True,
        mute_locked=False,
    )
    out = Outcome()
    out.put(up, _changed("role_changed", up))
    return out


def decline_stage_invite(room: Room, actor: Participant | None) -> Outcome:
    """Saying no also lowers the hand: a hand still up would put the person straight back in the moderators' queue
    for something they just refused."""
    _require_live(room)
    me = _require_in_room(actor)
    if not me.invited_up:
        raise refuse(ErrorCode.NOT_ALLOWED, "Nobody invited you up.")
    out = Outcome()
    declined = replace(me, invited_up=False, invited_until=None, hand_raised_at=None)
    out.put(declined, _changed("stage_invite_declined", declined))
    return out


def _lapsed(p: Participant, now: datetime) -> bool:
    return p.invited_up and p.invited_until is not None and p.invited_until <= now


def expire_stage_invite(room: Room, target: Participant | None, now: datetime) -> Outcome:
    """An invitation up nobody answered lapses (the server's sweep runs this): as a decline would, it lowers the
    hand too, so the moderators' queue does not fill with people who went away. Nothing when it was answered or
    renewed meanwhile."""
    out = Outcome()
    if room.ended or target is None or not _lapsed(target, now):
        return out
    lapsed = replace(target, invited_up=False, invited_until=None, hand_raised_at=None)
    out.put(lapsed, _changed("stage_invite_expired", lapsed))
    return out


def _successor(stage: list[Participant], leaving: str) -> Participant | None:
    """The longest-serving speaker (earliest on stage; ties by user id for determinism)."""
    speakers = [p for p in stage if p.role is Role.SPEAKER and p.user_id != leaving]
    if not speakers:
        return None
    return min(speakers, key=lambda p: (p.stage_since or p.joined_at, p.user_id))


def _other_moderators(stage: list[Participant], user_id: str) -> bool:
    return any(p.role is Role.MODERATOR and p.user_id != user_id for p in stage)


def move_to_audience(
    room: Room, actor: Participant | None, target: Participant | None, stage: list[Participant]
) -> Outcome:
    """A moderator moves someone down, or anyone on stage steps down themself."""
    _require_live(room)
    me = _require_in_room(actor)
    who = _require_target(target)
    if who.user_id != me.user_id and me.role is not Role.MODERATOR:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only a moderator can do that.")
    _spare_the_creator(room, me, who.user_id)
    if not who.role.on_stage:
        raise refuse(ErrorCode.CONFLICT, "That person is not on stage.")
    out = Outcome()
    if who.user_id != me.user_id:
        out.moderation.append(by_moderator(ModAction.MOVE_TO_AUDIENCE, me, who.user_id))
    if who.role is Role.MODERATOR and not _other_moderators(stage, who.user_id):
        heir = _successor(stage, who.user_id)
        if heir is None:
            raise refuse(ErrorCode.LAST_MODERATOR, "The last moderator cannot leave the stage empty-handed.")
        _promote(heir, out)
    down = replace(
        who,
        role=Role.LISTENER,
        stage_since=None,
        muted=False,
        mute_locked=False,
        hand_raised_at=None,
        invited_up=False,
        invited_until=None,
    )
    out.put(down, _changed("role_changed", down, me))
    return out


def _promote(heir: Participant, out: Outcome) -> None:
    """The last moderator left (the room or the stage): the longest-serving speaker takes over."""
    heir = replace(heir, role=Role.MODERATOR)
    out.put(heir, _changed("role_changed", heir))
    out.moderation.append(by_system(ModAction.MAKE_MODERATOR, SystemReason.LAST_MODERATOR_LEFT, heir.user_id))


def set_moderator(
    room: Room, actor: Participant | None, target: Participant | None, make: bool, stage: list[Participant]
) -> Outcome:
    me = _require_moderator(room, actor)
    who = _require_target(target)
    if not who.role.on_stage:
        raise refuse(ErrorCode.CONFLICT, "Only someone on stage can be a moderator.")
    out = Outcome()
    wanted = Role.MODERATOR if make else Role.SPEAKER
    if who.role is wanted:
        return out
    if not make:
        _spare_the_creator(room, me, who.user_id)
        if not _other_moderators(stage, who.user_id):
            raise refuse(ErrorCode.LAST_MODERATOR, "A room needs at least one moderator.")
    changed = replace(who, role=wanted)
    out.put(changed, _changed("role_changed", changed, me))
    out.moderation.append(
        by_moderator(ModAction.MAKE_MODERATOR if make else ModAction.UNMAKE_MODERATOR, me, who.user_id)
    )
    return out


# --- mute ------------------------------------------------------------------------------------------------------


def _mute_event(p: Participant, by: Participant | None = None) -> Event:
    return _changed("mute_changed", p, by)


def moderator_mute(room: Room, actor: Participant | None, target: Participant | None, lock: bool) -> Outcome:
    """A moderator mutes a speaker; with ``lock`` the speaker cannot unmute until a moderator unlocks."""
    me = _require_moderator(room, actor)
    who = _require_target(target)
    if not who.role.on_stage:
        raise refuse(ErrorCode.CONFLICT, "That person is not on stage.")
    out = Outcome()
    if who.muted and who.mute_locked == lock:
        return out
    changed = replace(who, muted=True, mute_locked=lock)
    out.put(changed, _mute_event(changed, me))
    out.moderation.append(by_moderator(ModAction.MUTE, me, who.user_id, lock=lock))
    return out


def unlock_mute(room: Room, actor: Participant | None, target: Participant | None) -> Outcome:
    me = _require_moderator(room, actor)
    who = _require_target(target)
    out = Outcome()
    if who.mute_locked:
        changed = replace(who, mute_locked=False)
        out.put(changed, _mute_event(changed, me))
        out.moderation.append(by_moderator(ModAction.UNLOCK_MUTE, me, who.user_id))
    return out


def set_self_muted(room: Room, actor: Participant | None, muted: bool) -> Outcome:
    _require_live(room)
    me = _require_in_room(actor)
    if not me.role.on_stage:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only people on stage have a microphone.")
    if not muted and me.mute_locked:
        raise refuse(ErrorCode.MUTE_LOCKED, "A moderator muted you; they have to unlock it first.")
    out = Outcome()
    if me.muted != muted:
        changed = replace(me, muted=muted)
        out.put(changed, _mute_event(changed))
    return out


# --- leaving, removal and the end ------------------------------------------------------------------------------


def _departure(
    room: Room,
    who: Participant,
    stage: list[Participant],
    headcount: int,
    reason: str,
    now: datetime,
    out: Outcome,
    by: Participant | None = None,
) -> Outcome:
    out.deletes.append(who.user_id)
    quiet = who.role is Role.LISTENER and not who.notable and room.audience_batched and reason == "left"
    if not quiet:
        left: dict[str, Any] = {"user_id": who.user_id, "role": who.role.value, "reason": reason}
        if by is not None:
            left["by"] = by.user_id
        out.events.append(Event("participant_left", left))
    if who.role is Role.MODERATOR and not _other_moderators(stage, who.user_id):
        heir = _successor(stage, who.user_id)
        if heir is not None:
            _promote(heir, out)
        else:
            # Nobody on stage could ever speak again: the conversation is over.
            return _end(room, now, out, None, stage, SystemReason.LAST_MODERATOR_LEFT)
    if headcount - 1 <= 0:
        return _end(room, now, out, None, stage, SystemReason.ROOM_EMPTY)
    return out


def _end(
    room: Room,
    now: datetime,
    out: Outcome,
    actor_id: str | None,
    stage: list[Participant],
    reason: SystemReason | None,
) -> Outcome:
    out.room = replace(room, ended_at=now)
    ended: dict[str, Any] = {"ended_at": now.isoformat()}
    if actor_id is not None and reason is None:
        ended["by"] = actor_id  # a moderator or an admin ended it, not the room itself
    out.events.append(Event("room_ended", ended))
    out.moderation.append(room_ended(actor_id, stage, reason))
    return out


def leave(room: Room, actor: Participant | None, stage: list[Participant], headcount: int, now: datetime) -> Outcome:
    _require_live(room)
    me = _require_in_room(actor)
    return _departure(room, me, stage, headcount, "left", now, Outcome())


def remove(
    room: Room,
    actor: Participant | None,
    target: Participant | None,
    target_id: str,
    stage: list[Participant],
    headcount: int,
    now: datetime,
    *,
    already_removed: bool = False,
) -> Outcome:
    """A moderator removes someone; they cannot come back to this room. Removing again someone already removed (and
    so not in the room) changes nothing."""
    me = _require_moderator(room, actor)
    if target_id == me.user_id:
        raise refuse(ErrorCode.CONFLICT, "You cannot remove yourself; leave instead.")
    _spare_the_creator(room, me, target_id)
    if target is None and already_removed:
        return Outcome()
    out = Outcome(ban=target_id, moderation=[by_moderator(ModAction.REMOVE, me, target_id)])
    if target is None:
        return out
    return _departure(room, target, stage, headcount, "removed", now, out, me)


def end_room(
    room: Room,
    actor_id: str | None,
    actor: Participant | None,
    is_admin: bool,
    stage: list[Participant],
    now: datetime,
) -> Outcome:
    """A moderator or an admin ends the room; ``actor_id`` None is an operator at the console."""
    _require_live(room)
    if not is_admin:
        _require_moderator(room, actor)
    return _end(room, now, Outcome(), actor_id, stage, SystemReason.OPERATOR if actor_id is None else None)


def let_in(room: Room, actor: Participant | None, target_id: str, *, already_let_in: bool = False) -> Outcome:
    """A moderator lets a member into a closed or social room (they may then see and join it); a moderator's ping
    does the same when the member could not see the room (``pings.ping``)."""
    me = _require_moderator(room, actor)
    if already_let_in:
        return Outcome()
    return Outcome(grant_access=target_id, moderation=[by_moderator(ModAction.LET_IN, me, target_id)])


def audience_batching(room: Room, listeners: int, threshold: int) -> Outcome:
    """Past ``threshold`` listeners a room reports its audience as a count (for the rest of its life, so clients
    never flap between the two views)."""
    out = Outcome()
    if not room.audience_batched and not room.ended and listeners >= threshold:
        out.room = replace(room, audience_batched=True)
        out.events.append(Event("audience_batched", {"listener_count": listeners}))
    return out
