"""The live hallway over a real WebSocket: ``hallway_watch`` answers with the first page, each tick sends a watcher
the rooms that changed and that it may see (new, fuller, ended), never a room it may not see, and nothing once it
unwatched. The ticker is driven by hand (``tick``) so that each step is one tick; the served app runs no lifespan.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from salon.app import social, stage
from salon.app.rooms import NewRoom, create_room, end_room
from salon.app.services import Services
from salon.app.sessions import Actor
from salon.app.settings import Settings
from salon.domain.rooms import RoomType
from salon.store.database import Database
from salon.web.hallway_live import TickReport, watchers_of
from salon.web.hub import Hub
from tests.support.accounts import sign_up
from tests.support.live_server import serve
from tests.support.services import make_services

TIMEOUT = 5.0


@pytest.fixture
async def services(database: Database, settings: Settings) -> Services:
    return make_services(settings, database, bus=Hub(settings))


@pytest.fixture
async def url(services: Services) -> AsyncIterator[str]:
    async with serve(services) as port:
        yield f"ws://127.0.0.1:{port}/api/v1/ws"


class Watcher:
    def __init__(self, ws: ClientConnection, actor: Actor) -> None:
        self.ws, self.actor, self.refs = ws, actor, 0

    async def next(self) -> dict[str, Any]:
        """The next frame, notifications aside (following the room's creator brings "started a room")."""
        while True:
            frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
            if frame["type"] != "user_event":
                return frame

    async def call(self, op: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """The reply or error frame answering ``op``; a hallway frame before it fails the test."""
        self.refs += 1
        await self.ws.send(json.dumps({"op": op, "ref": self.refs, "data": data or {}}))
        frame = await self.next()
        assert frame["type"] in {"reply", "error"}, frame
        assert frame["ref"] == self.refs, frame
        return frame

    async def hallway(self) -> dict[str, Any]:
        frame = await self.next()
        assert frame["type"] == "hallway", frame
        return frame

    async def nothing_pending(self) -> None:
        """No frame is waiting: a ping's reply comes first."""
        assert (await self.call("ping"))["type"] == "reply"


@asynccontextmanager
async def watching(url: str, services: Services, name: str) -> AsyncIterator[Watcher]:
    signed = await sign_up(services, name)
    headers = {"Authorization": f"Bearer {signed.session.token}"}
    async with connect(url, additional_headers=headers, proxy=None) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
        actor = Actor(user_id=signed.user.id, username=name, is_admin=False, session_hash="")
        yield Watcher(ws, actor)


async def tick(services: Services) -> TickReport:
    assert isinstance(services.bus, Hub)
    return await watchers_of(services.bus).tick(services)


async def test_a_watcher_sees_rooms_open_fill_and_end_and_nothing_after_unwatching(
    services: Services, url: str
) -> None:
    ada = (await sign_up(services, "ada")).user.id
    first = (await create_room(services, ada, NewRoom("Before", "", [], RoomType.OPEN)))["room"]["id"]
    async with watching(url, services, "bob") as bob, watching(url, services, "cid") as cid:
        assert (await tick(services)).frames == 0, "nobody watches yet"
        page = (await bob.call("hallway_watch", {"limit": 5}))["data"]
        assert ([e["room"]["id"] for e in page["rooms"]], page["total"], page["next_offset"]) == ([first], 1, None)
        assert (await tick(services)).frames == 0, "nothing changed since the page"
        await bob.nothing_pending()

        new = (await create_room(services, ada, NewRoom("Fresh talk", "", ["jazz"], RoomType.OPEN)))["room"]["id"]
        report = await tick(services)
        frame = await bob.hallway()
        assert [e["room"]["title"] for e in frame["rooms"]] == ["Fresh talk"]
        assert frame["removed"] == []
        [card] = frame["rooms"]
        assert (card["speaker_count"], card["listener_count"], card["followed_on_stage"]) == (1, 0, 0)
        assert [s["user"]["id"] for s in card["speakers"]] == [ada]
        assert (report.frames, report.encoded) == (1, 1), "cid does not watch: nothing for him"
        await cid.nothing_pending()

        await stage.join(services, cid.actor.user_id, new)
        await tick(services)
        assert (await bob.hallway())["rooms"][0]["listener_count"] == 1

        await end_room(services, ada, new)
        await tick(services)
        assert (await bob.hallway()) == {"type": "hallway", "rooms": [], "removed": [new]}

        assert (await bob.call("hallway_unwatch"))["type"] == "reply"
        await create_room(services, ada, NewRoom("Unseen", "", [], RoomType.OPEN))
        assert (await tick(services)).frames == 0
        await bob.nothing_pending()


async def test_a_watcher_never_learns_of_a_room_it_may_not_see(services: Services, url: str) -> None:
    ada_signed = await sign_up(services, "ada")
    ada = Actor(user_id=ada_signed.user.id, username="ada", is_admin=False, session_hash="")
    async with (
        watching(url, services, "fan") as fan,
        watching(url, services, "stranger") as stranger,
        watching(url, services, "pest") as pest,
    ):
        await social.follow(services, fan.actor, ada.user_id)
        for w in (fan, stranger, pest):
            assert (await w.call("hallway_watch"))["data"]["rooms"] == []
        social_room = (await create_room(services, ada.user_id, NewRoom("Friends", "", [], RoomType.SOCIAL)))["room"]
        closed = (await create_room(services, ada.user_id, NewRoom("Secret", "", [], RoomType.CLOSED)))["room"]
        open_room = (await create_room(services, ada.user_id, NewRoom("Open", "", [], RoomType.OPEN)))["room"]
        report = await tick(services)
        assert (report.frames, report.encoded) == (3, 2), "the stranger and the pest get the same frame, made once"
        seen = await fan.hallway()
        assert sorted(e["room"]["title"] for e in seen["rooms"]) == ["Friends", "Open"]
        assert {e["followed_on_stage"] for e in seen["rooms"]} == {1}, "the fan follows the moderator on stage"
        assert [e["room"]["title"] for e in (await stranger.hallway())["rooms"]] == ["Open"]
        assert [e["room"]["title"] for e in (await pest.hallway())["rooms"]] == ["Open"]

        # The pest is blocked by the moderator: the open room's next change takes it from the pest's hallway,
        # and the rooms the others may not see change without a word to them.
        await social.block(services, ada, pest.actor.user_id)
        await stage.let_in(services, ada.user_id, closed["id"], fan.actor.user_id)
        for room in (open_room, social_room, closed):
            await stage.join(services, stranger.actor.user_id if room is open_room else fan.actor.user_id, room["id"])
        await tick(services)
        assert await pest.hallway() == {"type": "hallway", "rooms": [], "removed": [open_room["id"]]}
        stranger_frame = await stranger.hallway()
        assert [e["room"]["id"] for e in stranger_frame["rooms"]] == [open_room["id"]]
        assert stranger_frame["removed"] == []
        fan_rooms = {e["room"]["id"] for e in (await fan.hallway())["rooms"]}
        assert fan_rooms == {open_room["id"], social_room["id"], closed["id"]}, "inside the closed room now"
        await end_room(services, ada.user_id, closed["id"])
        await tick(services)
        assert (await fan.hallway())["removed"] == [closed["id"]]
        for w in (stranger, pest):
            await w.nothing_pending()


async def test_rooms_that_change_while_the_page_is_read_come_on_the_next_tick(services: Services, url: str) -> None:
    ada = (await sign_up(services, "ada")).user.id
    async with watching(url, services, "bob") as bob:
        hub = services.bus
        assert isinstance(hub, Hub)
        watchers = watchers_of(hub)
        conn = next(iter(c for c in hub._connections.values() if c.user_id == bob.actor.user_id))
        watchers.begin(conn)  # as the op does before it reads the page
        room = (await create_room(services, ada, NewRoom("Meanwhile", "", [], RoomType.OPEN)))["room"]["id"]
        assert (await tick(services)).frames == 0, "nothing reaches a watcher before its page"
        watchers.finish(conn, [])  # its page was read before the room opened
        await tick(services)
        assert [e["room"]["id"] for e in (await bob.hallway())["rooms"]] == [room]


async def test_hallway_ops_are_validated_at_the_edge(services: Services, url: str) -> None:
    async with watching(url, services, "bob") as bob:
        for data in ({"limit": 0}, {"limit": 51}, {"limit": "5"}, {"limit": 5, "room_id": "x"}):
            frame = await bob.call("hallway_watch", data)
            assert frame["type"] == "error", data
            assert frame["error"]["code"] == "invalid_input"
            assert set(frame["error"]) == {"code", "message", "data"}
        assert (await bob.call("hallway_unwatch", {"all": True}))["error"]["code"] == "invalid_input"
        assert (await bob.call("hallway_unwatch"))["type"] == "reply", "unwatching when not watching is fine"


async def test_a_room_past_the_watchers_page_is_not_pushed_when_only_its_counts_change(
    services: Services, url: str
) -> None:
    ada = (await sign_up(services, "ada")).user.id
    busy = (await create_room(services, ada, NewRoom("Busy", "", [], RoomType.OPEN)))["room"]["id"]
    quiet = (await create_room(services, ada, NewRoom("Quiet", "", [], RoomType.OPEN)))["room"]["id"]
    async with watching(url, services, "bob") as bob, watching(url, services, "cid") as cid:
        await stage.join(services, cid.actor.user_id, busy)
        await tick(services)
        page = (await bob.call("hallway_watch", {"limit": 1}))["data"]
        assert ([e["room"]["id"] for e in page["rooms"]], page["next_offset"]) == ([busy], 1)
        await stage.leave(services, cid.actor.user_id, busy)
        await stage.join(services, cid.actor.user_id, quiet)
        await tick(services)
        frame = await bob.hallway()
        assert [e["room"]["id"] for e in frame["rooms"]] == [busy], "the quiet room is past bob's page"
        await bob.nothing_pending()
