"""Domain layer: keyset paging, shared by every list read page by page (the moderation log, reports, follows…).

A page ends with an opaque cursor naming its last entry, ``(time, id)``; the next page holds what comes strictly
after it in the list's order. A cursor keeps its place when entries are added in between, which limit/offset would
not.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from salon.domain.errors import ErrorCode, refuse
from salon.domain.text import is_id

PAGE_DEFAULT = 20
PAGE_MAX = 100
CURSOR_MAX = 200  # ours are ~60 characters
_ID_MAX = 64


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: its last entry's time and id."""

    at: datetime
    id: str


def encode_cursor(cursor: Cursor) -> str:
    raw = f"{cursor.at.isoformat()}|{cursor.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """A cursor this server handed out; anything else is ``invalid_input`` on the field ``cursor``."""
    bad = refuse(ErrorCode.INVALID_INPUT, "This cursor is not one we handed out.", field="cursor")
    if len(text) > CURSOR_MAX:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at_text, entry_id = raw.split("|")
        at = datetime.fromisoformat(at_text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise bad from exc
    if at.tzinfo is None or len(entry_id) > _ID_MAX or not is_id(entry_id):
        raise bad
    return Cursor(at, entry_id)


def check_page_size(limit: int) -> int:
    if not 1 <= limit <= PAGE_MAX:
        raise refuse(ErrorCode.INVALID_INPUT, f"A page holds 1 to {PAGE_MAX} entries.", field="limit")
    return limit
