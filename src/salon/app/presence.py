"""App layer: presence — who stays in a room, as database state plus timers (the rule: docs/ARCHITECTURE.md,
"Presence"; ``web/presence.py`` runs the timers and knows who is connected).

Every participation has a deadline, ``participants.present_until``. A sign of life in the room (creating or joining
it, any command the member runs there, over HTTP or the WebSocket) moves it on to ``presence_idle_s`` from now;
the member's last live connection closing cuts every one of theirs to ``presence_grace_s`` from then, and so do
a server start for everyone and, with several instances, an instance found dead for the members it held. ``sweep``
takes out of their rooms, as "leave quietly" would, the members whose deadline has passed and who have no live
connection (to any instance); the deadline of a member who does have one is renewed (a live
connection is a sign of life in every room the member is in).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.ports import SharedStateUnavailable
from salon.app.room_commands import Context, Extra, presence_deadline, run_command
from salon.app.services import Services
from salon.domain import stage as rules
from salon.domain.errors import DomainError
from salon.domain.rooms import Outcome
from salon.store import repo_presence

log = logging.getLogger(__name__)

SWEEP_BATCH = 500  # participations looked at per sweep; the rest wait for the next one

# Those of a batch of members who have a live connection (to this instance, or to any: ``ports.Liveness``).
Connected = Callable[[Sequence[str]], Awaitable[set[str]]]


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
    """The server started: nobody is connected here yet, so everyone in a room is held for the grace period from
    the start, as if their connection had closed then (participations renewed since the start are left alone).
    Members connected to other running instances are cut too, and kept: the sweep asks whether a member is
    connected anywhere before taking them out, and renews those who are."""
    async with services.db.transaction() as conn:
        return await repo_presence.cut_all(
            conn, started_at + grace(services), untouched_before=presence_deadline(services, started_at)
        )


async def sweep(services: Services, connected: Connected) -> list[tuple[str, str]]:
    """Apply the rule once: the (room, member) pairs taken out of their rooms."""
    now = services.clock.now()
    async with services.db.read() as conn:
        due = await repo_presence.due(conn, now, SWEEP_BATCH)
    if not due:
        return []
    live = await connected(sorted({user_id for _, user_id in due}))  # one question for the whole batch
    held = [(room_id, user_id) for room_id, user_id in due if user_id in live]
    if held:
        async with services.db.transaction() as conn:
            await repo_presence.renew_many(conn, held, presence_deadline(services, now))
    left = []
    for room_id, user_id in due:
        if user_id not in live and await _leave_if_still_absent(services, room_id, user_id, now, connected):
            left.append((room_id, user_id))
    return left


class _StillHere(Exception):
    """The member gave a sign of life between the sweep's read and the room's lock: nothing is written."""


async def _leave_if_still_absent(
    services: Services, room_id: str, user_id: str, now: datetime, connected: Connected
) -> bool:
    async def check(conn: AsyncConnection, ctx: Context) -> None:  # the room is locked: no command runs meanwhile
        until = await repo_presence.deadline(conn, room_id, user_id)
        if ctx.actor is None or until is None or until > now:
            raise _StillHere
        if await connected([user_id]):  # came back since the batch was asked (one question per departure)
            raise _StillHere

    def decide(ctx: Context) -> Outcome:
        return rules.leave(ctx.room, ctx.actor, ctx.stage, ctx.headcount, services.clock.now())

    try:
        await run_command(services, room_id, user_id, decide, extra=Extra(load=check))
    except (_StillHere, DomainError, SharedStateUnavailable):  # back in time, the room ended or they left meanwhile;
        # or whether they came back cannot be known now: nobody is taken out on a guess
        return False
    log.info("presence: %s left room %s (no live connection, no sign of life)", user_id, room_id)
    return True
