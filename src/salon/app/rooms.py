"""App layer: use cases for rooms as a whole — create, list, read a snapshot, resume a stream, end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from salon.app.follow_notices import tell_followers
from salon.app.interpretation_media import open_channels
from salon.app.notifications import publish
from salon.app.ports import RoomMessage
from salon.app.room_access import access_room
from salon.app.room_commands import Context, Result, presence_deadline, run_command, save_outcome
from salon.app.services import Services
from salon.domain import notices
from salon.domain import stage as rules
from salon.domain.errors import ErrorCode, refuse
from salon.domain.interpretation import (
    DEFAULT_DUCKING_DB,
    Interpretation,
    RoomLanguages,
    interpretation_data,
    relanguage,
)
from salon.domain.room_view import Snapshot, snapshot
from salon.domain.rooms import (
    Access,
    Outcome,
    Participant,
    Role,
    Room,
    RoomType,
    can_see,
    clean_room_fields,
    no_such_room,
    participant_data,
    room_data,
)
from salon.store import repo_interpretation, repo_presence, repo_social
from salon.store import repo_rooms as repo


@dataclass(frozen=True)
class NewRoom:
    title: str
    description: str
    topics: list[str]
    type: RoomType
    capacity: int | None = None
    languages: RoomLanguages | None = None  # checked (domain.interpretation.check_room_languages)
    ducking_db: int = DEFAULT_DUCKING_DB

    @property
    def interpretation(self) -> Interpretation | None:
        return relanguage(None, self.languages, self.ducking_db) if self.languages is not None else None


async def create_room(services: Services, creator_id: str, spec: NewRoom) -> Snapshot:
    """Open a room; its creator is a moderator on stage. The creator's followers who may see it are told
    (``followed_started_room``, bounded: ``domain/notices.py``)."""
    async with services.db.transaction() as conn:
        room, creator = await insert_new_room(services, conn, creator_id, spec)
        notes = await tell_followers(services, conn, room, creator.user, notices.STARTED_ROOM)
    await open_room_media(services, room, creator_id, spec.interpretation)
    await publish(services, notes)
    return snapshot(room, [creator], 0, interpretation_data(spec.interpretation))


async def insert_new_room(
    services: Services, conn: AsyncConnection, creator_id: str, spec: NewRoom
) -> tuple[Room, Participant]:
    """The database half of :func:`create_room`, inside the caller's transaction (starting a scheduled event opens
    its room in the transaction that marks it started); call :func:`open_room_media` after the commit."""
    title, description, topics, capacity = clean_room_fields(
        spec.title, spec.description, spec.topics, spec.capacity, services.settings.room_capacity
    )
    now = services.clock.now()
    room = Room(
        id=services.ids.new_id(),
        title=title,
        description=description,
        topics=topics,
        type=spec.type,
        capacity=capacity,
        hands_enabled=True,
        created_by=creator_id,
        created_at=now,
    )
    profile = await repo.get_profile(conn, creator_id)
    if profile is None:
        raise refuse(ErrorCode.NOT_AUTHENTICATED, "Log in first.")
    await repo.insert_room(conn, room)
    if spec.languages is not None:
        await repo_interpretation.save(conn, room.id, spec.interpretation)
    creator = Participant(room.id, profile, Role.MODERATOR, now, stage_since=now, muted=True)
    await repo.save_participants(conn, [creator], set())
    await repo_presence.renew(conn, room.id, creator_id, presence_deadline(services, now))
    return room, creator


async def open_room_media(
    services: Services, room: Room, creator_id: str, interpretation: Interpretation | None = None
) -> None:
    await services.media.create_room(room.id)
    await services.media.admit(room.id, creator_id, "speaker", True)
    await open_channels(services, room.id, interpretation)
    await services.bus.room_opened(room.id)


async def _access(conn: AsyncConnection, room_id: str, user_id: str) -> tuple[Access, Participant | None]:
    return await repo.load_access(conn, room_id, user_id), await repo.get_participant(conn, room_id, user_id)


async def get_snapshot(services: Services, viewer_id: str, room_id: str) -> Snapshot:
    """The room as a client starts from; its ``seq`` is the last event already reflected."""
    async with services.db.read() as conn:
        reached = await access_room(conn, room_id, viewer_id, "see")
        room, seq = reached.room, reached.seq
        people = await repo.visible_participants(conn, room_id, room.audience_batched)
        listeners = await repo.headcount(conn, room_id, role=Role.LISTENER)
        interpretation = await repo_interpretation.load(conn, room_id)
    view = snapshot(room, people, seq, interpretation_data(interpretation))
    view["listener_count"] = listeners
    return view


FOLLOWED_BY_STAGE_MAX = 500  # more than a phone shows before "and N others"


async def followed_by_stage(services: Services, viewer_id: str, room_id: str) -> list[str]:
    """The listeners whom someone on the stage follows: the audience's first row ("followed by the speakers").
    Visible to whoever may see the room."""
    async with services.db.read() as conn:
        await access_room(conn, room_id, viewer_id, "see")
        return await repo_social.listeners_followed_by_stage(conn, room_id, FOLLOWED_BY_STAGE_MAX)


async def list_live_rooms(services: Services, viewer_id: str) -> list[dict[str, Any]]:
    """Live rooms this member may see, busiest first, with the stage and the audience size."""
    out: list[dict[str, Any]] = []
    async with services.db.read() as conn:
        for room in await repo.live_rooms(conn):
            access, participant = await _access(conn, room.id, viewer_id)
            if not can_see(room, access, participant):
                continue
            on_stage = await repo.stage(conn, room.id)
            on_stage.sort(key=lambda p: (p.stage_since or p.joined_at, p.user_id))
            listeners = await repo.headcount(conn, room.id, role=Role.LISTENER)
            out.append(
                {
                    "room": room_data(room),
                    "stage": [participant_data(p) for p in on_stage[:8]],
                    "speaker_count": len(on_stage),
                    "listener_count": listeners,
                }
            )
    out.sort(key=lambda r: -(r["speaker_count"] + r["listener_count"]))
    return out


@dataclass(frozen=True)
class Missed:
    """Events after a client's last seq, or ``resync`` when they left the retained window."""

    messages: list[RoomMessage]
    resync: bool
    seq: int


async def events_since(services: Services, viewer_id: str, room_id: str, after: int) -> Missed:
    async with services.db.read() as conn:
        seq = (await access_room(conn, room_id, viewer_id, "follow")).seq  # as subscribing: the removed read no more
        if after > seq or after < 0:
            return Missed([], True, seq)
        if after == seq:
            return Missed([], False, seq)
        oldest = await repo.oldest_retained_seq(conn, room_id)
        if oldest is None or oldest > after + 1:
            return Missed([], True, seq)
        rows = await repo.events_after(conn, room_id, after)
    return Missed([RoomMessage(room_id, s, n, d) for s, n, d in rows], False, seq)


async def committed_events_after(services: Services, room_id: str, after: int) -> list[RoomMessage]:
    """The room's retained events after ``after``, in order: what an instance's event bus fills a gap with when a
    bus message went missing (adapters/redis_bus). No viewer: the hub only delivers to connections it admitted."""
    async with services.db.read() as conn:
        rows = await repo.events_after(conn, room_id, after)
    return [RoomMessage(room_id, s, n, d) for s, n, d in rows]


async def end_room(services: Services, actor_id: str, room_id: str) -> Result:
    def decide(ctx: Context) -> Outcome:
        return rules.end_room(ctx.room, actor_id, ctx.actor, ctx.actor_is_admin, ctx.stage, services.clock.now())

    return await run_command(services, room_id, actor_id, decide)


async def end_room_as_operator(services: Services, room_id: str) -> None:
    """``salon room end``: an operator ends a room without being in it."""
    now = services.clock.now()
    async with services.db.transaction() as conn:
        found = await repo.get_room(conn, room_id, lock=True)
        if found is None:
            raise no_such_room()
        room, seq = found
        outcome = rules.end_room(room, None, None, True, await repo.stage(conn, room_id), now)
        messages = await save_outcome(services, conn, room, seq, outcome, "", now)
    await services.bus.publish_room(messages)
    await services.media.destroy_room(room_id)


async def list_rooms_for_operator(services: Services) -> list[dict[str, Any]]:
    async with services.db.read() as conn:
        rooms = await repo.live_rooms(conn)
        return [{**room_data(r), "people": await repo.headcount(conn, r.id)} for r in rooms]
