"""Domain layer: members — usernames, profiles, passwords (the policy, not the hashing), invites and their quota.

Pure rules; the app layer supplies the time, the random codes and whether a password is a common one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from salon.domain.errors import ErrorCode, refuse
from salon.domain.text import check_name, check_text

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,20}$")
DISPLAY_NAME_MAX = 50
BIO_MAX = 300
PASSWORD_MIN = 8
# Long passphrases are welcome; the cap only stops someone feeding megabytes to the password hasher.
PASSWORD_MAX = 256
DEFAULT_INVITES = 2
DEFAULT_INVITE_TTL = timedelta(days=10)


def username_key(username: str) -> str:
    """The case-insensitive identity of a username (``Ada`` and ``ada`` are the same member)."""
    return username.casefold()


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise refuse(
            ErrorCode.INVALID_INPUT,
            "A username has 3 to 20 letters, digits or underscores.",
            field="username",
        )
    return username


def check_display_name(name: str) -> str:
    cleaned = " ".join(check_name(name, "display_name").split())
    if not 1 <= len(cleaned) <= DISPLAY_NAME_MAX:
        raise refuse(
            ErrorCode.INVALID_INPUT, f"A display name has 1 to {DISPLAY_NAME_MAX} characters.", field="display_name"
        )
    return cleaned


def check_bio(bio: str) -> str:
    cleaned = check_text(bio, "bio", multiline=True).strip()
    if len(cleaned) > BIO_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"A bio has at most {BIO_MAX} characters.", field="bio")
    return cleaned


def check_password(password: str, *, is_common: bool, username: str = "") -> str:
    if len(password) < PASSWORD_MIN:
        raise refuse(ErrorCode.WEAK_PASSWORD, f"Use at least {PASSWORD_MIN} characters.", field="password")
    if len(password) > PASSWORD_MAX:
        raise refuse(ErrorCode.WEAK_PASSWORD, f"Use at most {PASSWORD_MAX} characters.", field="password")
    if is_common or (username and password.casefold() == username.casefold()):
        raise refuse(
            ErrorCode.WEAK_PASSWORD,
            "That password is too common; pick something others would not guess.",
            field="password",
        )
    return password


@dataclass(frozen=True)
class Invite:
    id: str
    created_by: str | None
    grants_admin: bool
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = None
    revoked_at: datetime | None = None
    waitlist_id: str | None = None  # made by nominating someone off the waitlist

    def status(self, now: datetime) -> str:
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        return "open"


def check_redeemable(invite: Invite | None, now: datetime) -> Invite:
    """One message for unknown, used, revoked and expired codes: the code itself is the secret."""
    if invite is None or invite.status(now) != "open":
        raise refuse(ErrorCode.INVITE_INVALID, "This invite link is not valid any more. Ask for a new one.")
    return invite


def check_revocable(invite: Invite | None, actor_id: str, actor_is_admin: bool, now: datetime) -> Invite:
    """An unused invite (open or expired) can be revoked; revoking gives the slot back to its creator."""
    if invite is None or (invite.created_by != actor_id and not actor_is_admin):
        raise refuse(ErrorCode.NOT_FOUND, "No such invite.")
    status = invite.status(now)
    if status in {"used", "revoked"}:
        raise refuse(ErrorCode.CONFLICT, f"This invite is {status}; only an unused invite can be revoked.")
    return invite


# --- what others see of a member ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserSummary:
    """What others see of a member next to something they did."""

    id: str
    username: str
    display_name: str
    avatar: str | None
