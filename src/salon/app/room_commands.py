"""App layer: how every room command runs — load, decide, save, publish after commit, then tell the media plane.

One transaction per command with the room row locked (PostgreSQL ``FOR UPDATE``; SQLite write transactions are
already exclusive), so two moderators acting at once are applied one after the other, each against fresh state.
Sequence numbers are assigned inside that transaction; events reach the bus only after the commit succeeded.
Notifications a command causes are written in the same transaction and pushed after the commit too: the followers
of anyone it put on stage (``follow_notices.py``), and whatever the verb adds (``Extra.notices``: a ping's).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app import notifications
from salon.app.follow_notices import tell_about_arrivals
from salon.app.interpretation_media import apply_to_media, vacate_booths
from salon.app.ports import MediaRole, RoomMessage
from salon.app.room_access import access_room
from salon.app.services import Services
from salon.domain.errors import ErrorCode, refuse
from salon.domain.interpretation import Interpretation
from salon.domain.notifications import NotificationRecord
from salon.domain.rooms import Access, Outcome, Participant, Role, Room
from salon.domain.stage import audience_batching
from salon.store import repo_moderation, repo_presence
from salon.store import repo_rooms as repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """The state a room rule may look at, loaded for one command."""

    room: Room
    seq: int
    actor_id: str
    actor: Participant | None
    actor_is_admin: bool
    access: Access
    target_id: str | None
    target: Participant | None
    target_banned: bool
    stage: list[Participant]
    headcount: int
    raised: list[Participant]
    target_let_in: bool = False
    target_invited: bool = False  # holds an invitation up (stage_invites) while not in the room

    @property
    def listeners(self) -> int:
        return self.headcount - len(self.stage)


@dataclass
class Result:
    room: Room
    messages: list[RoomMessage] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)
    notifications: list[NotificationRecord] = field(default_factory=list)
    seq_before: int = 0  # the room's last event when the command ran

    @property
    def seq(self) -> int:
        """The room's seq once the command is applied: its last event, or the room's latest when it produced none
        (a let-in, a repeat that changes nothing), so a client that applied events up to it has its effect."""
        return self.messages[-1].seq if self.messages else self.seq_before


Decide = Callable[[Context], Outcome]


@dataclass(frozen=True)
class Extra:
    """What a verb needs beyond the common load and save, inside the command's transaction: ``load`` runs once
    the room is locked and the actor may see it (before ``decide``: facts the rule needs), ``notices`` after the
    outcome is saved (the notifications it causes; pushed after the commit)."""

    load: Callable[[AsyncConnection, Context], Awaitable[None]] | None = None
    notices: Callable[[AsyncConnection, Context, Outcome], Awaitable[list[NotificationRecord]]] | None = None


async def run_command(
    services: Services,
    room_id: str,
    actor_id: str,
    decide: Decide,
    *,
    target_id: str | None = None,
    need_raised: bool = False,
    extra: Extra | None = None,
    sign_of_life: bool = True,
) -> Result:
    """Run one room command for ``actor_id``. ``sign_of_life`` False: the server acts on the actor's behalf (an
    invitation lapsing), which must not hold their place as their own command would."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        reached = await access_room(conn, room_id, actor_id, "act", lock=True)
        room, seq, access, actor = reached.room, reached.seq, reached.access, reached.participant
        target: Participant | None = None
        target_banned = target_let_in = target_invited = False
        if target_id is not None:
            if not await repo.user_exists(conn, target_id):
                raise refuse(ErrorCode.NOT_FOUND, "No such member.")
            target = await repo.get_participant(conn, room_id, target_id)
            target_banned, target_let_in, target_invited = await repo.access_flags(conn, room_id, target_id)
        ctx = Context(
            room=room,
            seq=seq,
            actor_id=actor_id,
            actor=actor,
            actor_is_admin=access.is_admin,
            access=access,
            target_id=target_id,
            target=target,
            target_banned=target_banned,
            stage=await repo.stage(conn, room_id),
            headcount=await repo.headcount(conn, room_id),
            raised=await repo.raised_hands(conn, room_id) if need_raised else [],
            target_let_in=target_let_in,
            target_invited=target_invited,
        )
        extra = extra or Extra()
        if extra.load is not None:
            await extra.load(conn, ctx)
        outcome = decide(ctx)
        _mark_quiet_changes(services, ctx, outcome)
        known = {p.user_id: p for p in [*ctx.stage, *(x for x in (actor, target) if x is not None)]}
        messages = await save_outcome(services, conn, room, seq, outcome, actor_id, now)
        booths_before: Interpretation | None = None
        booths_after: Interpretation | None = None
        if outcome.deletes and not (outcome.room or room).ended:
            last = messages[-1].seq if messages else seq
            vacated, booths_before, booths_after = await vacate_booths(services, conn, room.id, outcome.deletes, last)
            messages += vacated
        if sign_of_life:
            await repo_presence.renew(conn, room.id, actor_id, presence_deadline(services, now))
        notes = await tell_about_arrivals(services, conn, outcome.room or room, known, outcome.upserts)
        if extra.notices is not None:
            notes += await extra.notices(conn, ctx, outcome)
    final_room = outcome.room or room
    result = Result(final_room, messages, outcome, notes, seq_before=seq)
    if messages:
        await services.bus.publish_room(messages)
    await notifications.publish(services, notes)
    await _follow_up(services, ctx, result, known)
    if booths_before != booths_after:  # interpreters left the room: their channel audio is cut, the floor comes back
        await apply_to_media(services, room_id, booths_before, booths_after)
    return result


async def save_outcome(
    services: Services, conn: AsyncConnection, room: Room, seq: int, outcome: Outcome, actor_id: str, now: datetime
) -> list[RoomMessage]:
    """Write what a rule decided, inside the caller's transaction; the events numbered from ``seq + 1``."""
    stored = await repo.stored_participants(conn, room.id, [p.user_id for p in outcome.upserts])
    await repo.save_participants(conn, outcome.upserts, stored)
    if outcome.deletes:
        await repo.delete_participants(conn, room.id, outcome.deletes)
    if outcome.ban is not None:
        await repo.add_ban(conn, room.id, outcome.ban, actor_id, now)
    if outcome.grant_access is not None:
        await repo.grant_access(conn, room.id, outcome.grant_access, actor_id, now)
    if outcome.stage_invite is not None:
        await repo.add_stage_invite(conn, room.id, outcome.stage_invite, actor_id, now)
    if outcome.clear_stage_invite is not None:
        await repo.clear_stage_invites(conn, room.id, outcome.clear_stage_invite)
    if outcome.moderation:
        await repo_moderation.append_entries(conn, room.id, outcome.moderation, now, services.ids.new_id)
    await _maybe_batch_audience(services, conn, room, outcome)
    if outcome.room is not None:
        await repo.update_room(conn, outcome.room)
        if outcome.room.ended:
            await repo.delete_participants(conn, room.id)
            await repo.clear_stage_invites(conn, room.id)
    pairs = [(e.name, e.data) for e in outcome.events]
    await repo.append_events(conn, room.id, seq + 1, pairs, now, services.settings.event_window)
    return [RoomMessage(room.id, seq + 1 + i, name, data) for i, (name, data) in enumerate(pairs)]


def presence_deadline(services: Services, now: datetime) -> datetime:
    """Until when a member who acts in a room at ``now`` keeps their place there with no live connection."""
    return now + timedelta(seconds=services.settings.presence_idle_s)


def _mark_quiet_changes(services: Services, ctx: Context, outcome: Outcome) -> None:
    """Quiet listener arrivals and departures of a batched room are counted later (``audience.flush_counts``)."""
    if not ctx.room.audience_batched:
        return
    arrived = ctx.actor is None and any(p.user_id == ctx.actor_id and p.role is Role.LISTENER for p in outcome.upserts)
    quiet_departure = bool(outcome.deletes) and not any(e.name == "participant_left" for e in outcome.events)
    if arrived or quiet_departure:
        services.dirty_audiences.add(ctx.room.id)


async def _maybe_batch_audience(services: Services, conn: AsyncConnection, room: Room, outcome: Outcome) -> None:
    """A room whose audience reaches the threshold switches to a batched audience in the same transaction; the
    count is read after this command's own changes were written, so the event carries the true number."""
    current = outcome.room or room
    if current.audience_batched or current.ended:
        return
    listeners = await repo.headcount(conn, room.id, role=Role.LISTENER)
    switch = audience_batching(current, listeners, services.settings.audience_batch_threshold)
    if switch.room is not None:
        outcome.room = switch.room
        outcome.events.extend(switch.events)


async def _follow_up(services: Services, ctx: Context, result: Result, known: dict[str, Participant]) -> None:
    """Make the media plane and the live connections match what was just committed."""
    room_id = ctx.room.id
    outcome = result.outcome
    if result.room.ended:
        await services.media.destroy_room(room_id)
        return
    for p in outcome.upserts:
        before = known.get(p.user_id)
        role: MediaRole = "speaker" if p.role.on_stage else "listener"
        if before is None or before.role.on_stage != p.role.on_stage:
            await services.media.admit(room_id, p.user_id, role, p.muted)
        elif before.muted != p.muted:
            await services.media.set_muted(room_id, p.user_id, p.muted)
    for user_id in outcome.deletes:
        await services.media.remove(room_id, user_id)
        if outcome.ban == user_id:
            await services.bus.leave_room(room_id, user_id, "removed")
