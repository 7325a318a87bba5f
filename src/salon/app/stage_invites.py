"""App layer: invitations up that nobody answered lapse (the rule: ``domain/stage.expire_stage_invite``).

A moderator's invitation to a listener stands for ``stage_invite_ttl_s``; the presence sweeper (``web/presence.py``)
calls :func:`expire_lapsed` on each tick, which applies the rule to every lapsed invitation as a room command on
the invitee's behalf (the room locked, its events published after the commit), without counting it as the
invitee's sign of life. The invitee sees "the invitation expired", the moderators see the hand go down.
"""

from __future__ import annotations

import logging

from salon.app.room_commands import Context, Result, run_command
from salon.app.services import Services
from salon.domain import stage as rules
from salon.domain.errors import DomainError
from salon.domain.rooms import Outcome
from salon.store import repo_rooms

log = logging.getLogger(__name__)

EXPIRE_BATCH = 200  # invitations looked at per tick; the rest wait for the next one


async def expire_lapsed(services: Services) -> list[Result]:
    """Withdraw every lapsed invitation up: the commands that did (each with its ``stage_invite_expired`` event)."""
    now = services.clock.now()
    async with services.db.read() as conn:
        lapsed = await repo_rooms.lapsed_invitations(conn, now, EXPIRE_BATCH)
    done = []
    for room_id, user_id in lapsed:

        def decide(ctx: Context) -> Outcome:
            # Re-read under the room's lock: an answer or a renewed invitation in between wins (nothing happens).
            return rules.expire_stage_invite(ctx.room, ctx.actor, services.clock.now())

        try:
            result = await run_command(services, room_id, user_id, decide, sign_of_life=False)
        except DomainError:  # the member left or the room ended meanwhile
            continue
        if result.messages:
            done.append(result)
            log.info("stage invite: %s's invitation up in room %s lapsed", user_id, room_id)
    return done
