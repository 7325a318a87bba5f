"""App layer: following a room's live stream — who may, and where a client starts from.

A client starts from a snapshot, or, when it resumes with the last ``seq`` it applied, from the events it missed;
when those left the retained window (or the ``seq`` makes no sense) it gets ``resync`` and a fresh snapshot. The
web layer registers the subscription *before* calling :func:`start_stream` and replays what was published meanwhile
with a ``seq`` above :attr:`StreamStart.seq`, so nothing falls between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from salon.app import rooms
from salon.app.ports import RoomMessage
from salon.app.room_access import access_room
from salon.app.services import Services
from salon.domain.room_view import Snapshot
from salon.domain.rooms import ROOM_ENDED


@dataclass(frozen=True)
class StreamStart:
    """What to send first: a snapshot (after a ``resync`` notice when ``resync``), or the missed events in order.
    ``seq`` is the last event reflected; ``ended`` says the room is over, so there is nothing live to follow."""

    seq: int
    snapshot: Snapshot | None = None
    resync: bool = False
    missed: list[RoomMessage] = field(default_factory=list)
    ended: bool = False


async def check_can_follow(services: Services, viewer_id: str, room_id: str) -> bool:
    """Refuse with ``not_found`` when the member may not know the room exists, ``removed_from_room`` when they were
    removed from it. Whether the room has ended."""
    async with services.db.read() as conn:
        return (await access_room(conn, room_id, viewer_id, "follow")).room.ended


async def start_stream(services: Services, viewer_id: str, room_id: str, last_seq: int | None) -> StreamStart:
    """Where a subscriber starts: the missed events after ``last_seq``, or a snapshot (``resync`` when resuming
    was asked for but is not possible)."""
    ended = await check_can_follow(services, viewer_id, room_id)
    if last_seq is not None:
        missed = await rooms.events_since(services, viewer_id, room_id, last_seq)
        if not missed.resync:
            ended = ended or any(m.name == ROOM_ENDED for m in missed.messages)
            return StreamStart(seq=missed.seq, missed=missed.messages, ended=ended)
    view = await rooms.get_snapshot(services, viewer_id, room_id)
    return StreamStart(
        seq=view["seq"], snapshot=view, resync=last_seq is not None, ended=view["room"]["ended_at"] is not None
    )
