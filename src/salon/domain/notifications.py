"""Domain layer: a member's notification, as stored and listed (kinds and their data are decided by the use cases
that write them: app/notifications.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class NotificationRecord:
    id: str
    user_id: str
    kind: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = None
