"""A stored notification (``salon.domain.notifications``)."""

from __future__ import annotations

from datetime import UTC, datetime

from salon.domain.notifications import NotificationRecord


def test_a_new_notification_is_unread() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    record = NotificationRecord("n1", "u1", "pinged", {"room_id": "r1"}, at)
    assert record.read_at is None
    assert record == NotificationRecord("n1", "u1", "pinged", {"room_id": "r1"}, at)  # a value: equal by content
