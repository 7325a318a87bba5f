"""Domain layer: the one error type and its stable machine codes.

Use cases and rules raise :class:`DomainError`; only ``web/errors.py`` maps a code to an HTTP status or a
WebSocket close code. Codes are part of the public API: never rename one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INVALID_INPUT = "invalid_input"
    NOT_AUTHENTICATED = "not_authenticated"
    BAD_CREDENTIALS = "bad_credentials"
    CSRF_FAILED = "csrf_failed"
    NOT_ALLOWED = "not_allowed"
    NOT_FOUND = "not_found"
    NOT_IN_ROOM = "not_in_room"
    ROOM_FULL = "room_full"
    ROOM_ENDED = "room_ended"
    REMOVED_FROM_ROOM = "removed_from_room"
    INVITE_INVALID = "invite_invalid"
    NO_INVITES_LEFT = "no_invites_left"
    USERNAME_TAKEN = "username_taken"
    WEAK_PASSWORD = "weak_password"  # noqa: S105 - an error code, not a secret
    RATE_LIMITED = "rate_limited"
    CONFLICT = "conflict"
    HANDS_DISABLED = "hands_disabled"
    MUTE_LOCKED = "mute_locked"
    LAST_MODERATOR = "last_moderator"
    LAST_ADMIN = "last_admin"  # the instance's last enabled admin cannot step down
    WAITLIST_CLOSED = "waitlist_closed"  # an admin closed the waitlist (instance settings)
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA = "unsupported_media"
    ACCOUNT_DISABLED = "account_disabled"
    MEDIA_UNAVAILABLE = "media_unavailable"
    MEDIA_REFUSED = "media_refused"  # a media connection the member's place does not call for (the stage's mix)
    SPEAKER_MIX_FULL = "speaker_mix_full"  # the room's per-speaker listeners are at the cap: hear the one mix
    # not in a room with interpretation channels or a broadcast audience (Janus 1.1.2's forwards): hear the one mix
    SPEAKER_MIX_UNAVAILABLE = "speaker_mix_unavailable"
    SELF_TARGET = "self_target"  # following or blocking yourself
    BLOCKED = "blocked"  # the other member blocked you
    UNBLOCK_FIRST = "unblock_first"  # you blocked the other member
    TICKET_INVALID = "ticket_invalid"  # a broadcast stream ticket: bad format or signature, or for another node
    TICKET_EXPIRED = "ticket_expired"
    TICKET_WRONG_ROOM = "ticket_wrong_room"
    TICKET_USED = "ticket_used"  # a ticket starts one stream only
    NOT_READY = "not_ready"  # the instance cannot serve yet (/readyz): its database or media plane is not up
    INTERNAL = "internal"  # a failure on our side: no rule refuses with it, only the web layer's last resort


class DomainError(Exception):
    """A refusal a client can act on: a stable ``code``, a human ``message`` and structured ``data``."""

    def __init__(self, code: ErrorCode, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data: dict[str, Any] = data or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "data": self.data}


def refuse(code: ErrorCode, message: str, **data: Any) -> DomainError:
    """Build a :class:`DomainError`; ``data`` keys become the error's structured fields."""
    return DomainError(code, message, data)
