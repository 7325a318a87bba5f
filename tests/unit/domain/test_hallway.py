"""The hallway's order: people you follow on stage first, then the busier room, then the newer one."""

from __future__ import annotations

from salon.domain.hallway import HallwayRoom, WatcherDiff, rank, watcher_diff
from tests.support.domain import at, room


def entry(room_id: str, *, listeners: int = 0, followed: int = 0, created: int = 0) -> HallwayRoom:
    return HallwayRoom(room(id=room_id, created_at=at(created)), 1, listeners, followed)


def test_rooms_with_people_you_follow_on_stage_come_first_then_the_busiest() -> None:
    quiet_friends = entry("friends", listeners=1, followed=2)
    other_friends = entry("more-friends", listeners=5, followed=1)
    busy = entry("busy", listeners=500)
    small = entry("small", listeners=3)
    assert [e.room.id for e in rank([small, busy, quiet_friends, other_friends])] == [
        "more-friends",
        "friends",
        "busy",
        "small",
    ]


def test_ties_go_to_the_newer_room_then_the_id() -> None:
    old, new, twin = entry("a-old", created=0), entry("b-new", created=5), entry("c-new", created=5)
    assert [e.room.id for e in rank([twin, old, new])] == ["b-new", "c-new", "a-old"]
    assert new.audience == 1


def test_a_watcher_is_shown_the_changed_rooms_it_may_see_and_loses_only_rooms_it_was_shown() -> None:
    changed = ["new", "fuller", "hidden", "ended-seen", "ended-unseen", "past-the-page", "friend-on-stage"]
    visible = {"new", "fuller", "past-the-page", "friend-on-stage"}
    diff = watcher_diff(changed, visible, {"fuller", "ended-seen"}, {"new", "friend-on-stage"})
    assert diff == WatcherDiff(("new", "fuller", "friend-on-stage"), ("ended-seen",))
    assert diff, "something to send"
    assert not watcher_diff(["hidden"], set(), set(), {"hidden"}), "a room it may not see is never named to it"
    assert not watcher_diff(["past-the-page"], {"past-the-page"}, set(), set()), "its counts alone are not pushed"
