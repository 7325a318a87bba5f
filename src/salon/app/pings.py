"""App layer: pinging a member into a live room (rules: ``domain/pings.py``).

A ping runs as a room command (``room_commands.run_command``: the room locked, the actor loaded), so a moderator's
ping into a closed or social room lets the member in through the same path as ``let_in`` — saved and logged in
the moderation log in the same transaction as the ``pinged`` notification, which is pushed after the commit.

Rate limits (``app/ratelimit.py``): every attempt counts against the pinger's minute and hour before anything is
read; a ping that passed the rules counts against the member pinged inside the transaction, so a refusal never
uses up someone's pings and a full minute rolls the ping back with nothing written.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.notifications import notify
from salon.app.room_commands import Context, Extra, run_command
from salon.app.services import Services
from salon.domain import pings as rules
from salon.domain.notifications import NotificationRecord
from salon.domain.rooms import Outcome, profile_data
from salon.store import repo_rooms, repo_social

PINGED = "pinged"  # notification kind: data {room_id, title, by: the pinger's card}


@dataclass(frozen=True)
class Pinged:
    let_in: bool  # the ping let the member into the room (a moderator's ping, closed or social room)


async def ping(services: Services, actor_id: str, room_id: str, target_id: str) -> Pinged:
    limits = services.limits
    await limits.hit(limits.ping, actor_id)
    await limits.hit(limits.ping_hourly, actor_id)
    facts: list[rules.PingFacts] = []

    async def load(conn: AsyncConnection, ctx: Context) -> None:
        facts.append(
            rules.PingFacts(
                target_access=await repo_rooms.load_access(conn, room_id, target_id),
                follows_target=await repo_social.is_following(conn, actor_id, target_id),
                blocked_by_target=await repo_social.has_blocked(conn, target_id, actor_id),
                blocked_target=await repo_social.has_blocked(conn, actor_id, target_id),
            )
        )

    def decide(ctx: Context) -> Outcome:
        return rules.ping(ctx.room, ctx.actor, ctx.target, target_id, facts[0])

    async def notices(conn: AsyncConnection, ctx: Context, outcome: Outcome) -> list[NotificationRecord]:
        await limits.hit(limits.pinged, target_id)
        assert ctx.actor is not None  # the rule refused anyone not in the room
        data = {"room_id": ctx.room.id, "title": ctx.room.title, "by": profile_data(ctx.actor.user)}
        return await notify(services, conn, [target_id], PINGED, data)

    result = await run_command(
        services, room_id, actor_id, decide, target_id=target_id, extra=Extra(load=load, notices=notices)
    )
    return Pinged(let_in=result.outcome.grant_access is not None)
