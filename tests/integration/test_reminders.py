"""The reminder scheduler against the real database (both engines): a reminder is never sent twice (two ticks, two
instances, a race on the primary key) and never lost (one that fell due while the app was down goes out after a
restart)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from salon.app import reminders, scheduled_events
from salon.app.fakes import FakeClock, RecordingBus
from salon.app.services import Services
from salon.store import repo_scheduled_events
from salon.store.database import Database
from salon.store.tables import notifications
from tests.support.scheduled_events import actor, schedule
from tests.support.services import make_services

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


def soon_pushes(services: Services) -> list[str]:
    assert isinstance(services.bus, RecordingBus)
    return [u for u, name, d in services.bus.users if name == "notification" and d["kind"] == "event_starting_soon"]


async def stored(services: Services, kind: str = "event_starting_soon") -> int:
    async with services.db.read() as conn:
        query = select(func.count()).select_from(notifications).where(notifications.c.kind == kind)
        return int((await conn.execute(query)).scalar_one())


@asynccontextmanager
async def restarted(services: Services, db_url: str) -> AsyncIterator[Services]:
    """A new process on the same database: new engine, new bus, nothing kept in memory."""
    db = Database(db_url)
    try:
        yield make_services(services.settings, db, clock=services.clock)
    finally:
        await db.dispose()


async def test_a_reminder_goes_to_the_hosts_and_the_list_once(services: Services, clock: FakeClock) -> None:
    ada, bob, dee, eve = [await actor(services, n) for n in ("ada", "bob", "dee", "eve")]
    event = (await schedule(services, ada, in_minutes=30, cohosts=[bob.user_id])).event
    await scheduled_events.set_rsvp(services, dee, event.id, True)
    await scheduled_events.set_rsvp(services, ada, event.id, True)  # a host on the list is told once
    clock.advance(19 * 60)
    assert await reminders.send_due_reminders(services) == 0  # 11 minutes before: not yet
    clock.advance(60)
    assert await reminders.send_due_reminders(services) == 1
    assert await reminders.send_due_reminders(services) == 0
    clock.advance(30)
    assert await reminders.send_due_reminders(services) == 0
    assert soon_pushes(services) == [ada.user_id, bob.user_id, dee.user_id]
    assert await stored(services) == 3
    note = next(d for u, n, d in services.bus.users if u == dee.user_id)  # type: ignore[attr-defined]
    assert note["data"] == {
        "event_id": event.id,
        "title": event.title,
        "starts_at": event.starts_at.isoformat(),
        "timezone": "Europe/Paris",
        "room_id": None,
    }
    assert eve.user_id not in soon_pushes(services)


async def test_two_ticks_at_once_send_one_reminder(services: Services, clock: FakeClock) -> None:
    ada = await actor(services, "ada")
    await schedule(services, ada, in_minutes=5)
    await schedule(services, ada, in_minutes=8, title="Second")
    counts = await asyncio.gather(*(reminders.send_due_reminders(services) for _ in range(3)))
    assert sum(counts) == 2
    assert await stored(services) == 2


async def test_the_primary_key_is_the_last_word(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the check before the insert is fooled, the second insert fails and its notifications roll back."""
    ada = await actor(services, "ada")
    await schedule(services, ada, in_minutes=5)
    assert await reminders.send_due_reminders(services) == 1

    async def nothing_sent(*_: object) -> bool:
        return False

    async def everything_due(*_: object, **__: object) -> list[str]:
        async with services.db.read() as conn:
            return [
                e.id
                for e in await repo_scheduled_events.of_member(conn, ada.user_id, clock.now() - timedelta(days=1), 10)
            ]

    monkeypatch.setattr(repo_scheduled_events, "reminder_sent", nothing_sent)
    monkeypatch.setattr(repo_scheduled_events, "due_reminders", everything_due)
    assert await reminders.send_due_reminders(services) == 0
    assert await stored(services) == 1
    assert soon_pushes(services) == [ada.user_id]


async def test_a_reminder_due_while_the_app_was_down_goes_out_after_a_restart(
    services: Services, clock: FakeClock, db_url: str
) -> None:
    ada, dee = await actor(services, "ada"), await actor(services, "dee")
    event = (await schedule(services, ada, in_minutes=60)).event
    await scheduled_events.set_rsvp(services, dee, event.id, True)
    # The app stops before the reminder is due, and is down past the event's time.
    clock.advance(65 * 60)
    async with restarted(services, db_url) as after:
        assert await reminders.send_due_reminders(after) == 1
        assert soon_pushes(after) == [ada.user_id, dee.user_id]
        async with restarted(services, db_url) as again:
            assert await reminders.send_due_reminders(again) == 0
    assert await reminders.send_due_reminders(services) == 0  # the old process, had it lived on
    assert await stored(services) == 2


async def test_no_reminder_for_events_started_cancelled_or_missed(services: Services, clock: FakeClock) -> None:
    ada = await actor(services, "ada")
    started = (await schedule(services, ada, in_minutes=14)).event
    await scheduled_events.start_event(services, ada, started.id)
    cancelled = (await schedule(services, ada, in_minutes=5, title="Cancelled")).event
    await scheduled_events.cancel_event(services, ada, cancelled.id)
    missed = (await schedule(services, ada, in_minutes=30, title="Missed")).event
    clock.advance(92 * 60)  # down until an hour past its time
    assert await reminders.send_due_reminders(services) == 0
    assert await stored(services) == 0
    assert (await scheduled_events.get_event(services, ada, missed.id)).status.value == "missed"


async def test_the_loop_ticks_at_once_then_on_its_interval(services: Services, clock: FakeClock) -> None:
    ada = await actor(services, "ada")
    await schedule(services, ada, in_minutes=5)
    task = asyncio.create_task(reminders.run_reminders(services, interval=0.01))
    try:
        for _ in range(200):
            if soon_pushes(services):
                break
            await asyncio.sleep(0.01)
        await schedule(services, ada, in_minutes=6, title="Later")
        for _ in range(200):
            if len(soon_pushes(services)) == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert soon_pushes(services) == [ada.user_id, ada.user_id]


async def test_the_loop_survives_a_failing_tick(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def failing(_: Services) -> int:
        nonlocal calls
        calls += 1
        raise RuntimeError("database away")

    monkeypatch.setattr(reminders, "send_due_reminders", failing)
    task = asyncio.create_task(reminders.run_reminders(services, interval=0.01))
    for _ in range(200):
        if calls >= 2:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert calls >= 2
    assert "sending event reminders failed" in caplog.text
