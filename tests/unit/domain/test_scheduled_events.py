"""Rules of scheduled conversations (``salon.domain.scheduled_events``): validation, who may see, edit, cancel and
start an event, and when.

The cast: ``ada`` created the event, ``bob`` co-hosts it, ``dee`` is a member, ``root`` an admin. The event starts at
``START``; nobody reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from salon.domain import scheduled_events
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.rooms import RoomType
from salon.domain.scheduled_events import EventChanges, EventStatus, ScheduledEvent

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
START = NOW + timedelta(days=2)

EVENT = ScheduledEvent(
    id="e1",
    title="Jazz standards",
    description="We agree on: ballads, the bridge.",
    topics=("jazz", "piano"),
    starts_at=START,
    timezone="Europe/Paris",
    room_type=RoomType.OPEN,
    created_by="ada",
    created_at=NOW,
    updated_at=NOW,
    hosts=("ada", "bob"),
)


def event(**overrides: object) -> ScheduledEvent:
    return replace(EVENT, **overrides)  # type: ignore[arg-type]


def refusal(call: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as exc:
        call()
    return exc.value


def code_of(call: Callable[[], object]) -> ErrorCode:
    return refusal(call).code


# --- validation ------------------------------------------------------------------------------------------------


def test_time_zones_are_iana_names_as_the_database_spells_them() -> None:
    assert scheduled_events.check_timezone("Europe/Paris").key == "Europe/Paris"
    assert scheduled_events.check_timezone("UTC").key == "UTC"
    for bad in ["europe/paris", "Mars/Olympus", "", "../../etc/passwd", "/etc/localtime", "x" * 65]:
        err = refusal(lambda bad=bad: scheduled_events.check_timezone(bad, field="tz"))  # type: ignore[misc]
        assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "tz"})


def test_the_zones_listed_are_exactly_those_accepted() -> None:
    names = scheduled_events.timezone_names()
    assert names == sorted(names)
    assert {"UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"} <= set(names)
    for name in names:
        assert scheduled_events.check_timezone(name).key == name


def test_a_start_time_needs_its_offset_and_is_kept_in_utc() -> None:
    paris = datetime(2026, 5, 3, 19, 0, tzinfo=timezone(timedelta(hours=2)))
    kept = scheduled_events.check_starts_at(paris, NOW)
    assert kept == paris
    assert kept.tzinfo is UTC
    assert kept.hour == 17
    err = refusal(lambda: scheduled_events.check_starts_at(datetime(2026, 5, 3, 19, 0), NOW))
    assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "starts_at"})


def test_a_start_time_is_in_the_future_and_at_most_a_year_ahead() -> None:
    assert code_of(lambda: scheduled_events.check_starts_at(NOW, NOW)) is ErrorCode.INVALID_INPUT
    assert code_of(lambda: scheduled_events.check_starts_at(NOW - timedelta(minutes=1), NOW)) is ErrorCode.INVALID_INPUT
    assert scheduled_events.check_starts_at(NOW + timedelta(days=365), NOW) == NOW + timedelta(days=365)
    assert code_of(lambda: scheduled_events.check_starts_at(NOW + timedelta(days=366), NOW)) is ErrorCode.INVALID_INPUT


def test_titles_and_topics_follow_the_rules_of_rooms() -> None:
    # The event becomes a room when it starts: it must always pass the room's rules.
    assert scheduled_events.clean_event_fields("  Jazz   talk ", " Ballads ", ["jazz", "Jazz", " piano "]) == (
        "Jazz talk",
        "Ballads",
        ("jazz", "piano"),
    )
    assert code_of(lambda: scheduled_events.clean_event_fields("", "", [])) is ErrorCode.INVALID_INPUT


def test_cohosts_are_deduplicated_without_the_creator_and_bounded() -> None:
    assert scheduled_events.clean_cohosts("ada", ["bob", "ada", "bob", "cy"]) == ("bob", "cy")
    assert (
        len(scheduled_events.clean_cohosts("ada", [f"u{i}" for i in range(scheduled_events.COHOSTS_MAX)]))
        == scheduled_events.COHOSTS_MAX
    )
    err = refusal(
        lambda: scheduled_events.clean_cohosts("ada", [f"u{i}" for i in range(scheduled_events.COHOSTS_MAX + 1)])
    )
    assert (err.code, err.data) == (ErrorCode.INVALID_INPUT, {"field": "hosts"})


# --- status and visibility -------------------------------------------------------------------------------------


def test_an_event_moves_from_scheduled_to_live_ended_cancelled_or_missed() -> None:
    assert EVENT.status(NOW) is EventStatus.SCHEDULED
    assert EVENT.status(START + scheduled_events.LAPSE_AFTER) is EventStatus.SCHEDULED
    assert EVENT.status(START + scheduled_events.LAPSE_AFTER + timedelta(seconds=1)) is EventStatus.MISSED
    started = event(started_at=START, room_id="r1")
    assert started.status(START) is EventStatus.LIVE
    assert started.status(START, room_ended=True) is EventStatus.ENDED
    assert event(cancelled_at=NOW).status(NOW) is EventStatus.CANCELLED
    assert EVENT.cohosts == ("bob",)


def test_open_and_social_events_are_announcements_every_member_sees() -> None:
    for kind in (RoomType.OPEN, RoomType.SOCIAL):
        assert scheduled_events.can_see_event(event(room_type=kind), "dee", is_admin=False, rsvped=False)


def test_a_closed_event_is_seen_by_its_hosts_its_list_and_admins_only() -> None:
    closed = event(room_type=RoomType.CLOSED)
    assert scheduled_events.can_see_event(closed, "ada", False, False)
    assert scheduled_events.can_see_event(closed, "bob", False, False)
    assert scheduled_events.can_see_event(closed, "dee", False, True)
    assert scheduled_events.can_see_event(closed, "root", True, False)
    assert not scheduled_events.can_see_event(closed, "dee", False, False)
    assert scheduled_events.check_visible(closed, "ada", False, False) is closed
    assert code_of(lambda: scheduled_events.check_visible(closed, "dee", False, False)) is ErrorCode.NOT_FOUND
    assert code_of(lambda: scheduled_events.check_visible(None, "ada", True, False)) is ErrorCode.NOT_FOUND


# --- edit ------------------------------------------------------------------------------------------------------


def test_a_host_edits_and_every_edit_bumps_the_sequence() -> None:
    later = NOW + timedelta(minutes=5)
    moved = START.astimezone(timezone(timedelta(hours=-4))) + timedelta(hours=1)
    out = scheduled_events.edit(
        EVENT,
        "bob",
        EventChanges(
            title="Jazz  ballads",
            description="New",
            topics=["ballads"],
            starts_at=moved,
            timezone="America/New_York",
            room_type=RoomType.CLOSED,
        ),
        later,
    )
    assert (out.title, out.description, out.topics) == ("Jazz ballads", "New", ("ballads",))
    assert (out.starts_at, out.starts_at.tzinfo) == (START + timedelta(hours=1), UTC)
    assert (out.timezone, out.room_type, out.hosts) == ("America/New_York", RoomType.CLOSED, EVENT.hosts)
    assert (out.sequence, out.updated_at, out.created_at) == (1, later, NOW)
    again = scheduled_events.edit(out, "ada", EventChanges(), later)
    assert again.sequence == 2
    assert (again.title, again.starts_at, again.room_type) == (out.title, out.starts_at, out.room_type)


def test_only_the_creator_changes_the_hosts() -> None:
    out = scheduled_events.edit(EVENT, "ada", EventChanges(cohosts=["cy", "dee"]), NOW)
    assert out.hosts == ("ada", "cy", "dee")
    err = refusal(lambda: scheduled_events.edit(EVENT, "bob", EventChanges(cohosts=[]), NOW))
    assert (err.code, err.data) == (ErrorCode.NOT_ALLOWED, {"field": "hosts"})


def test_members_who_do_not_host_cannot_edit() -> None:
    assert (
        code_of(lambda: scheduled_events.edit(EVENT, "dee", EventChanges(title="Mine"), NOW)) is ErrorCode.NOT_ALLOWED
    )


def test_a_started_or_cancelled_event_cannot_be_edited() -> None:
    started = refusal(lambda: scheduled_events.edit(event(started_at=START), "ada", EventChanges(), NOW))
    assert (started.code, started.data) == (ErrorCode.CONFLICT, {"reason": "started"})
    cancelled = refusal(lambda: scheduled_events.edit(event(cancelled_at=NOW), "ada", EventChanges(), NOW))
    assert (cancelled.code, cancelled.data) == (ErrorCode.CONFLICT, {"reason": "cancelled"})


def test_edits_are_validated() -> None:
    assert (
        code_of(lambda: scheduled_events.edit(EVENT, "ada", EventChanges(starts_at=NOW), NOW))
        is ErrorCode.INVALID_INPUT
    )
    assert (
        code_of(lambda: scheduled_events.edit(EVENT, "ada", EventChanges(timezone="Nowhere"), NOW))
        is ErrorCode.INVALID_INPUT
    )
    assert code_of(lambda: scheduled_events.edit(EVENT, "ada", EventChanges(title=" "), NOW)) is ErrorCode.INVALID_INPUT


# --- cancel ----------------------------------------------------------------------------------------------------


def test_a_host_or_an_admin_cancels_and_cancelling_again_changes_nothing() -> None:
    out = scheduled_events.cancel(EVENT, "bob", False, NOW)
    assert out is not None
    assert (out.cancelled_at, out.updated_at, out.sequence) == (NOW, NOW, 1)
    assert scheduled_events.cancel(out, "ada", False, NOW) is None
    by_admin = scheduled_events.cancel(EVENT, "root", True, NOW)
    assert by_admin is not None
    assert by_admin.cancelled_at == NOW


def test_a_member_cannot_cancel_and_a_started_event_is_ended_not_cancelled() -> None:
    assert code_of(lambda: scheduled_events.cancel(EVENT, "dee", False, NOW)) is ErrorCode.NOT_ALLOWED
    err = refusal(lambda: scheduled_events.cancel(event(started_at=START), "ada", False, NOW))
    assert (err.code, err.data) == (ErrorCode.CONFLICT, {"reason": "started"})


# --- start -----------------------------------------------------------------------------------------------------


def test_a_host_starts_from_fifteen_minutes_before_until_an_hour_after() -> None:
    opens = START - scheduled_events.START_EARLY
    assert scheduled_events.check_startable(EVENT, "bob", opens)
    assert scheduled_events.check_startable(EVENT, "ada", START + scheduled_events.LAPSE_AFTER)
    early = refusal(lambda: scheduled_events.check_startable(EVENT, "ada", opens - timedelta(seconds=1)))
    assert (early.code, early.data) == (ErrorCode.CONFLICT, {"reason": "too_early", "opens_at": opens.isoformat()})
    late = refusal(
        lambda: scheduled_events.check_startable(
            EVENT, "ada", START + scheduled_events.LAPSE_AFTER + timedelta(seconds=1)
        )
    )
    assert (late.code, late.data) == (ErrorCode.CONFLICT, {"reason": "missed"})


def test_starting_twice_is_not_an_error() -> None:
    assert not scheduled_events.check_startable(
        event(started_at=START, room_id="r1"), "bob", START + timedelta(hours=5)
    )


def test_only_hosts_start_and_a_cancelled_event_never_starts() -> None:
    assert code_of(lambda: scheduled_events.check_startable(EVENT, "dee", START)) is ErrorCode.NOT_ALLOWED
    err = refusal(lambda: scheduled_events.check_startable(event(cancelled_at=NOW), "ada", START))
    assert (err.code, err.data) == (ErrorCode.CONFLICT, {"reason": "cancelled"})


# --- RSVP and reminders ----------------------------------------------------------------------------------------


def test_members_rsvp_until_the_event_is_over() -> None:
    scheduled_events.check_rsvp(EVENT, NOW)
    scheduled_events.check_rsvp(event(started_at=START), START)
    assert refusal(lambda: scheduled_events.check_rsvp(event(cancelled_at=NOW), NOW)).data == {"reason": "cancelled"}
    assert refusal(lambda: scheduled_events.check_rsvp(EVENT, START + timedelta(hours=2))).data == {"reason": "missed"}


def test_the_starting_soon_reminder_is_due_ten_minutes_before_while_scheduled() -> None:
    assert not scheduled_events.due_for_reminder(EVENT, START - timedelta(minutes=11))
    assert scheduled_events.due_for_reminder(EVENT, START - scheduled_events.REMIND_BEFORE)
    assert scheduled_events.due_for_reminder(EVENT, START + timedelta(minutes=30))  # the app was down: still sent
    assert not scheduled_events.due_for_reminder(EVENT, START + timedelta(hours=2))  # missed: too late to remind
    assert not scheduled_events.due_for_reminder(
        event(started_at=START - timedelta(minutes=12)), START - timedelta(minutes=5)
    )
    assert not scheduled_events.due_for_reminder(event(cancelled_at=NOW), START)


def test_an_event_is_hidden_from_a_member_one_of_its_hosts_blocked() -> None:
    for kind in RoomType:
        blocked = event(room_type=kind)
        assert not scheduled_events.can_see_event(blocked, "dee", False, True, blocked_by_a_host=True)
        assert scheduled_events.can_see_event(
            blocked, "bob", False, False, blocked_by_a_host=True
        )  # hosts always see it
        assert scheduled_events.can_see_event(blocked, "root", True, False, blocked_by_a_host=True)
    assert code_of(lambda: scheduled_events.check_visible(EVENT, "dee", False, False, True)) is ErrorCode.NOT_FOUND


def test_hosts_put_members_on_the_list_while_one_could_rsvp() -> None:
    scheduled_events.check_invite(EVENT, "bob", NOW)
    assert code_of(lambda: scheduled_events.check_invite(EVENT, "dee", NOW)) is ErrorCode.NOT_ALLOWED
    assert refusal(lambda: scheduled_events.check_invite(event(cancelled_at=NOW), "ada", NOW)).data == {
        "reason": "cancelled"
    }
