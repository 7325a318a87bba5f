"""Store layer: what the live hallway needs, once a tick, about the rooms that changed — for every watcher at once.

``repo_hallway`` reads the whole hallway for one viewer; this module reads a few rooms for many viewers: each
changed room's card (counts, stage) and, per room, the sets of members whose relation to it is not an outsider's
(banned, let in, invited up, following a moderator, blocked by one, admins, people inside). A fixed number of
queries whatever the number of watchers; the app applies the domain's visibility rule to those sets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from salon.domain.rooms import Participant, Role, Room
from salon.store.repo_hallway import stages
from salon.store.repo_rooms import _room
from salon.store.tables import blocks, follows, participants, room_access, room_bans, rooms, stage_invites, users

IN_CHUNK = 500  # ids per IN (...) list: SQLite caps bound parameters


@dataclass
class ChangedRooms:
    """The changed rooms that are still live, and every fact the visibility rule and the cards need about them."""

    rooms: dict[str, Room]
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # (on stage, listening)
    stage: dict[str, list[Participant]] = field(default_factory=dict)  # in stage order
    admins: set[str] = field(default_factory=set)
    banned: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    let_in: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    invited: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    invited_as_moderator: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    follows_a_moderator: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    blocked_by_a_moderator: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    inside: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # watchers who are in the room
    followed_on_stage: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # room → watcher


def _chunks(ids: Collection[str]) -> Iterable[list[str]]:
    items = sorted(ids)
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


async def changed_rooms(conn: AsyncConnection, room_ids: Collection[str], watchers: Collection[str]) -> ChangedRooms:
    """The facts for ``room_ids`` (ended or unknown ones left out) as ``watchers`` see them: 10 queries, plus one
    per 500 watchers for who is inside, whatever the number of rooms changed."""
    out = ChangedRooms({})
    if not room_ids:
        return out
    ids = sorted(room_ids)
    rows = (await conn.execute(select(rooms).where(rooms.c.id.in_(ids), rooms.c.ended_at.is_(None)))).mappings()
    out.rooms = {r["id"]: _room(r) for r in rows}
    if not out.rooms:
        return out
    live = list(out.rooms)
    listening = participants.c.role == Role.LISTENER.value
    query = (
        select(participants.c.room_id, listening.label("listening"), func.count())
        .where(participants.c.room_id.in_(live))
        .group_by(participants.c.room_id, listening)
    )
    for room_id, is_listener, count in await conn.execute(query):
        on_stage, listeners = out.counts.get(room_id, (0, 0))
        out.counts[room_id] = (on_stage, count) if is_listener else (count, listeners)
    out.stage = await stages(conn, live)
    moderators: dict[str, set[str]] = defaultdict(set)
    for room_id, people in out.stage.items():
        moderators[room_id].update(p.user_id for p in people if p.role is Role.MODERATOR)
    out.admins = {r[0] for r in await conn.execute(select(users.c.id).where(users.c.is_admin.is_(True)))}
    for target, table in ((out.banned, room_bans), (out.let_in, room_access)):
        for room_id, user_id in await conn.execute(
            select(table.c.room_id, table.c.user_id).where(table.c.room_id.in_(live))
        ):
            target[room_id].add(user_id)
    query_invites = select(stage_invites.c.room_id, stage_invites.c.user_id, stage_invites.c.as_moderator)
    for room_id, user_id, as_moderator in await conn.execute(query_invites.where(stage_invites.c.room_id.in_(live))):
        out.invited[room_id].add(user_id)
        if as_moderator:
            out.invited_as_moderator[room_id].add(user_id)
    every_moderator = set().union(*moderators.values())
    watching = set(watchers)
    # Only watchers' rows matter; a moderator followed by many more members than watch costs those rows (indexed).
    rooms_of: dict[str, list[str]] = defaultdict(list)
    for room_id, mods in moderators.items():
        for user_id in mods:
            rooms_of[user_id].append(room_id)
    if every_moderator:
        query = select(blocks.c.blocker_id, blocks.c.blocked_id).where(blocks.c.blocker_id.in_(every_moderator))
        for blocker, blocked in await conn.execute(query):
            for room_id in rooms_of[blocker]:
                out.blocked_by_a_moderator[room_id].add(blocked)
    on_stage_of: dict[str, list[str]] = defaultdict(list)
    for room_id, people in out.stage.items():
        for p in people:
            on_stage_of[p.user_id].append(room_id)
    if on_stage_of:
        query = select(follows.c.follower_id, follows.c.followee_id).where(follows.c.followee_id.in_(list(on_stage_of)))
        for follower, followee in await conn.execute(query):
            if follower not in watching:
                continue
            for room_id in on_stage_of[followee]:
                counted = out.followed_on_stage[room_id]
                counted[follower] = counted.get(follower, 0) + 1
                if followee in moderators[room_id]:
                    out.follows_a_moderator[room_id].add(follower)
    for chunk in _chunks(watching):
        query = select(participants.c.room_id, participants.c.user_id).where(
            participants.c.room_id.in_(live), participants.c.user_id.in_(chunk)
        )
        for room_id, user_id in await conn.execute(query):
            out.inside[room_id].add(user_id)
    return out
