"""Scheduled events against the real database (both engines): create, list, edit, cancel, RSVP, start (the live
room, the hosts as moderators, the notifications), and notifications' list and read marks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from salon.app import notifications, scheduled_events, stage
from salon.app.fakes import FakeClock, FakeMedia, RecordingBus
from salon.app.rooms import get_snapshot
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.room_view import apply_event
from salon.domain.rooms import RoomType
from salon.domain.scheduled_events import COHOSTS_MAX, EventChanges, EventStatus
from salon.store.tables import blocks, event_reminders
from tests.support.scheduled_events import actor, schedule

pytestmark = pytest.mark.parallel  # the database only: make test runs it on two workers


async def refusal(call: object) -> DomainError:
    with pytest.raises(DomainError) as exc:
        await call  # type: ignore[misc]
    return exc.value


def bus_of(services: Services) -> RecordingBus:
    assert isinstance(services.bus, RecordingBus)
    return services.bus


def pushed(services: Services, kind: str) -> list[str]:
    """Recipients of ``notification`` pushes of this kind, in order."""
    return [u for u, name, data in bus_of(services).users if name == "notification" and data["kind"] == kind]


async def block(services: Services, blocker: Actor, blocked: Actor) -> None:
    async with services.db.transaction() as conn:
        await conn.execute(
            blocks.insert().values(
                blocker_id=blocker.user_id, blocked_id=blocked.user_id, created_at=services.clock.now()
            )
        )


# --- create, read, list ----------------------------------------------------------------------------------------


async def test_a_member_schedules_an_event_with_cohosts(services: Services) -> None:
    ada, bob, dee = [await actor(services, n) for n in ("ada", "bob", "dee")]
    view = await schedule(services, ada, cohosts=[bob.user_id, ada.user_id, bob.user_id], topics=["jazz", "Jazz"])
    e = view.event
    assert (e.title, e.topics, e.timezone, e.sequence) == ("Jazz standards", ("jazz",), "Europe/Paris", 0)
    assert e.starts_at == services.clock.now() + timedelta(days=1)
    assert e.hosts == (ada.user_id, bob.user_id)
    assert [p.username for p in view.hosts] == ["ada", "bob"]
    assert (view.status, view.rsvp_count, view.rsvped, view.is_host) == (EventStatus.SCHEDULED, 0, False, True)
    seen = await scheduled_events.get_event(services, dee, e.id)
    assert (seen.event, seen.is_host) == (e, False)


async def test_creating_checks_hosts_time_and_zone(services: Services) -> None:
    ada = await actor(services, "ada")
    err = await refusal(schedule(services, ada, cohosts=["nobody"]))
    assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "hosts", "unknown": ["nobody"]})
    others = [(await actor(services, f"co{i}")).user_id for i in range(COHOSTS_MAX + 1)]
    assert (await refusal(schedule(services, ada, cohosts=others))).data == {"field": "hosts"}
    assert (await refusal(schedule(services, ada, in_minutes=-5))).data == {"field": "starts_at"}
    assert (await refusal(schedule(services, ada, timezone="Paris"))).data == {"field": "timezone"}
    assert (await refusal(scheduled_events.get_event(services, ada, "nope"))).code is ErrorCode.NOT_FOUND


async def test_upcoming_lists_soonest_first_by_pages(services: Services, clock: FakeClock) -> None:
    ada = await actor(services, "ada")
    dee = await actor(services, "dee")
    made = [await schedule(services, ada, in_minutes=m, title=f"E{m}") for m in (300, 100, 200, 400, 500)]
    gone = await schedule(services, ada, in_minutes=50, title="Cancelled")
    await scheduled_events.cancel_event(services, ada, gone.event.id)
    first = await scheduled_events.list_upcoming(services, dee, limit=2)
    assert [v.event.title for v in first.events] == ["E100", "E200"]
    assert first.next_cursor is not None
    second = await scheduled_events.list_upcoming(services, dee, first.next_cursor, limit=2)
    third = await scheduled_events.list_upcoming(services, dee, second.next_cursor, limit=2)
    assert [v.event.title for v in second.events + third.events] == ["E300", "E400", "E500"]
    assert third.next_cursor is None
    # An event nobody started drops out an hour after its time (missed).
    clock.advance(161 * 60)
    assert [v.event.title for v in (await scheduled_events.list_upcoming(services, dee)).events][:1] == ["E200"]
    assert len(made) == 5
    err = await refusal(scheduled_events.list_upcoming(services, dee, "not-a-cursor"))
    assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "cursor"})


async def test_a_closed_event_shows_only_to_its_hosts_its_list_and_admins(services: Services) -> None:
    ada, bob, dee, eve = [await actor(services, n) for n in ("ada", "bob", "dee", "eve")]
    root = await actor(services, "root", admin=True)
    closed = (await schedule(services, ada, room_type=RoomType.CLOSED, cohosts=[bob.user_id])).event
    await schedule(services, ada, title="Open one", in_minutes=2000)

    async def titles(who: Actor) -> list[str]:
        return [v.event.title for v in (await scheduled_events.list_upcoming(services, who)).events]

    assert await titles(ada) == await titles(bob) == await titles(root) == ["Jazz standards", "Open one"]
    assert await titles(dee) == ["Open one"]
    for call in (
        scheduled_events.get_event(services, dee, closed.id),
        scheduled_events.set_rsvp(services, dee, closed.id, True),
        scheduled_events.start_event(services, dee, closed.id),
        scheduled_events.cancel_event(services, dee, closed.id),
        scheduled_events.edit_event(services, dee, closed.id, EventChanges(title="x")),
    ):
        assert (await refusal(call)).code is ErrorCode.NOT_FOUND
    # Getting on the list (a host made it open, eve RSVPed, it was closed again) keeps it visible.
    await scheduled_events.edit_event(services, ada, closed.id, EventChanges(room_type=RoomType.OPEN))
    await scheduled_events.set_rsvp(services, eve, closed.id, True)
    await scheduled_events.edit_event(services, ada, closed.id, EventChanges(room_type=RoomType.CLOSED))
    assert await titles(eve) == ["Jazz standards", "Open one"]
    assert (await scheduled_events.get_event(services, eve, closed.id)).rsvped
    # "Notify me" off is not leaving the list: a guest of a closed event keeps seeing it, and can turn it on again.
    off = await scheduled_events.set_rsvp(services, eve, closed.id, False)
    assert (off.rsvped, off.rsvp_count) == (False, 0)
    assert await titles(eve) == ["Jazz standards", "Open one"]
    assert not (await scheduled_events.get_event(services, eve, closed.id)).rsvped
    assert (await scheduled_events.set_rsvp(services, eve, closed.id, True)).rsvped


async def test_an_event_is_hidden_from_members_one_of_its_hosts_blocked(services: Services) -> None:
    ada, bob, dee = [await actor(services, n) for n in ("ada", "bob", "dee")]
    event = (await schedule(services, ada, cohosts=[bob.user_id])).event
    await block(services, bob, dee)
    await block(services, dee, ada)  # blocking a host yourself hides nothing
    assert (await scheduled_events.list_upcoming(services, dee)).events == []
    assert (await refusal(scheduled_events.get_event(services, dee, event.id))).code is ErrorCode.NOT_FOUND
    await block(services, ada, bob)  # hosts always see their own event
    assert [v.event.id for v in (await scheduled_events.list_upcoming(services, bob)).events] == [event.id]


# --- edit, cancel, RSVP ----------------------------------------------------------------------------------------


async def test_hosts_edit_and_every_edit_bumps_the_sequence(services: Services, clock: FakeClock) -> None:
    ada, bob, cy, dee = [await actor(services, n) for n in ("ada", "bob", "cy", "dee")]
    event = (await schedule(services, ada, cohosts=[bob.user_id])).event
    clock.advance(60)
    edited = await scheduled_events.edit_event(
        services, bob, event.id, EventChanges(title="Ballads", topics=["ballads"])
    )
    assert (edited.event.title, edited.event.topics, edited.event.sequence) == ("Ballads", ("ballads",), 1)
    assert edited.event.updated_at == clock.now()
    assert (await scheduled_events.get_event(services, dee, event.id)).event == edited.event
    assert (await refusal(scheduled_events.edit_event(services, dee, event.id, EventChanges(title="x")))).code is (
        ErrorCode.NOT_ALLOWED
    )
    assert (await refusal(scheduled_events.edit_event(services, bob, event.id, EventChanges(cohosts=[])))).code is (
        ErrorCode.NOT_ALLOWED
    )
    rehosted = await scheduled_events.edit_event(services, ada, event.id, EventChanges(cohosts=[cy.user_id]))
    assert (rehosted.event.hosts, [p.username for p in rehosted.hosts]) == ((ada.user_id, cy.user_id), ["ada", "cy"])
    assert (await scheduled_events.get_event(services, dee, event.id)).event.hosts == (ada.user_id, cy.user_id)
    err = await refusal(scheduled_events.edit_event(services, ada, event.id, EventChanges(cohosts=["ghost"])))
    assert err.data["field"] == "hosts"
    assert (await scheduled_events.get_event(services, dee, event.id)).event.sequence == 2


async def test_moving_an_event_rearms_its_starting_soon_reminder(services: Services, clock: FakeClock) -> None:
    from salon.app.reminders import send_due_reminders

    ada = await actor(services, "ada")
    event = (await schedule(services, ada, in_minutes=5)).event
    assert await send_due_reminders(services) == 1
    await scheduled_events.edit_event(services, ada, event.id, EventChanges(starts_at=clock.now() + timedelta(hours=2)))
    assert await send_due_reminders(services) == 0
    clock.advance(115 * 60)
    assert await send_due_reminders(services) == 1
    assert pushed(services, "event_starting_soon") == [ada.user_id, ada.user_id]


async def test_cancelling_tells_the_list_and_is_idempotent(services: Services) -> None:
    ada, bob, dee, eve = [await actor(services, n) for n in ("ada", "bob", "dee", "eve")]
    root = await actor(services, "root", admin=True)
    event = (await schedule(services, ada, cohosts=[bob.user_id])).event
    await scheduled_events.set_rsvp(services, dee, event.id, True)
    await scheduled_events.set_rsvp(services, eve, event.id, True)
    await scheduled_events.set_rsvp(services, eve, event.id, False)  # eve asked not to be notified any more
    assert (await refusal(scheduled_events.cancel_event(services, eve, event.id))).code is ErrorCode.NOT_ALLOWED
    cancelled = await scheduled_events.cancel_event(services, bob, event.id)
    assert (cancelled.status, cancelled.event.sequence) == (EventStatus.CANCELLED, 1)
    assert pushed(services, "event_cancelled") == [ada.user_id, dee.user_id]
    again = await scheduled_events.cancel_event(services, ada, event.id)
    assert again.event == cancelled.event
    assert len(pushed(services, "event_cancelled")) == 2
    assert (await refusal(scheduled_events.set_rsvp(services, eve, event.id, True))).data == {"reason": "cancelled"}
    assert (await refusal(scheduled_events.start_event(services, ada, event.id))).data == {"reason": "cancelled"}
    other = (await schedule(services, ada, title="Another")).event
    assert (await scheduled_events.cancel_event(services, root, other.id)).status is EventStatus.CANCELLED


async def test_rsvp_is_idempotent_and_counted(services: Services) -> None:
    ada, dee, eve = [await actor(services, n) for n in ("ada", "dee", "eve")]
    event = (await schedule(services, ada)).event
    assert (await scheduled_events.set_rsvp(services, dee, event.id, True)).rsvp_count == 1
    again = await scheduled_events.set_rsvp(services, dee, event.id, True)
    assert (again.rsvp_count, again.rsvped) == (1, True)
    assert (await scheduled_events.set_rsvp(services, eve, event.id, True)).rsvp_count == 2
    off = await scheduled_events.set_rsvp(services, dee, event.id, False)
    assert (off.rsvp_count, off.rsvped) == (1, False)
    assert (await scheduled_events.set_rsvp(services, dee, event.id, False)).rsvp_count == 1
    assert (await scheduled_events.get_event(services, ada, event.id)).rsvp_count == 1


# --- start -----------------------------------------------------------------------------------------------------


async def test_a_host_starts_the_event_and_it_becomes_a_live_room(services: Services, clock: FakeClock) -> None:
    ada, bob, cy, dee, eve = [await actor(services, n) for n in ("ada", "bob", "cy", "dee", "eve")]
    event = (await schedule(services, ada, in_minutes=30, cohosts=[bob.user_id, cy.user_id])).event
    await scheduled_events.set_rsvp(services, dee, event.id, True)
    await scheduled_events.set_rsvp(services, bob, event.id, True)
    early = await refusal(scheduled_events.start_event(services, bob, event.id))
    assert (early.code, early.data["reason"]) == (ErrorCode.CONFLICT, "too_early")
    assert (await refusal(scheduled_events.start_event(services, dee, event.id))).code is ErrorCode.NOT_ALLOWED

    clock.advance(15 * 60)  # 15 minutes before its time: a host may start it
    started = await scheduled_events.start_event(services, bob, event.id)
    room_id = started.event.room_id
    assert room_id is not None
    assert (started.status, started.event.started_at) == (EventStatus.LIVE, clock.now())
    view = await get_snapshot(services, bob.user_id, room_id)
    assert (view["room"]["title"], view["room"]["topics"], view["room"]["type"]) == (
        "Jazz standards",
        ["jazz", "piano"],
        "open",
    )
    assert view["room"]["description"] == event.description
    assert [(p["user"]["username"], p["role"]) for p in view["stage"]] == [("bob", "moderator")]
    media = services.media
    assert isinstance(media, FakeMedia)
    assert media.members[(room_id, bob.user_id)] == ("speaker", True)
    # The other hosts and the members on the list are told, the starter is not; each once.
    assert sorted(pushed(services, "event_started")) == sorted([ada.user_id, cy.user_id, dee.user_id])
    note = next(d for u, n, d in bus_of(services).users if u == dee.user_id and d["kind"] == "event_started")
    assert note["data"]["room_id"] == room_id
    # The other hosts join as moderators (the event the room's clients get applies to their snapshot); a member on
    # the list joins as a listener.
    before = await get_snapshot(services, bob.user_id, room_id)
    joined = await stage.join(services, ada.user_id, room_id)
    assert [m.name for m in joined.messages] == ["participant_joined"]
    for m in joined.messages:
        before = apply_event(before, m.seq, m.name, m.data)
    assert before == await get_snapshot(services, bob.user_id, room_id)
    await stage.join(services, dee.user_id, room_id)
    after = await get_snapshot(services, ada.user_id, room_id)
    roles = {p["user"]["username"]: p["role"] for p in [*after["stage"], *after["audience"]]}
    assert roles == {"bob": "moderator", "ada": "moderator", "dee": "listener"}
    assert media.members[(room_id, ada.user_id)] == ("speaker", True)
    # Starting again (another host, later) gives the same room and tells nobody again.
    again = await scheduled_events.start_event(services, ada, event.id)
    assert again.event.room_id == room_id
    assert len(pushed(services, "event_started")) == 3
    assert (await refusal(scheduled_events.edit_event(services, ada, event.id, EventChanges(title="x")))).data == {
        "reason": "started"
    }
    assert (await scheduled_events.get_event(services, eve, event.id)).status is EventStatus.LIVE


async def test_the_room_of_a_closed_event_lets_in_its_list(services: Services, clock: FakeClock) -> None:
    ada, dee, eve = [await actor(services, n) for n in ("ada", "dee", "eve")]
    event = (await schedule(services, ada, in_minutes=5, room_type=RoomType.CLOSED)).event
    await scheduled_events.edit_event(services, ada, event.id, EventChanges(room_type=RoomType.OPEN))
    await scheduled_events.set_rsvp(services, dee, event.id, True)
    await scheduled_events.edit_event(services, ada, event.id, EventChanges(room_type=RoomType.CLOSED))
    room_id = (await scheduled_events.start_event(services, ada, event.id)).event.room_id
    assert room_id is not None
    assert (await get_snapshot(services, dee.user_id, room_id))["room"]["type"] == "closed"
    await stage.join(services, dee.user_id, room_id)
    assert (await refusal(get_snapshot(services, eve.user_id, room_id))).code is ErrorCode.NOT_FOUND


async def test_starting_ends_when_the_room_ends_and_is_missed_when_too_late(
    services: Services, clock: FakeClock
) -> None:
    from salon.app.rooms import end_room

    ada = await actor(services, "ada")
    event = (await schedule(services, ada, in_minutes=10)).event
    room_id = (await scheduled_events.start_event(services, ada, event.id)).event.room_id
    assert room_id is not None
    await end_room(services, ada.user_id, room_id)
    assert (await scheduled_events.get_event(services, ada, event.id)).status is EventStatus.ENDED
    late = (await schedule(services, ada, in_minutes=10, title="Late")).event
    clock.advance(71 * 60)
    assert (await scheduled_events.get_event(services, ada, late.id)).status is EventStatus.MISSED
    assert (await refusal(scheduled_events.start_event(services, ada, late.id))).data == {"reason": "missed"}


async def test_two_hosts_starting_at_once_open_one_room(services: Services) -> None:
    ada, bob = await actor(services, "ada"), await actor(services, "bob")
    event = (await schedule(services, ada, in_minutes=5, cohosts=[bob.user_id])).event
    first, second = await asyncio.gather(
        scheduled_events.start_event(services, ada, event.id), scheduled_events.start_event(services, bob, event.id)
    )
    assert first.event.room_id == second.event.room_id is not None
    media = services.media
    assert isinstance(media, FakeMedia)
    assert len(media.rooms) == 1
    async with services.db.read() as conn:
        rows = (await conn.execute(select(event_reminders.c.kind).where(event_reminders.c.event_id == event.id))).all()
    assert [r.kind for r in rows] == ["started"]


# --- notifications ---------------------------------------------------------------------------------------------


async def test_notifications_list_newest_first_and_mark_read(services: Services, clock: FakeClock) -> None:
    ada, dee = await actor(services, "ada"), await actor(services, "dee")
    made = []
    for i in range(5):
        async with services.db.transaction() as conn:
            made += await notifications.notify(services, conn, [dee.user_id, dee.user_id], "test", {"n": i})
        clock.advance(1)
    assert len(made) == 5  # one per recipient, however often named
    await notifications.publish(services, made)
    assert [d["data"]["n"] for u, name, d in bus_of(services).users if name == "notification"] == [0, 1, 2, 3, 4]

    page = await notifications.list_notifications(services, dee, None, limit=2)
    assert ([n.data["n"] for n in page.notifications], page.unread_count) == ([4, 3], 5)
    rest = await notifications.list_notifications(services, dee, page.next_cursor, limit=5)
    assert ([n.data["n"] for n in rest.notifications], rest.next_cursor) == ([2, 1, 0], None)
    assert (await notifications.list_notifications(services, ada, None)).notifications == []

    assert await notifications.mark_read(services, ada, [made[0].id]) == 0  # not ada's: ignored
    assert await notifications.mark_read(services, dee, [made[0].id, made[1].id, "unknown"]) == 3
    assert bus_of(services).users[-1] == (dee.user_id, "notifications_read", {"unread_count": 3})
    assert await notifications.mark_read(services, dee, [made[0].id]) == 3
    assert await notifications.mark_read(services, dee, []) == 3
    read = (await notifications.list_notifications(services, dee, None)).notifications
    assert [n.read_at is not None for n in read] == [False, False, False, True, True]
    assert await notifications.mark_read(services, dee, None) == 0
    with pytest.raises(ValueError, match="does not fit"):
        async with services.db.transaction() as conn:
            await notifications.notify(services, conn, [dee.user_id], "x" * 31, {})
    too_many = await refusal(notifications.mark_read(services, dee, ["x"] * (notifications.MARK_MAX + 1)))
    assert too_many.data == {"field": "ids"}
