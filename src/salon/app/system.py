"""App layer: the real clock and identifier source."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new_id(self) -> str:
        # 96 random bits: not guessable, not sequential, short enough for URLs.
        return secrets.token_urlsafe(12)

    def new_secret(self) -> str:
        # 256 random bits.
        return secrets.token_urlsafe(32)
