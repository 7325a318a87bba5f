"""App layer: interpretation channels — a room's languages, its interpreters, their booths' floor, and what a member
hears (the Original or a channel).

Each command loads the room (locked) and its interpretation, asks ``domain/interpretation.py``, writes the new state,
one ``interpretation_changed`` event (the whole interpretation, so a client replaces what it had) and the moderation
log's entry in one transaction; after the commit it publishes and makes the media plane match: channels created or
destroyed as the languages change, the booth set on every change of its interpreters or of who is live (removing an
interpreter cuts their channel audio at once: ``set_booth`` without them).

What a member hears is per connection and not stored: the media port moves their listen connection (``switch_listen``)
or opens one to a channel; someone on stage gets the interpreter only (they hear the floor already).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from salon.app.interpretation_media import apply_to_media
from salon.app.media import ask_media
from salon.app.ports import Jsep, RoomMessage, StreamGrant
from salon.app.room_access import access_room
from salon.app.room_commands import presence_deadline
from salon.app.services import Services
from salon.domain import interpretation as rules
from salon.domain.interpretation import Booth, Interpretation, RoomLanguages
from salon.domain.media import check_media
from salon.domain.moderation import ModAction, ModerationEntry, by_moderator
from salon.domain.rooms import Participant, Room
from salon.store import repo_interpretation as repo
from salon.store import repo_moderation, repo_presence, repo_rooms


@dataclass(frozen=True)
class Scene:
    """What an interpretation rule may look at, loaded for one command."""

    room: Room
    actor: Participant | None
    target: Participant | None
    interpretation: Interpretation | None


@dataclass
class Change:
    """What a rule decided: the room's new interpretation and the log's entries (none: not a moderator's act)."""

    interpretation: Interpretation | None
    moderation: list[ModerationEntry] = field(default_factory=list)


@dataclass(frozen=True)
class Done:
    seq: int  # the room's seq once the command is applied
    interpretation: Interpretation | None


async def _command(
    services: Services, room_id: str, actor_id: str, decide: Callable[[Scene], Change], target_id: str | None = None
) -> Done:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        reached = await access_room(conn, room_id, actor_id, "act", lock=True)
        target = await repo_rooms.get_participant(conn, room_id, target_id) if target_id is not None else None
        before = await repo.load(conn, room_id)
        change = decide(Scene(reached.room, reached.participant, target, before))
        seq = reached.seq
        messages: list[RoomMessage] = []
        if change.interpretation != before:
            await repo.save(conn, room_id, change.interpretation)
            data: dict[str, Any] = {"interpretation": rules.interpretation_data(change.interpretation)}
            seq = await repo_rooms.append_events(
                conn, room_id, seq + 1, [("interpretation_changed", data)], now, services.settings.event_window
            )
            messages.append(RoomMessage(room_id, seq, "interpretation_changed", data))
        if change.moderation:
            await repo_moderation.append_entries(conn, room_id, change.moderation, now, services.ids.new_id)
        if reached.participant is not None:
            await repo_presence.renew(conn, room_id, actor_id, presence_deadline(services, now))
    if messages:
        # The media plane first: a client that hears of its new booth connects into it at once, and must find itself
        # in it (`open_interpret` refuses who is not in the booth yet).
        try:
            await apply_to_media(services, room_id, before, change.interpretation)
        finally:
            await services.bus.publish_room(messages)
    return Done(seq, change.interpretation)


# --- moderators: the languages and the interpreters --------------------------------------------------------------


def check_languages(floor: str | None, channels: Sequence[str]) -> RoomLanguages | None:
    """A request's languages, checked (no floor: no languages): the edges call this before the use case."""
    return rules.check_declared_languages(floor, channels)


async def set_languages(
    services: Services, actor_id: str, room_id: str, languages: RoomLanguages | None, ducking_db: int
) -> Done:
    """Set (or, with None, drop) the room's floor language and channels, live. A channel kept keeps its booth.
    ``languages`` as :func:`check_languages` gives them."""
    rules.check_ducking(ducking_db)

    def decide(s: Scene) -> Change:
        actor = rules.check_moderator(s.room, s.actor)
        after = rules.relanguage(s.interpretation, languages, ducking_db) if languages is not None else None
        if after == s.interpretation:
            return Change(after)
        data: dict[str, Any] = {"floor": None, "channels": [], "ducking_db": None}
        if after is not None:
            data = {"floor": after.floor, "channels": list(after.channels), "ducking_db": after.ducking_db}
        return Change(after, [by_moderator(ModAction.SET_LANGUAGES, actor, **data)])

    return await _command(services, room_id, actor_id, decide)


async def set_ducking(services: Services, actor_id: str, room_id: str, ducking_db: int) -> Done:
    """Change how far the floor goes down under a live interpreter, live, in every channel of the room (a room
    setting). Logged as a change of the languages setting it belongs to (``set_languages``, with the whole
    setting), so the moderation log needs no new kind of entry."""
    rules.check_ducking(ducking_db)

    def decide(s: Scene) -> Change:
        actor = rules.check_moderator(s.room, s.actor)
        current = rules.check_channels(s.interpretation)
        after = current.with_ducking(ducking_db)
        if after == current:
            return Change(current)
        entry = by_moderator(
            ModAction.SET_LANGUAGES, actor, floor=after.floor, channels=list(after.channels), ducking_db=ducking_db
        )
        return Change(after, [entry])

    return await _command(services, room_id, actor_id, decide)


async def assign_interpreter(services: Services, actor_id: str, room_id: str, language: str, user_id: str) -> Done:
    """Make a member of the room an interpreter of a channel (not live: they take the booth's floor themselves)."""
    language = rules.check_language(language)

    def decide(s: Scene) -> Change:
        actor = rules.check_moderator(s.room, s.actor)
        rules.check_present(s.room, s.target, you=False)
        current = rules.check_channels(s.interpretation)
        booth = rules.check_assignable(current, language, user_id)
        after = current.with_booth(booth)
        if after == current:
            return Change(current)
        return Change(after, [by_moderator(ModAction.ASSIGN_INTERPRETER, actor, user_id, language=language)])

    return await _command(services, room_id, actor_id, decide, target_id=user_id)


async def remove_interpreter(services: Services, actor_id: str, room_id: str, language: str, user_id: str) -> Done:
    """Take the role away; if they were live, the channel falls back to the floor and their audio is cut at once."""
    language = rules.check_language(language)

    def decide(s: Scene) -> Change:
        actor = rules.check_moderator(s.room, s.actor)
        current = rules.check_channels(s.interpretation)
        after = current.with_booth(rules.unassign(current.booth(language), user_id))
        return Change(after, [by_moderator(ModAction.REMOVE_INTERPRETER, actor, user_id, language=language)])

    return await _command(services, room_id, actor_id, decide)


# --- interpreters: their booth's floor ---------------------------------------------------------------------------


async def _booth_command(
    services: Services, actor_id: str, room_id: str, language: str, step: Callable[[Booth, str], Booth]
) -> Done:
    tag = rules.check_language(language)
    return await _command(services, room_id, actor_id, lambda s: _booth_step(tag, step, s))


def _booth_step(language: str, step: Callable[[Booth, str], Booth], s: Scene) -> Change:
    actor = rules.check_present(s.room, s.actor)
    current = rules.check_channels(s.interpretation)
    before = current.booth(language)
    after = step(before, actor.user_id)
    entries: list[ModerationEntry] = []
    gave = rules.handed_over(before, after)
    if gave is not None:
        entries.append(by_moderator(ModAction.HAND_OVER, actor, gave, language=language))
    return Change(current.with_booth(after), entries)


async def take_booth(services: Services, actor_id: str, room_id: str, language: str) -> Done:
    """Go live in one's booth: when nobody is, or taking the handover one's partner offered (logged)."""
    return await _booth_command(services, actor_id, room_id, language, rules.take_floor)


async def offer_handover(services: Services, actor_id: str, room_id: str, language: str) -> Done:
    """The live interpreter offers the floor to their partner (live until the partner takes it)."""
    return await _booth_command(services, actor_id, room_id, language, rules.offer_handover)


async def release_booth(services: Services, actor_id: str, room_id: str, language: str) -> Done:
    """The live interpreter stops: the channel plays the floor at full level."""
    return await _booth_command(services, actor_id, room_id, language, rules.release_floor)


# --- what a member hears, and an interpreter's connection --------------------------------------------------------


async def _hearing(
    services: Services, user_id: str, room_id: str, language: str | None
) -> tuple[Participant, str | None]:
    """May this member hear the room (and this channel of it)? Their participant (on stage or not) and the channel's
    canonical tag."""
    tag = rules.check_language(language) if language is not None else None
    async with services.db.read() as conn:
        reached = await access_room(conn, room_id, user_id, "act")
        interpretation = await repo.load(conn, room_id)
    banned = reached.participant is None and reached.access.banned
    check_media(reached.room, reached.participant, "listen", banned=banned)
    assert reached.participant is not None  # check_media refuses anyone not in the room
    if tag is not None:
        rules.check_channels(interpretation).booth(tag)
    return reached.participant, tag


async def pick_language(services: Services, user_id: str, room_id: str, language: str | None) -> None:
    """The language picker: move this member's listen connection to a channel or back to the Original (None),
    without renegotiating. On stage, a channel is its interpreter only."""
    me, tag = await _hearing(services, user_id, room_id, language)
    only = me.role.on_stage
    await ask_media(services.media.switch_listen(room_id, user_id, tag, interpreter_only=only))


async def open_channel_listen(services: Services, user_id: str, room_id: str, language: str) -> Jsep:
    """Start hearing a channel on a new WebRTC connection: the media server's offer (answered with
    ``answer_listen``)."""
    me, tag = await _hearing(services, user_id, room_id, language)
    assert tag is not None
    only = me.role.on_stage
    return await ask_media(services.media.open_channel_listen(room_id, tag, user_id, interpreter_only=only))


async def open_channel_stream(
    services: Services, user_id: str, room_id: str, language: str, connection_id: str
) -> StreamGrant:
    """Hear a channel on the broadcast tier (the audience's; the stage hears through its own connection)."""
    _, tag = await _hearing(services, user_id, room_id, language)
    assert tag is not None
    return await ask_media(services.media.open_channel_stream(room_id, tag, user_id, connection_id))


async def _interpreter(services: Services, user_id: str, room_id: str, language: str) -> str:
    """Only a booth's interpreters connect into its channel; the channel's canonical tag."""
    tag = rules.check_language(language)
    async with services.db.read() as conn:
        reached = await access_room(conn, room_id, user_id, "act")
        interpretation = await repo.load(conn, room_id)
    rules.check_present(reached.room, reached.participant)
    rules.check_interpreter(rules.check_channels(interpretation).booth(tag), user_id)
    return tag


async def open_interpret(services: Services, user_id: str, room_id: str, language: str, offer: Jsep) -> Jsep:
    """An interpreter's connection into their channel (never the floor); the media plane mutes it unless live."""
    tag = await _interpreter(services, user_id, room_id, language)
    return await ask_media(services.media.open_interpret(room_id, tag, user_id, offer))


async def interpret_candidate(
    services: Services, user_id: str, room_id: str, language: str, candidate: dict[str, Any] | None
) -> None:
    tag = await _interpreter(services, user_id, room_id, language)
    await ask_media(services.media.add_interpret_candidate(room_id, tag, user_id, candidate))


async def close_interpret(services: Services, user_id: str, room_id: str, language: str) -> None:
    """End one's own connection into a channel; always allowed (it only takes media away)."""
    await ask_media(services.media.close_interpret(room_id, rules.check_language(language), user_id))
