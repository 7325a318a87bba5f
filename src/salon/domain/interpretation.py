"""Domain layer: interpretation channels — a room's languages, its booths, and how loud the floor is in a channel.

A room speaks its floor language; it may add up to :data:`MAX_CHANNELS` interpretation channels, one per other
language. Each channel has a booth of at most :data:`BOOTH_SIZE` interpreters, of whom at most one is live (holds
the booth's floor) at any moment: a handover is offered by the live interpreter and taken by the partner, and the
switch is one step, so there is never a moment with both live. Listeners of a channel hear its live interpreter
with the floor ducked under it; with nobody live, the floor at full level.

Pure rules: every function takes the state and returns the new state, or raises :class:`DomainError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final

from salon.domain.errors import ErrorCode, refuse
from salon.domain.rooms import Participant, Role, Room

MAX_CHANNELS: Final = 4
BOOTH_SIZE: Final = 2
DEFAULT_DUCKING_DB: Final = -15
# The floor under an interpreter: from barely ducked to barely audible. 0 dB would be the floor at full level, which
# is what a channel plays when nobody is live, not a ducking.
DUCKING_RANGE_DB: Final = (-40, -6)
FULL_VOLUME: Final = 100  # percent

# The languages a room may declare: BCP 47 tags (primary language subtags, RFC 5646) of the languages most spoken and
# most interpreted, each with its own name. The interface shows them in its own language (the web app's strings);
# the endonym is the fallback. A short closed list: a typo never becomes a channel nobody can find.
LANGUAGES: Final[Mapping[str, str]] = {
    "ar": "العربية",
    "de": "Deutsch",
    "en": "English",
    "es": "Español",
    "fa": "فارسی",
    "fr": "Français",
    "he": "עברית",
    "hi": "हिन्दी",
    "it": "Italiano",
    "ja": "日本語",
    "ko": "한국어",
    "nl": "Nederlands",
    "pl": "Polski",
    "pt": "Português",
    "ru": "Русский",
    "sv": "Svenska",
    "tr": "Türkçe",
    "uk": "Українська",
    "zh": "中文",
}


def check_language(tag: str) -> str:
    """``tag`` as the canonical tag of a known language (tags are case-insensitive, RFC 5646 §2.1.1)."""
    canonical = tag.strip().lower()
    if canonical not in LANGUAGES:
        raise refuse(ErrorCode.INVALID_INPUT, f"Unknown language: {tag!r}.", field="language", known=sorted(LANGUAGES))
    return canonical


@dataclass(frozen=True)
class RoomLanguages:
    """The floor language and the interpretation channels, in the order the moderators gave them."""

    floor: str
    channels: tuple[str, ...] = ()


def check_room_languages(floor: str, channels: Iterable[str]) -> RoomLanguages:
    """Validate a room's languages: known tags, no channel in the floor language, none twice, at most
    :data:`MAX_CHANNELS`."""
    floor_tag = check_language(floor)
    tags: list[str] = []
    for tag in (check_language(channel) for channel in channels):
        if tag == floor_tag:
            raise refuse(ErrorCode.INVALID_INPUT, "A channel cannot be in the floor language.", field="channels")
        if tag in tags:
            raise refuse(ErrorCode.INVALID_INPUT, f"The {tag} channel is listed twice.", field="channels")
        tags.append(tag)
    if len(tags) > MAX_CHANNELS:
        raise refuse(
            ErrorCode.INVALID_INPUT, f"A room has at most {MAX_CHANNELS} channels.", field="channels", max=MAX_CHANNELS
        )
    return RoomLanguages(floor_tag, tuple(tags))


def check_declared_languages(floor: str | None, channels: Iterable[str]) -> RoomLanguages | None:
    """What a room or an event declares: no floor is no languages (and then no channels either)."""
    tags = list(channels)
    if floor is None:
        if tags:
            raise refuse(ErrorCode.INVALID_INPUT, "Channels need a floor language.", field="floor")
        return None
    return check_room_languages(floor, tags)


def check_ducking(db: int) -> int:
    """The floor's level under a live interpreter, in dB (a room setting)."""
    low, high = DUCKING_RANGE_DB
    if not low <= db <= high:
        raise refuse(ErrorCode.INVALID_INPUT, f"Ducking is between {low} and {high} dB.", field="ducking_db")
    return db


def volume_percent(db: float) -> int:
    """A gain in dB as the percentage of amplitude a mixer applies (-15 dB -> 18 %), never 0: a ducked floor stays
    faintly audible."""
    return max(1, round(FULL_VOLUME * 10 ** (db / 20)))


@dataclass(frozen=True)
class Booth:
    """One channel's interpreters (by user id, in assignment order), who is live, and a pending handover."""

    language: str
    interpreters: tuple[str, ...] = ()
    live: str | None = None
    handover_to: str | None = None  # offered by ``live`` to this partner, not yet taken

    def floor_volume(self, ducking_db: int) -> int:
        """How loud the floor is in the channel's mix: ducked under a live interpreter, full with none."""
        return volume_percent(ducking_db) if self.live is not None else FULL_VOLUME

    def is_live(self, user_id: str) -> bool:
        return self.live == user_id


def _member(booth: Booth, user_id: str) -> None:
    if user_id not in booth.interpreters:
        raise refuse(ErrorCode.NOT_ALLOWED, f"Only the {booth.language} booth's interpreters can do this.")


def check_interpreter(booth: Booth, user_id: str) -> None:
    """Only the booth's interpreters connect into its channel (the media plane keeps all but the live one muted)."""
    _member(booth, user_id)


def assign(booth: Booth, user_id: str) -> Booth:
    """Add an interpreter (not live: they take the floor themselves). Assigning one already there changes nothing."""
    if user_id in booth.interpreters:
        return booth
    if len(booth.interpreters) >= BOOTH_SIZE:
        raise refuse(ErrorCode.CONFLICT, f"A booth holds at most {BOOTH_SIZE} interpreters.", max=BOOTH_SIZE)
    return replace(booth, interpreters=(*booth.interpreters, user_id))


def unassign(booth: Booth, user_id: str) -> Booth:
    """Remove an interpreter; if they were live, nobody is (the channel falls back to the floor), and a handover
    to or from them is void."""
    _member(booth, user_id)
    live = None if booth.live == user_id else booth.live
    handover = None if user_id in (booth.live, booth.handover_to) else booth.handover_to
    return Booth(booth.language, tuple(u for u in booth.interpreters if u != user_id), live, handover)


def take_floor(booth: Booth, user_id: str) -> Booth:
    """An interpreter goes live: when nobody is, or when the live one offered them the handover (the switch is
    this one step)."""
    _member(booth, user_id)
    if booth.live == user_id:
        return booth
    if booth.live is not None and booth.handover_to != user_id:
        raise refuse(ErrorCode.CONFLICT, "Your partner is live: wait for the handover.", live=booth.live)
    return replace(booth, live=user_id, handover_to=None)


def offer_handover(booth: Booth, user_id: str) -> Booth:
    """The live interpreter offers the floor to their partner, and stays live until the partner takes it."""
    _member(booth, user_id)
    if booth.live != user_id:
        raise refuse(ErrorCode.CONFLICT, "Only the live interpreter can hand over.")
    partners = [u for u in booth.interpreters if u != user_id]
    if not partners:
        raise refuse(ErrorCode.CONFLICT, "There is nobody to hand over to.")
    return replace(booth, handover_to=partners[0])


def release_floor(booth: Booth, user_id: str) -> Booth:
    """The live interpreter stops (a pause, the end): nobody is live, the channel plays the floor at full level."""
    _member(booth, user_id)
    if booth.live != user_id:
        return booth
    return replace(booth, live=None, handover_to=None)


# --- a room's interpretation: its languages, its booths, and who may change them -----------------------------------
# The app loads this state, asks these rules, saves what they return (app/interpretation.py). Moderators set the
# languages and assign interpreters; interpreters move their own booth's floor (the functions above).


@dataclass(frozen=True)
class Interpretation:
    """A room's floor language and its channels' booths, in the channels' order; ``ducking_db`` is the room's
    setting, the floor's level under every channel's live interpreter."""

    floor: str
    booths: tuple[Booth, ...] = ()
    ducking_db: int = DEFAULT_DUCKING_DB

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(b.language for b in self.booths)

    def booth(self, language: str) -> Booth:
        """The booth of a channel the room has (``not_found`` otherwise: a language it does not offer)."""
        for booth in self.booths:
            if booth.language == language:
                return booth
        raise refuse(ErrorCode.NOT_FOUND, f"This room has no {language} channel.", language=language)

    def with_booth(self, booth: Booth) -> Interpretation:
        return replace(self, booths=tuple(booth if b.language == booth.language else b for b in self.booths))

    def with_ducking(self, ducking_db: int) -> Interpretation:
        """The room's ducking changed live: the floor's level under every channel's live interpreter."""
        return replace(self, ducking_db=check_ducking(ducking_db))

    def interpreting(self, user_id: str) -> str | None:
        """The channel this member interprets, if any."""
        return next((b.language for b in self.booths if user_id in b.interpreters), None)


def relanguage(current: Interpretation | None, languages: RoomLanguages, ducking_db: int) -> Interpretation:
    """The room's new languages: a channel kept keeps its booth (its interpreters stay, the live one stays live);
    a new channel starts with an empty booth; a dropped channel's booth goes with it."""
    kept = {b.language: b for b in current.booths} if current is not None else {}
    booths = tuple(kept.get(tag, Booth(tag)) for tag in languages.channels)
    return Interpretation(languages.floor, booths, check_ducking(ducking_db))


def check_assignable(interpretation: Interpretation, language: str, user_id: str) -> Booth:
    """The booth with ``user_id`` added: a member interprets one channel at a time (a second booth would have them
    speak two languages into two channels at once)."""
    booth = interpretation.booth(language)
    elsewhere = interpretation.interpreting(user_id)
    if elsewhere is not None and elsewhere != language:
        raise refuse(ErrorCode.CONFLICT, f"This member already interprets the {elsewhere} channel.", language=elsewhere)
    return assign(booth, user_id)


def vacate(interpretation: Interpretation, leaving: Iterable[str]) -> Interpretation:
    """Members who left the room (or were removed) leave their booths: an interpreter works from inside the room,
    and a live one's channel falls back to the floor."""
    gone = set(leaving)
    booths = list(interpretation.booths)
    for i, booth in enumerate(booths):
        for user_id in gone & set(booth.interpreters):
            booth = unassign(booth, user_id)
        booths[i] = booth
    return replace(interpretation, booths=tuple(booths))


def handed_over(before: Booth, after: Booth) -> str | None:
    """Who gave the floor when ``after`` is a handover taken (the live interpreter changed from one to another)."""
    if before.live is not None and after.live is not None and before.live != after.live:
        return before.live
    return None


def interpretation_data(interpretation: Interpretation | None) -> dict[str, object] | None:
    """What clients see: the floor, the ducking and each channel's booth (None: the room declared no languages)."""
    if interpretation is None:
        return None
    return {
        "floor": interpretation.floor,
        "ducking_db": interpretation.ducking_db,
        "channels": [
            {
                "language": b.language,
                "interpreters": list(b.interpreters),
                "live": b.live,
                "handover_to": b.handover_to,
            }
            for b in interpretation.booths
        ],
    }


def languages_data(floor: str | None, channels: Iterable[str]) -> dict[str, object] | None:
    """A room's or an event's languages as a card shows them (hallway, room header, event page)."""
    if floor is None:
        return None
    return {"floor": floor, "channels": list(channels)}


def check_moderator(room: Room, actor: Participant | None) -> Participant:
    """Languages and interpreters are the moderators' to set, in a live room."""
    if room.ended:
        raise refuse(ErrorCode.ROOM_ENDED, "This room has ended.")
    if actor is None:
        raise refuse(ErrorCode.NOT_IN_ROOM, "You are not in this room.")
    if actor.role is not Role.MODERATOR:
        raise refuse(ErrorCode.NOT_ALLOWED, "Only a moderator can do that.")
    return actor


def check_present(room: Room, person: Participant | None, *, you: bool = True) -> Participant:
    """An interpreter works from inside the live room: the one acting on their booth, or the member assigned."""
    if room.ended:
        raise refuse(ErrorCode.ROOM_ENDED, "This room has ended.")
    if person is None:
        who = "You are" if you else "That person is"
        raise refuse(ErrorCode.NOT_IN_ROOM, f"{who} not in this room.")
    return person


def check_channels(interpretation: Interpretation | None) -> Interpretation:
    """The room's interpretation, for a request about a channel (``not_found`` when it has no languages)."""
    if interpretation is None:
        raise refuse(ErrorCode.NOT_FOUND, "This room has no interpretation channels.")
    return interpretation
