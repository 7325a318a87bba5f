"""App layer: search — members by username or display name, live rooms by title or topics; rooms and events may be
filtered by language (a room's floor or one of its interpretation channels, an event's the same), with or without
a text.

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
from salon.domain.interpretation import RoomLanguages, check_language
from salon.domain.scheduled_events import LAPSE_AFTER
from salon.domain.text import check_text
from salon.store import repo_hallway, repo_interpretation, repo_scheduled_events, repo_search

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


def _speaks(languages: RoomLanguages | None, language: str | None) -> bool:
    return language is None or (languages is not None and language in (languages.floor, *languages.channels))


async def search(
    services: Services,
    viewer_id: str,
    text: str | None,
    limit: int = MAX_RESULTS,
    *,
    is_admin: bool = False,
    language: str | None = None,
) -> Results:
    """``text`` or ``language`` or both; with a language, only rooms and events in it (members have none)."""
    tag = check_language(language) if language is not None else None
    if text is None and tag is None:
        raise refuse(ErrorCode.INVALID_INPUT, "Search for a text, a language, or both.", field="q")
    query = _normalised(text) if text is not None else ""
    limit = max(1, min(limit, MAX_RESULTS))
    folded = query.casefold()
    now = services.clock.now()
    async with services.db.read() as conn:
        people = await repo_search.find_members(conn, viewer_id, query, limit) if tag is None else []
        upcoming = await repo_scheduled_events.upcoming(
            conn, viewer_id, is_admin, now - LAPSE_AFTER, None, EVENT_CANDIDATES
        )
        event_languages = await repo_interpretation.events_languages(conn, [e.id for e in upcoming]) if tag else {}
        matching = [
            e for e in upcoming if _matches(folded, e.title, e.topics) and _speaks(event_languages.get(e.id), tag)
        ]
        found_events = await scheduled_events.views(conn, matching[:limit], viewer_id, now)
    live = [
        e
        for e in await hallway.visible_live_rooms(services, viewer_id)
        if _matches(folded, e.room.title, e.room.topics)
    ]
    async with services.db.read() as conn:
        languages = await repo_interpretation.languages_of(conn, [e.room.id for e in live])
        rooms = [e for e in live if _speaks(languages.get(e.room.id), tag)][:limit]
        stages = await repo_hallway.stages(conn, [e.room.id for e in rooms])
    return Results(
        members=[
            {"id": p.user_id, "username": p.username, "display_name": p.display_name, "avatar_url": p.avatar_url}
            for p in people
        ],
        rooms=[hallway.entry_data(e, stages.get(e.room.id, []), languages.get(e.room.id)) for e in rooms],
        events=found_events,
    )
