"""App layer: the hallway — the live rooms a member may join, ranked, a page at a time.

Visibility is the domain's rule (``can_see``) applied to each live room with the facts loaded in bulk
(``repo_hallway``); the order is the domain's too (``domain.hallway.rank``). Each entry shows the room's title and
topics, a few faces from its stage and the audience size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from salon.app.services import Services
from salon.domain.hallway import HallwayRoom, rank
from salon.domain.rooms import Participant, can_see, participant_data, room_data
from salon.store import repo_hallway as repo

FACES = 3  # speakers shown per room
MAX_PAGE = 50


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    next_offset: int | None


def entry_data(entry: HallwayRoom, stage: list[Participant]) -> dict[str, Any]:
    return {
        "room": room_data(entry.room),
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
    following = offset + len(page)
    return Page(
        [entry_data(e, stages.get(e.room.id, [])) for e in page],
        len(ranked),
        following if following < len(ranked) else None,
    )
