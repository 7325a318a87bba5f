"""Notification preferences (``salon.domain.notification_prefs``): groups off are not written, a pause holds pushes
back until it ends, and what a member may choose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from salon.domain import notification_prefs as rules
from salon.domain.errors import DomainError, ErrorCode
from salon.domain.notification_prefs import DEFAULT, GROUPS, NotificationPrefs

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_every_kind_belongs_to_one_group_and_unknown_kinds_to_none() -> None:
    kinds = [kind for group in GROUPS.values() for kind in group]
    assert len(kinds) == len(set(kinds))
    assert rules.group_of("followed_you") == "people"
    assert rules.group_of("pinged") == "pings"
    assert rules.group_of("followed_speaking") == "followed_rooms"
    assert rules.group_of("event_cancelled") == "events"
    assert rules.group_of("something_new") is None


def test_a_group_turned_off_stops_its_kinds_only() -> None:
    prefs = NotificationPrefs(off=frozenset({"pings"}))
    assert not rules.wants(prefs, "pinged")
    assert rules.wants(prefs, "event_started")
    assert rules.wants(prefs, "something_new")  # a kind outside every group cannot be turned off
    assert all(rules.wants(DEFAULT, kind) for kinds in GROUPS.values() for kind in kinds)


def test_recipients_are_each_once_in_order_without_those_who_turned_the_kind_off() -> None:
    stored = {"b": NotificationPrefs(off=frozenset({"events"})), "c": NotificationPrefs(off=frozenset({"pings"}))}
    assert rules.recipients(["a", "b", "c", "a"], "event_started", stored) == ["a", "c"]
    assert rules.recipients(["c", "b"], "pinged", stored) == ["b"]


def test_a_pause_holds_until_its_end_exclusive() -> None:
    prefs = NotificationPrefs(paused_until=NOW + timedelta(hours=1))
    assert rules.is_paused(prefs, NOW)
    assert rules.is_paused(prefs, NOW + timedelta(minutes=59))
    assert not rules.is_paused(prefs, NOW + timedelta(hours=1))
    assert not rules.is_paused(DEFAULT, NOW)


def test_an_ended_pause_is_shown_as_none_and_a_lasting_one_as_it_is() -> None:
    lasting = NotificationPrefs(frozenset({"events"}), NOW + timedelta(hours=8))
    assert rules.as_of(lasting, NOW) == lasting
    assert rules.as_of(lasting, NOW + timedelta(hours=8)) == NotificationPrefs(frozenset({"events"}), None)
    assert rules.as_of(DEFAULT, NOW) is DEFAULT


def test_choosing_keeps_known_groups_and_stores_the_pause_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    until = datetime(2026, 1, 2, 8, 0, tzinfo=paris)
    chosen = rules.choose(["events", "pings", "events"], until, NOW)
    assert chosen == NotificationPrefs(frozenset({"events", "pings"}), datetime(2026, 1, 2, 7, 0, tzinfo=UTC))
    assert chosen.paused_until is not None
    assert chosen.paused_until.utcoffset() == timedelta(0)
    assert rules.choose([], None, NOW) == DEFAULT
    assert rules.choose([], NOW + rules.PAUSE_MAX, NOW).paused_until == NOW + rules.PAUSE_MAX  # the bound itself


@pytest.mark.parametrize(
    ("off", "until", "field"),
    [
        (["pings", "nope"], None, "off"),
        ([], NOW, "paused_until"),  # must end in the future
        ([], NOW - timedelta(seconds=1), "paused_until"),
        ([], NOW + rules.PAUSE_MAX + timedelta(seconds=1), "paused_until"),
        ([], datetime(2026, 1, 1, 13, 0), "paused_until"),  # no offset
    ],
)
def test_choosing_refuses_what_is_not_allowed(off: list[str], until: datetime | None, field: str) -> None:
    with pytest.raises(DomainError) as refused:
        rules.choose(off, until, NOW)
    assert refused.value.code is ErrorCode.INVALID_INPUT
    assert refused.value.data["field"] == field
