"""Test support: a member's notifications as stored (the in-app list) and as pushed (the ``RecordingBus``)."""

from __future__ import annotations

from typing import Any, cast

from salon.app import notifications
from salon.app.fakes import RecordingBus
from salon.app.services import Services
from salon.app.sessions import Actor

Note = tuple[str, dict[str, Any]]  # (kind, data)


def as_actor(user_id: str) -> Actor:
    return Actor(user_id=user_id, username=user_id, is_admin=False, session_hash="")


async def stored(services: Services, user_id: str, kind: str | None = None) -> list[Note]:
    """The member's notifications, oldest first (of one kind, or all)."""
    page = await notifications.list_notifications(services, as_actor(user_id), None, limit=100)
    notes = [(n.kind, n.data) for n in reversed(page.notifications)]
    return [n for n in notes if kind is None or n[0] == kind]


def pushed(services: Services, user_id: str, kind: str | None = None) -> list[Note]:
    """The notifications pushed to the member's connections, in order (of one kind, or all)."""
    bus = cast(RecordingBus, services.bus)
    notes = [
        (data["kind"], data["data"])
        for who, name, data in bus.users
        if who == user_id and name == notifications.PUSH_NAME
    ]
    return [n for n in notes if kind is None or n[0] == kind]


async def told(services: Services, user_id: str, kind: str | None = None) -> list[Note]:
    """What the member was told, in the order pushed: each notification stored and pushed exactly once (the test
    fails otherwise; the list's order among notifications of the same instant is by id, so it is not compared)."""
    notes = pushed(services, user_id, kind)
    assert sorted(map(repr, await stored(services, user_id, kind))) == sorted(map(repr, notes))
    return notes
