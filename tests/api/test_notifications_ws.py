"""Notifications arrive live over the WebSocket: a real uvicorn server, the real hub, the ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from salon.app import notifications, reminders, scheduled_events
from salon.app.fakes import FakeClock
from salon.app.services import Services
from salon.app.sessions import create_session
from salon.app.settings import Settings
from salon.store.database import Database
from salon.web.hub import Hub
from tests.support.live_server import serve
from tests.support.scheduled_events import actor, schedule
from tests.support.services import make_services

TIMEOUT = 5.0


@pytest.fixture
async def services(database: Database, settings: Settings, clock: FakeClock) -> Services:
    return make_services(settings, database, clock=clock, bus=Hub(settings))


@pytest.fixture
async def url(services: Services) -> AsyncIterator[str]:
    async with serve(services) as port:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"


async def frame(ws: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return result


async def test_reminders_and_the_start_are_pushed_to_the_members_connections(
    services: Services, url: str, clock: FakeClock
) -> None:
    ada, dee = await actor(services, "ada"), await actor(services, "dee")
    async with services.db.transaction() as conn:
        token = (await create_session(services, conn, dee.user_id, "bearer")).token
    event = (await schedule(services, ada, in_minutes=5)).event
    await scheduled_events.set_rsvp(services, dee, event.id, True)
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, proxy=None) as ws:
        assert (await frame(ws))["type"] == "hello"
        assert await reminders.send_due_reminders(services) == 1
        soon = await frame(ws)
        assert (soon["type"], soon["name"], soon["data"]["kind"]) == (
            "user_event",
            "notification",
            "event_starting_soon",
        )
        assert soon["data"]["data"]["event_id"] == event.id
        clock.advance(60)
        started = await scheduled_events.start_event(services, ada, event.id)
        note = await frame(ws)
        assert (note["data"]["kind"], note["data"]["data"]["room_id"]) == ("event_started", started.event.room_id)
        assert note["data"]["read_at"] is None
        page = await notifications.list_notifications(services, dee, None)
        assert [n.id for n in page.notifications] == [note["data"]["id"], soon["data"]["id"]]
        assert await notifications.mark_read(services, dee, None) == 0
        assert await frame(ws) == {"type": "user_event", "name": "notifications_read", "data": {"unread_count": 0}}
