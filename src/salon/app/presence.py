"""App layer: presence — who stays in a room, as database state plus timers (the rule: docs/ARCHITECTURE.md,
"Presence"; ``web/presence.py`` runs the timers and knows who is connected).

Every participation has a deadline, ``participants.present_until``. A sign of life in the room (creating or joining
it, any command the member runs there, over HTTP or the WebSocket) moves it on to ``presence_idle_s`` from now;
the member's last live connection closing cuts every one of theirs to ``presence_grace_s`` from then, and so does
a server start for everyone. ``sweep`` takes out of their rooms, as "leave quietly" would, the members whose
deadline has passed and who have no live connection; the deadline of a member who does have one is renewed (a live
connection is a sign of life in every room the member is in).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.room_commands import Context, Extra, presence_deadline, run_command
from salon.app.services import Services
from salon.domain import stage as rules
from salon.domain.errors import DomainError
from salon.domain.rooms import Outcome
from salon.store import repo_presence

log = logging.getLogger(__name__)

SWEEP_BATCH = 500  # participations looked at per sweep; the rest wait for the next one

Connected = Callable[[str], bool]


def grace(services: Services) -> timedelta:
    return timedelta(seconds=services.settings.presence_grace_s)


async def record_departures(services: Services, gone: Mapping[str, datetime]) -> None:
    """Members whose last live connection closed (at the time given): each of their rooms is held for the grace
    period from then, and no longer — unless they come back or act there meanwhile."""
    if not gone:
        return
    async with services.db.transaction() as conn:
        for user_id, at in gone.items():
            await repo_presence.cut_user(conn, user_id, at + grace(services))


async def after_start(services: Services, started_at: datetime) -> int:
    """The server started: nobody is connected yet, so everyone in a room is held for the grace period from the
    start, as if their connection had closed then (participations renewed since the start are left alone)."""
    async with services.db.transaction() as conn:
        return await repo_presence.cut_all(
            conn, started_at + grace(services), untouched_before=presence_deadline(services, started_at)
        )


async def sweep(services: Services, connected: Connected) -> list[tuple[str, str]]:
    """Apply the rule once: the (room, member) pairs taken out of their rooms."""
    now = services.clock.now()
    async with services.db.read() as conn:
        due = await repo_presence.due(conn, now, SWEEP_BATCH)
    held = [(room_id, user_id) for room_id, user_id in due if connected(user_id)]
    if held:
        async with services.db.transaction() as conn:
            await repo_presence.renew_many(conn, held, presence_deadline(services, now))
    left = []
    for room_id, user_id in due:
        if not connected(user_id) and await _leave_if_still_absent(services, room_id, user_id, now, connected):
            left.append((room_id, user_id))
    return left


class _StillHere(Exception):
    """The member gave a sign of life between the sweep's read and the room's lock: nothing is written."""


async def _leave_if_still_absent(
    services: Services, room_id: str, user_id: str, now: datetime, connected: Connected
) -> bool:
    async def check(conn: AsyncConnection, ctx: Context) -> None:  # the room is locked: no command runs meanwhile
        until = await repo_presence.deadline(conn, room_id, user_id)
        if ctx.actor is None or until is None or until > now or connected(user_id):
            raise _StillHere

    def decide(ctx: Context) -> Outcome:
        return rules.leave(ctx.room, ctx.actor, ctx.stage, ctx.headcount, services.clock.now())

    try:
        await run_command(services, room_id, user_id, decide, extra=Extra(load=check))
    except (_StillHere, DomainError):  # back in time, or the room ended or they left meanwhile
        return False
    log.info("presence: %s left room %s (no live connection, no sign of life)", user_id, room_id)
    return True
