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
