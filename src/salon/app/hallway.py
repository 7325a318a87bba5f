"""App layer: the hallway — the live rooms a member may join, ranked, a page at a time.

Visibility is the domain's rule (``can_see``) applied to each live room with the facts loaded in bulk
(``repo_hallway``); the order is the domain's too (``domain.hallway.rank``). Each entry shows the room's title and
topics, its languages (floor and interpretation channels), a few faces from its stage and the audience size.
``room_changes`` serves the live hallway (``web/hallway_live.py``): the cards of the rooms that changed, and who
among many watchers may see each.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from salon.app.services import Services
from salon.domain.hallway import HallwayRoom, rank
from salon.domain.interpretation import RoomLanguages, languages_data
from salon.domain.rooms import Access, Participant, Profile, Role, can_see, participant_data, room_data
from salon.store import repo_hallway as repo
from salon.store import repo_hallway_watch as watch_repo
from salon.store import repo_interpretation

FACES = 3  # speakers shown per room
MAX_PAGE = 50


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    next_offset: int | None


def entry_data(entry: HallwayRoom, stage: list[Participant], languages: RoomLanguages | None = None) -> dict[str, Any]:
    return {
        "room": room_data(entry.room),
        "languages": languages_data(languages.floor, languages.channels) if languages is not None else None,
        "speakers": [participant_data(p) for p in stage[:FACES]],
        "speaker_count": entry.speaker_count,
        "listener_count": entry.listener_count,
        "followed_on_stage": entry.followed_on_stage,
    }


async def visible_live_rooms(services: Services, viewer_id: str) -> list[HallwayRoom]:
    """Every live room the member may see, ranked for them."""
    async with services.db.read() as conn:
        inputs = await repo.hallway_inputs(conn, viewer_id)
        visible = [r for r in inputs.rooms if can_see(r, inputs.access(r.id), inputs.memberships.get(r.id))]
        counts = await repo.headcounts(conn)
        followed = await repo.followed_on_stage(conn, viewer_id)
    return rank([HallwayRoom(room, *counts.get(room.id, (0, 0)), followed.get(room.id, 0)) for room in visible])


async def live_rooms_page(services: Services, viewer_id: str, offset: int, limit: int) -> Page:
    """One page of the ranked hallway, with the faces on each room's stage (loaded for that page only)."""
    ranked = await visible_live_rooms(services, viewer_id)
    limit = max(1, min(limit, MAX_PAGE))
    page = ranked[offset : offset + limit]
    async with services.db.read() as conn:
        stages = await repo.stages(conn, [e.room.id for e in page])
        languages = await repo_interpretation.languages_of(conn, [e.room.id for e in page])
    following = offset + len(page)
    return Page(
        [entry_data(e, stages.get(e.room.id, []), languages.get(e.room.id)) for e in page],
        len(ranked),
        following if following < len(ranked) else None,
    )


# --- the live hallway: what changed rooms look like to many watchers at once --------------------------------------


@dataclass(frozen=True)
class RoomChange:
    """A changed live room as the watchers see it: its card, and who may see it. Visibility is stored as the answer
    for a member with no relation to the room plus the watchers for whom the answer differs, so that a tick costs
    set lookups per watcher rather than a rule evaluation per watcher and room."""

    entry: dict[str, Any]  # the card, with ``followed_on_stage`` 0 (each watcher's count is in ``followed``)
    seen_by_outsiders: bool
    exceptions: frozenset[str]
    followed: dict[str, int]

    def visible_to(self, user_id: str) -> bool:
        return (user_id in self.exceptions) != self.seen_by_outsiders

    def entry_for(self, user_id: str) -> dict[str, Any]:
        followed = self.followed.get(user_id, 0)
        return self.entry if not followed else {**self.entry, "followed_on_stage": followed}


async def room_changes(
    services: Services, room_ids: Collection[str], watchers: Collection[str]
) -> dict[str, RoomChange]:
    """The changed rooms that are still live, each with its card and who among ``watchers`` may see it (the
    domain's ``can_see``, asked once for outsiders and once per watcher with a relation to the room). A room absent
    from the answer ended (or never existed): whoever was shown it is told it is gone."""
    async with services.db.read() as conn:
        facts = await watch_repo.changed_rooms(conn, room_ids, watchers)
        languages = await repo_interpretation.languages_of(conn, facts.rooms)
    watching = set(watchers)
    out: dict[str, RoomChange] = {}
    for room_id, room in facts.rooms.items():
        on_stage, listening = facts.counts.get(room_id, (0, 0))
        stage = facts.stage.get(room_id, [])
        entry = entry_data(HallwayRoom(room, on_stage, listening, 0), stage, languages.get(room_id))
        outsiders = can_see(room, Access(), None)
        related = (
            (facts.admins & watching)
            | facts.banned[room_id]
            | facts.let_in[room_id]
            | facts.invited[room_id]
            | facts.follows_a_moderator[room_id]
            | facts.blocked_by_a_moderator[room_id]
            | facts.inside[room_id]
        ) & watching
        exceptions = frozenset(
            user_id
            for user_id in related
            if can_see(room, _access(facts, room_id, user_id), _inside(facts, room_id, user_id)) != outsiders
        )
        out[room_id] = RoomChange(entry, outsiders, exceptions, facts.followed_on_stage.get(room_id, {}))
    return out


def _access(facts: watch_repo.ChangedRooms, room_id: str, user_id: str) -> Access:
    return Access(
        is_admin=user_id in facts.admins,
        banned=user_id in facts.banned[room_id],
        let_in=user_id in facts.let_in[room_id],
        stage_invite=user_id in facts.invited[room_id],
        follows_a_moderator=user_id in facts.follows_a_moderator[room_id],
        blocked_by_a_moderator=user_id in facts.blocked_by_a_moderator[room_id],
        invited_as_moderator=user_id in facts.invited_as_moderator[room_id],
    )


def _inside(facts: watch_repo.ChangedRooms, room_id: str, user_id: str) -> Participant | None:
    """``can_see`` only asks whether the member is inside; the stage's own record when they are on it."""
    if user_id not in facts.inside[room_id]:
        return None
    for p in facts.stage.get(room_id, []):
        if p.user_id == user_id:
            return p
    room = facts.rooms[room_id]
    return Participant(room_id, Profile(user_id, "", ""), Role.LISTENER, room.created_at)
