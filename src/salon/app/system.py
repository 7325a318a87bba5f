"""App layer: the real clock and identifier source."""

from __future__ import annotations

import asyncio
import base64
import secrets
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class RandomIds:
    def new_id(self) -> str:
        # 120 random bits in lower-case base32 (a-z, 2-7): not guessable, not sequential, safe in URLs and on a
        # command line (a URL-safe base64 id may start with "-" and read as an option).
        return base64.b32encode(secrets.token_bytes(15)).decode().lower()

    def new_secret(self) -> str:
        # 256 random bits.
        return secrets.token_urlsafe(32)
