"""App layer: search — members by username or display name, live rooms by title or topics.

Results respect visibility exactly as the hallway and the events list do (a closed room one was not let into never
shows; rooms come from ``hallway.visible_live_rooms``, ranked the same way; events from
``repo_scheduled_events.upcoming``, soonest first), and nobody who blocked the searcher is found. Events are matched
among the next ``EVENT_CANDIDATES`` upcoming ones the searcher may see: search looks ahead, it is not an archive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from salon.app import hallway, scheduled_events
from salon.app.services import Services
from salon.domain.errors import ErrorCode, refuse
from salon.domain.scheduled_events import LAPSE_AFTER
from salon.domain.text import check_text
from salon.store import repo_hallway, repo_scheduled_events, repo_search

MIN_QUERY, MAX_QUERY = 2, 100
MAX_RESULTS = 20
EVENT_CANDIDATES = 500


@dataclass(frozen=True)
class Results:
    members: list[dict[str, Any]]
    rooms: list[dict[str, Any]]
    events: list[scheduled_events.EventView]


def _normalised(text: str) -> str:
    query = " ".join(check_text(text, "q").split())
    if not MIN_QUERY <= len(query) <= MAX_QUERY:
        raise refuse(
            ErrorCode.INVALID_INPUT,
            f"Search for {MIN_QUERY} to {MAX_QUERY} characters.",
            min_length=MIN_QUERY,
            max_length=MAX_QUERY,
        )
    return query


def _matches(folded: str, title: str, topics: Sequence[str]) -> bool:
    return folded in title.casefold() or any(folded in t.casefold() for t in topics)


async def search(
    services: Services, viewer_id: str, text: str, limit: int = MAX_RESULTS, *, is_admin: bool = False
) -> Results:
    query = _normalised(text)
    limit = max(1, min(limit, MAX_RESULTS))
    folded = query.casefold()
    now = services.clock.now()
    async with services.db.read() as conn:
        people = await repo_search.find_members(conn, viewer_id, query, limit)
        upcoming = await repo_scheduled_events.upcoming(
            conn, viewer_id, is_admin, now - LAPSE_AFTER, None, EVENT_CANDIDATES
        )
        found_events = await scheduled_events.views(
            conn, [e for e in upcoming if _matches(folded, e.title, e.topics)][:limit], viewer_id, now
        )
    rooms = [
        entry
        for entry in await hallway.visible_live_rooms(services, viewer_id)
        if _matches(folded, entry.room.title, entry.room.topics)
    ][:limit]
    async with services.db.read() as conn:
        stages = await repo_hallway.stages(conn, [e.room.id for e in rooms])
    return Results(
        members=[
            {"id": p.user_id, "username": p.username, "display_name": p.display_name, "avatar_url": p.avatar_url}
            for p in people
        ],
        rooms=[hallway.entry_data(entry, stages.get(entry.room.id, [])) for entry in rooms],
        events=found_events,
    )
