"""App layer: the reminder scheduler — "starting soon" notifications for scheduled events.

Every tick scans by time for scheduled events starting within ``REMIND_BEFORE`` (10 minutes) that have no ``soon``
row in ``event_reminders``, and for each one, in ONE transaction: locks the event, checks again, inserts the row
(primary key event + kind) and the notifications of its hosts and of the members on its list. So:

- a reminder is never sent twice: a second tick, a second instance or a tick racing a restart finds the row, or
  fails on the primary key and rolls its notifications back with it;
- none is lost: the scan is by time, not by a timer set in memory, so one that fell due while the app was down goes
  out at the first tick after a restart (until the event is missed, an hour past its time, when it is pointless).

``event_started`` is not sent here: it goes out in the transaction that starts the event
(``app/scheduled_events.py``), with its own ``started`` row. An event nobody starts sends nothing more; an hour after
its time it is *missed*.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError

from salon.app.notifications import notify, publish
from salon.app.scheduled_events import REMINDER_SOON, STARTING_SOON, notification_data
from salon.app.services import Services
from salon.domain import scheduled_events as rules
from salon.domain.notifications import NotificationRecord
from salon.store import repo_scheduled_events as repo

log = logging.getLogger(__name__)

TICK_S = 20.0


async def send_due_reminders(services: Services) -> int:
    """One tick: send every due "starting soon" reminder; how many events were reminded."""
    now = services.clock.now()
    async with services.db.read() as conn:
        due = await repo.due_reminders(conn, REMINDER_SOON, now + rules.REMIND_BEFORE, now - rules.LAPSE_AFTER)
    sent = 0
    for event_id in due:
        try:
            notes = await _remind(services, event_id)
        except IntegrityError:
            log.info("reminder for event %s was sent by someone else meanwhile", event_id)
            continue
        if notes is not None:
            sent += 1
            await publish(services, notes)
    return sent


async def _remind(services: Services, event_id: str) -> list[NotificationRecord] | None:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        event = await repo.get_event(conn, event_id, lock=True)
        if event is None or not rules.due_for_reminder(event, now):
            return None
        if await repo.reminder_sent(conn, event.id, REMINDER_SOON):
            return None
        await repo.record_reminder(conn, event.id, REMINDER_SOON, now)
        active = await repo.active_members(conn, event.hosts)
        told = [*(h for h in event.hosts if h in active), *await repo.rsvp_members(conn, event.id)]
        return await notify(services, conn, told, STARTING_SOON, notification_data(event))


async def run_reminders(services: Services, interval: float = TICK_S) -> None:
    """For the life of the app: a tick at once (reminders that fell due while the app was down), then one every
    ``interval`` seconds."""
    while True:
        try:
            await send_due_reminders(services)
        except Exception:
            log.exception("sending event reminders failed; retrying next tick")
        await asyncio.sleep(interval)
