"""Domain layer: a member's notification preferences — which kinds they get, and a pause.

Kinds are grouped the way a person thinks about them (rooms from people you follow, events, pings, invites and
people); a member turns a whole group off, never a single kind, so a kind added later to a group follows the
member's choice for it. A kind outside every group cannot be turned off.

The two settings mean different things (``app/notifications.py`` applies them, in one place):

- a group turned **off**: its notifications are not written at all — not listed, not pushed, not counted unread;
- a **pause** (until a time, at most :data:`PAUSE_MAX` ahead): notifications are still written and listed, but not
  pushed live while it lasts (no toast, no badge bump); the list and the unread count show them afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from salon.domain.errors import ErrorCode, refuse

# group → the kinds it holds (app/notifications.py's docstring lists who writes each kind).
GROUPS: Mapping[str, tuple[str, ...]] = {
    "followed_rooms": ("followed_started_room", "followed_speaking"),
    "events": ("event_starting_soon", "event_started", "event_cancelled", "event_invited"),
    "pings": ("pinged",),
    "people": ("invite_redeemed", "nominated", "followed_you"),
}
_GROUP_OF = {kind: group for group, kinds in GROUPS.items() for kind in kinds}

# The longest pause: a week. A longer silence is what turning groups off is for.
PAUSE_MAX = timedelta(days=7)


@dataclass(frozen=True)
class NotificationPrefs:
    """``off``: the groups turned off; ``paused_until``: the end of a pause (UTC), or None."""

    off: frozenset[str] = frozenset()
    paused_until: datetime | None = None


DEFAULT = NotificationPrefs()


def group_of(kind: str) -> str | None:
    """The group a kind belongs to; None for a kind no setting can turn off."""
    return _GROUP_OF.get(kind)


def wants(prefs: NotificationPrefs, kind: str) -> bool:
    """Whether a notification of this kind is written for the member at all."""
    group = group_of(kind)
    return group is None or group not in prefs.off


def is_paused(prefs: NotificationPrefs, now: datetime) -> bool:
    """Whether live pushes are held back at ``now`` (the pause ends at ``paused_until``, exclusive)."""
    return prefs.paused_until is not None and now < prefs.paused_until


def as_of(prefs: NotificationPrefs, now: datetime) -> NotificationPrefs:
    """The preferences as they stand at ``now``: a pause that has ended is no pause."""
    return prefs if is_paused(prefs, now) or prefs.paused_until is None else NotificationPrefs(prefs.off, None)


def recipients(user_ids: Iterable[str], kind: str, prefs: Mapping[str, NotificationPrefs]) -> list[str]:
    """Who among ``user_ids`` (each once, in order) gets a notification of ``kind``; members without stored
    preferences get everything."""
    return [u for u in dict.fromkeys(user_ids) if wants(prefs.get(u, DEFAULT), kind)]


def choose(off: Iterable[str], paused_until: datetime | None, now: datetime) -> NotificationPrefs:
    """Validate a member's new preferences: known groups only; a pause must end in the future and at most
    :data:`PAUSE_MAX` from now, with its time zone (stored in UTC). None ends any pause."""
    groups = frozenset(off)
    unknown = sorted(groups - GROUPS.keys())
    if unknown:
        raise refuse(ErrorCode.INVALID_INPUT, f"Unknown notification group: {unknown[0]}.", field="off")
    if paused_until is None:
        return NotificationPrefs(groups, None)
    if paused_until.tzinfo is None or paused_until.utcoffset() is None:
        raise refuse(ErrorCode.INVALID_INPUT, "The end of a pause needs its time zone offset.", field="paused_until")
    if paused_until <= now:
        raise refuse(ErrorCode.INVALID_INPUT, "A pause must end in the future.", field="paused_until")
    if paused_until > now + PAUSE_MAX:
        days = PAUSE_MAX.days
        raise refuse(
            ErrorCode.INVALID_INPUT, f"A pause lasts {days} days at most.", field="paused_until", max_days=days
        )
    return NotificationPrefs(groups, paused_until.astimezone(UTC))
