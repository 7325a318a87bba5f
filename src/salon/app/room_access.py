"""App layer: "may this member reach this room?" — fetched and authorised in one step, as Zulip's
``access_stream_by_id`` does, so that no use case loads a room by id and forgets to ask.

The rule is the domain's (``domain/rooms.check_room_access``); this module only loads the facts it needs, inside the
caller's transaction. A room the member may not know about is ``not_found``, never a hint that it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.rooms import Access, Participant, Room, RoomNeed, check_room_access
from salon.store import repo_rooms as repo


@dataclass(frozen=True)
class RoomAccess:
    """A room as one member reaches it: the room, its last event ``seq``, and the member's relation to it."""

    room: Room
    seq: int
    access: Access
    participant: Participant | None


async def access_room(
    conn: AsyncConnection, room_id: str, member_id: str, need: RoomNeed, *, lock: bool = False
) -> RoomAccess:
    """The room, if ``member_id`` may reach it for ``need``; else the domain's refusal. ``lock`` takes the room row
    for the rest of a write transaction (commands)."""
    found, access, participant = await load_room_facts(conn, room_id, member_id, lock=lock)
    room = check_room_access(found[0] if found else None, access, participant, need)
    assert found is not None  # check_room_access refuses a missing room
    return RoomAccess(room, found[1], access, participant)


async def load_room_facts(
    conn: AsyncConnection, room_id: str, member_id: str, *, lock: bool = False
) -> tuple[tuple[Room, int] | None, Access, Participant | None]:
    """What any rule about one member and one room starts from, unchecked: for a rule stricter than reaching the
    room (who may read its moderation log) that applies the room rule itself."""
    found = await repo.get_room(conn, room_id, lock=lock)
    if found is None:
        return None, Access(), None
    return found, await repo.load_access(conn, room_id, member_id), await repo.get_participant(conn, room_id, member_id)
