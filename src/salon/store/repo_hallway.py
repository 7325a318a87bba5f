"""Store layer: the hallway's reads — every live room with what one viewer needs to see and rank it, in a fixed
number of queries whatever the number of rooms (a query per room would make 1,000 live rooms thousands of reads).

``HallwayInputs`` holds, for the live rooms, the facts the domain's visibility rule (``domain.rooms.can_see``) asks
about the viewer, as sets of room ids; the app turns each room's facts into an ``Access`` and lets the rule decide.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.rooms import Access, Participant, Role, Room
from salon.store.repo_rooms import _participant, _participants_query, is_admin, live_rooms
from salon.store.tables import blocks, follows, participants, room_access, room_bans, rooms, stage_invites


@dataclass
class HallwayInputs:
    rooms: list[Room]
    viewer_is_admin: bool
    memberships: dict[str, Participant] = field(default_factory=dict)  # the viewer, in the rooms they are in
    banned: set[str] = field(default_factory=set)
    let_in: set[str] = field(default_factory=set)
    invited: set[str] = field(default_factory=set)
    follows_a_moderator: set[str] = field(default_factory=set)
    blocked_by_a_moderator: set[str] = field(default_factory=set)

    def access(self, room_id: str) -> Access:
        return Access(
            is_admin=self.viewer_is_admin,
            banned=room_id in self.banned,
            let_in=room_id in self.let_in,
            stage_invite=room_id in self.invited,
            follows_a_moderator=room_id in self.follows_a_moderator,
            blocked_by_a_moderator=room_id in self.blocked_by_a_moderator,
        )


async def hallway_inputs(conn: AsyncConnection, viewer_id: str) -> HallwayInputs:
    """The live rooms and the viewer's relation to each: 8 queries, whatever the number of rooms."""
    live = await live_rooms(conn)
    out = HallwayInputs(live, await is_admin(conn, viewer_id))
    for target, table in ((out.banned, room_bans), (out.let_in, room_access), (out.invited, stage_invites)):
        rows = await conn.execute(select(table.c.room_id).where(table.c.user_id == viewer_id))
        target.update(r[0] for r in rows)
    for row in (await conn.execute(_participants_query().where(participants.c.user_id == viewer_id))).mappings():
        out.memberships[row["room_id"]] = _participant(row)
    moderators = participants.c.role == Role.MODERATOR.value
    followed = select(follows.c.followee_id).where(follows.c.follower_id == viewer_id)
    rows = await conn.execute(
        select(participants.c.room_id).where(moderators, participants.c.user_id.in_(followed)).distinct()
    )
    out.follows_a_moderator.update(r[0] for r in rows)
    blockers = select(blocks.c.blocker_id).where(blocks.c.blocked_id == viewer_id)
    rows = await conn.execute(
        select(participants.c.room_id).where(moderators, participants.c.user_id.in_(blockers)).distinct()
    )
    out.blocked_by_a_moderator.update(r[0] for r in rows)
    return out


async def headcounts(conn: AsyncConnection) -> dict[str, tuple[int, int]]:
    """(on stage, listening) per live room: one grouped scan of the live rooms' participants (an ``IN`` list of
    hundreds of ids was several times slower on SQLite)."""
    listening = participants.c.role == Role.LISTENER.value
    query = (
        select(participants.c.room_id, listening.label("listening"), func.count())
        .join(rooms, rooms.c.id == participants.c.room_id)
        .where(rooms.c.ended_at.is_(None))
        .group_by(participants.c.room_id, listening)
    )
    counts: dict[str, tuple[int, int]] = {}
    for room_id, is_listener, count in await conn.execute(query):
        on_stage, listeners = counts.get(room_id, (0, 0))
        counts[room_id] = (on_stage, count) if is_listener else (count, listeners)
    return counts


async def followed_on_stage(conn: AsyncConnection, viewer_id: str) -> dict[str, int]:
    """How many people the viewer follows are on stage, per room (rooms with none left out; ended rooms hold no
    participants). Starts from the viewer's follows, so it reads only their rows."""
    followed = select(follows.c.followee_id).where(follows.c.follower_id == viewer_id)
    query = (
        select(participants.c.room_id, func.count())
        .where(participants.c.user_id.in_(followed), participants.c.role != Role.LISTENER.value)
        .group_by(participants.c.room_id)
    )
    return {room_id: count for room_id, count in await conn.execute(query)}


async def stages(conn: AsyncConnection, room_ids: list[str]) -> dict[str, list[Participant]]:
    """Everyone on stage in these rooms, in stage order (longest there first)."""
    if not room_ids:
        return {}
    query = _participants_query().where(
        participants.c.room_id.in_(room_ids), participants.c.role != Role.LISTENER.value
    )
    out: dict[str, list[Participant]] = defaultdict(list)
    for row in (await conn.execute(query)).mappings():
        p = _participant(row)
        out[p.room_id].append(p)
    for on_stage in out.values():
        on_stage.sort(key=lambda p: (p.stage_since or p.joined_at, p.user_id))
    return out
