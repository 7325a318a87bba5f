"""App layer: leaving every room at once — what happens to a member who went away for good (web/presence.py
decides when)."""

from __future__ import annotations

from salon.app import stage
from salon.app.services import Services
from salon.domain.errors import DomainError
from salon.store import repo_rooms


async def leave_all_rooms(services: Services, user_id: str) -> list[str]:
    """Leave quietly every room the member is in; the rooms left (one that ended meanwhile is skipped)."""
    async with services.db.read() as conn:
        room_ids = await repo_rooms.rooms_of_user(conn, user_id)
    left = []
    for room_id in room_ids:
        try:
            await stage.leave(services, user_id, room_id)
        except DomainError:
            continue
        left.append(room_id)
    return left
