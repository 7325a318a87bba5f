"""App layer: search — members by username or display name, live rooms by title or topics.

Results respect visibility exactly as the hallway does (a closed room one was not let into never shows; rooms come
from ``hallway.visible_live_rooms``, ranked the same way), and nobody who blocked the searcher is found. Scheduled
events join the results once they exist (issue "People find each other").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from salon.adapters.db import repo_search
from salon.app import hallway
from salon.app.services import Services
from salon.domain.errors import ErrorCode, refuse

MIN_QUERY, MAX_QUERY = 2, 100
MAX_RESULTS = 20


@dataclass(frozen=True)
class Results:
    members: list[dict[str, Any]]
    rooms: list[dict[str, Any]]


def _normalised(text: str) -> str:
    query = " ".join(text.split())
    if not MIN_QUERY <= len(query) <= MAX_QUERY:
        raise refuse(
            ErrorCode.INVALID_INPUT,
            f"Search for {MIN_QUERY} to {MAX_QUERY} characters.",
            min_length=MIN_QUERY,
            max_length=MAX_QUERY,
        )
    return query


async def search(services: Services, viewer_id: str, text: str, limit: int = MAX_RESULTS) -> Results:
    query = _normalised(text)
    limit = max(1, min(limit, MAX_RESULTS))
    async with services.db.read() as conn:
        people = await repo_search.find_members(conn, viewer_id, query, limit)
    folded = query.casefold()
    rooms = [
        entry
        for entry in await hallway.visible_live_rooms(services, viewer_id)
        if folded in entry.room.title.casefold() or any(folded in t.casefold() for t in entry.room.topics)
    ][:limit]
    return Results(
        members=[
            {"id": p.user_id, "username": p.username, "display_name": p.display_name, "avatar_url": p.avatar_url}
            for p in people
        ],
        rooms=[hallway.entry_data(entry, []) for entry in rooms],
    )
