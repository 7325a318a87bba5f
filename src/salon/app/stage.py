"""App layer: the verbs of a live room — join, leave, hands, invitations up, mutes, moves, removal.

Each verb names the rule it applies (``salon.domain.stage``) and what it needs loaded; ``run_command`` does the
loading, saving and publishing. The same functions serve REST routes and WebSocket ops.
"""

from __future__ import annotations

from datetime import timedelta

from salon.app.room_commands import Context, Result, run_command
from salon.app.services import Services
from salon.domain import stage as rules
from salon.domain.errors import ErrorCode, refuse
from salon.domain.rooms import Outcome
from salon.store import repo_rooms as repo


async def join(services: Services, actor_id: str, room_id: str) -> Result:
    async with services.db.read() as conn:
        profile = await repo.get_profile(conn, actor_id)
    if profile is None:
        raise refuse(ErrorCode.NOT_AUTHENTICATED, "Log in first.")

    def decide(ctx: Context) -> Outcome:
        return rules.join(ctx.room, profile, ctx.access, ctx.actor, ctx.headcount, services.clock.now())

    return await run_command(services, room_id, actor_id, decide)


async def leave(services: Services, actor_id: str, room_id: str) -> Result:
    def decide(ctx: Context) -> Outcome:
        return rules.leave(ctx.room, ctx.actor, ctx.stage, ctx.headcount, services.clock.now())

    return await run_command(services, room_id, actor_id, decide)


async def raise_hand(services: Services, actor_id: str, room_id: str) -> Result:
    return await run_command(
        services, room_id, actor_id, lambda ctx: rules.raise_hand(ctx.room, ctx.actor, services.clock.now())
    )


async def lower_hand(services: Services, actor_id: str, room_id: str) -> Result:
    return await run_command(services, room_id, actor_id, lambda ctx: rules.lower_hand(ctx.room, ctx.actor))


async def set_hands_enabled(services: Services, actor_id: str, room_id: str, enabled: bool) -> Result:
    def decide(ctx: Context) -> Outcome:
        return rules.set_hands_enabled(ctx.room, ctx.actor, enabled, ctx.raised)

    return await run_command(services, room_id, actor_id, decide, need_raised=True)


async def invite_up(services: Services, actor_id: str, room_id: str, target_id: str) -> Result:
    now = services.clock.now()
    until = now + timedelta(seconds=services.settings.stage_invite_ttl_s)

    def decide(ctx: Context) -> Outcome:
        return rules.invite_up(
            ctx.room,
            ctx.actor,
            ctx.target,
            target_id,
            ctx.target_banned,
            already_invited=ctx.target_invited,
            now=now,
            until=until,
        )

    return await run_command(services, room_id, actor_id, decide, target_id=target_id)


async def accept_stage_invite(services: Services, actor_id: str, room_id: str) -> Result:
    return await run_command(
        services, room_id, actor_id, lambda ctx: rules.accept_stage_invite(ctx.room, ctx.actor, services.clock.now())
    )


async def decline_stage_invite(services: Services, actor_id: str, room_id: str) -> Result:
    return await run_command(services, room_id, actor_id, lambda ctx: rules.decline_stage_invite(ctx.room, ctx.actor))


async def mute(services: Services, actor_id: str, room_id: str, target_id: str, lock: bool) -> Result:
    def decide(ctx: Context) -> Outcome:
        return rules.moderator_mute(ctx.room, ctx.actor, ctx.target, lock)

    return await run_command(services, room_id, actor_id, decide, target_id=target_id)


async def unlock_mute(services: Services, actor_id: str, room_id: str, target_id: str) -> Result:
    def decide(ctx: Context) -> Outcome:
        return rules.unlock_mute(ctx.room, ctx.actor, ctx.target)

    return await run_command(services, room_id, actor_id, decide, target_id=target_id)


async def set_self_muted(services: Services, actor_id: str, room_id: str, muted: bool) -> Result:
    return await run_command(services, room_id, actor_id, lambda ctx: rules.set_self_muted(ctx.room, ctx.actor, muted))


async def move_to_audience(services: Services, actor_id: str, room_id: str, target_id: str) -> Result:
    def decide(ctx: Context) -> Outcome:
        return rules.move_to_audience(ctx.room, ctx.actor, ctx.target, ctx.stage)

    return await run_command(services, room_id, actor_id, decide, target_id=target_id)


async def set_moderator(services: Services, actor_id: str, room_id: str, target_id: str, make: bool) -> Result:
    def decide(ctx: Context) -> Outcome:
        return rules.set_moderator(ctx.room, ctx.actor, ctx.target, make, ctx.stage)

    return await run_command(services, room_id, actor_id, decide, target_id=target_id)


async def remove(services: Services, actor_id: str, room_id: str, target_id: str) -> Result:
    def decide(ctx: Context) -> Outcome:
        now = services.clock.now()
        return rules.remove(
            ctx.room, ctx.actor, ctx.target, target_id, ctx.stage, ctx.headcount, now, already_removed=ctx.target_banned
        )

    return await run_command(services, room_id, actor_id, decide, target_id=target_id)


async def let_in(services: Services, actor_id: str, room_id: str, target_id: str) -> Result:
    def decide(ctx: Context) -> Outcome:
        return rules.let_in(ctx.room, ctx.actor, target_id, already_let_in=ctx.target_let_in)

    return await run_command(services, room_id, actor_id, decide, target_id=target_id)
