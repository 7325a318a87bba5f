"""Domain layer: the hallway — which live rooms a member is shown first.

Clubhouse's rooms were found through people: a room where someone you follow is on stage comes before any other,
then the busier room before the quieter one; ties go to the newer room, then the id, so pages never overlap.
An open hallway is kept current by diffs (``watcher_diff``): which changed rooms a watcher is shown or loses.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from salon.domain.rooms import Room, RoomEventName


@dataclass(frozen=True)
class HallwayRoom:
    """One live room as the hallway ranks it: how many are on stage and listening, and how many of the people on
    stage the viewer follows."""

    room: Room
    speaker_count: int
    listener_count: int
    followed_on_stage: int

    @property
    def audience(self) -> int:
        return self.speaker_count + self.listener_count


def rank_key(entry: HallwayRoom) -> tuple[int, int, float, str]:
    created: datetime = entry.room.created_at
    return (-min(entry.followed_on_stage, 1), -entry.audience, -created.timestamp(), entry.room.id)


def rank(entries: list[HallwayRoom]) -> list[HallwayRoom]:
    """Rooms with someone the viewer follows on stage first; then by audience size, newest, id."""
    return sorted(entries, key=rank_key)


# The room events that change what a room's hallway card shows (its stage, its counts) or whether it is still live.
HALLWAY_EVENTS: frozenset[RoomEventName] = frozenset(
    {"participant_joined", "participant_left", "role_changed", "listener_count", "audience_batched", "room_ended"}
)


@dataclass(frozen=True)
class WatcherDiff:
    """What one hallway watcher is sent for a tick: the changed rooms it may see (to show or refresh) and the rooms
    it was shown that it may no longer see or that ended (to take away)."""

    show: tuple[str, ...]
    remove: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.show or self.remove)


def watcher_diff(
    changed: Iterable[str], visible: Collection[str], shown: Collection[str], wanted: Collection[str]
) -> WatcherDiff:
    """The diff for one watcher. ``visible``: the changed rooms still live that the watcher may see now;
    ``shown``: the rooms it was shown so far; ``wanted``: rooms to show it even though it was not shown them (rooms
    that just opened, rooms where someone it follows is on stage).

    A room the watcher may not see is never named to it (a room that ended or was hidden unseen stays unknown, id
    included). A room it may see but was not shown and does not want — one past the page it was given, whose
    counts changed — is not sent either: its hallway is its page plus the rooms opened since, and what a watcher
    is sent per tick stays bounded by what it shows, however many rooms change."""
    show: list[str] = []
    remove: list[str] = []
    for room_id in changed:
        if room_id in visible:
            if room_id in shown or room_id in wanted:
                show.append(room_id)
        elif room_id in shown:
            remove.append(room_id)
    return WatcherDiff(tuple(show), tuple(remove))
