"""Domain layer: the hallway — which live rooms a member is shown first.

Clubhouse's rooms were found through people: a room where someone you follow is on stage comes before any other,
then the busier room before the quieter one; ties go to the newer room, then the id, so pages never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from salon.domain.rooms import Room


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
