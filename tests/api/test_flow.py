"""The whole flow of the issue's "done when", over real HTTP and the WebSocket, as two people would live it.

The operator's admin invite (what ``make run`` prints) → the admin signs up and invites Ada (2 invites → 1) → Ada
signs up, opens a room with topics → Bob (invited by Ada) joins as a listener, raises his hand, is brought up, is
muted, is moved back → Ada ends the room. A third connection watches the room's stream throughout and rebuilds the
room from the snapshot and the events alone; it must match the server's snapshot at every step.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from salon.app.invites import create_operator_invite
from salon.app.services import Services
from salon.app.settings import Settings
from salon.domain.room_view import apply_event, hand_queue
from salon.web.hub import Hub
from tests.support.live_server import serve

PASSWORD = "correct horse battery staple"


@pytest.fixture
def services(services: Services, settings: Settings) -> Services:
    services.bus = Hub(settings)
    return services


@pytest.fixture
async def port(services: Services) -> AsyncIterator[int]:
    async with serve(services) as p:
        yield p


class Watcher:
    """A WebSocket client that follows one room and applies what it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.view: dict[str, Any] = {}

    async def frame(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        return data

    async def follow(self, room_id: str) -> None:
        await self.ws.send(json.dumps({"op": "subscribe", "ref": 1, "data": {"room_id": room_id}}))
        while not self.view:
            f = await self.frame()
            if f["type"] == "snapshot":
                self.view = f["data"]

    async def catch_up(self, seq: int) -> list[str]:
        """Apply events until ``seq``; the event names seen."""
        names = []
        while self.view["seq"] < seq:
            f = await self.frame()
            if f["type"] == "event":
                assert f["seq"] == self.view["seq"] + 1, "no gap, no duplicate"
                self.view = apply_event(self.view, f["seq"], f["name"], f["data"])
                names.append(f["name"])
        return names


async def test_the_whole_flow(port: int, services: Services) -> None:
    base = f"http://127.0.0.1:{port}/api/v1"
    admin_code = (await create_operator_invite(services, grants_admin=True)).code
    async with httpx.AsyncClient(base_url=base) as http:

        async def sign_up(code: str, username: str) -> dict[str, str]:
            r = await http.post(
                "/auth/signup",
                json={
                    "invite_code": code,
                    "username": username,
                    "display_name": username.title(),
                    "password": PASSWORD,
                    "mode": "bearer",
                },
            )
            assert r.status_code == 201, r.text
            return {"Authorization": f"Bearer {r.json()['token']}"}

        async def ok(method: str, path: str, auth: dict[str, str], body: Any = None, status: int = 200) -> Any:
            r = await http.request(method, path, headers=auth, json=body)
            assert r.status_code == status, r.text
            return r.json()

        admin = await sign_up(admin_code, "admin")
        invite = await ok("POST", "/invites", admin, status=201)
        assert invite["invites_left"] == 1, "the admin had 2 invites and now has 1"

        ada = await sign_up(invite["code"], "ada")
        ada_me = await ok("GET", "/me", ada)
        assert ada_me["invited_by"]["username"] == "admin"
        room = await ok(
            "POST",
            "/rooms",
            ada,
            {
                "title": "Jazz after midnight",
                "topics": ["jazz", "piano"],
                "description": "Standards and stories",
                "type": "open",
            },
            201,
        )
        room_id = room["room"]["id"]
        assert room["room"]["topics"] == ["jazz", "piano"]

        bob_invite = await ok("POST", "/invites", ada, status=201)
        assert bob_invite["invites_left"] == 1
        bob = await sign_up(bob_invite["code"], "bob")
        bob_id = (await ok("GET", "/me", bob))["id"]

        async with connect(f"ws://127.0.0.1:{port}/api/v1/ws", additional_headers=admin, proxy=None) as ws:
            watcher = Watcher(ws)
            assert (await watcher.frame())["type"] == "hello"
            await watcher.follow(room_id)

            async def step(method: str, path: str, auth: dict[str, str], body: Any = None) -> list[str]:
                done = await ok(method, path, auth, body)
                names = await watcher.catch_up(done["seq"])
                assert watcher.view == await ok("GET", f"/rooms/{room_id}", admin)
                return names

            assert await step("POST", f"/rooms/{room_id}/join", bob) == ["participant_joined"]
            assert await step("POST", f"/rooms/{room_id}/hand/raise", bob) == ["hand_raised"]
            queue = hand_queue(await ok("GET", f"/rooms/{room_id}", ada))
            assert [p["user"]["username"] for p in queue] == ["bob"]
            assert await step("POST", f"/rooms/{room_id}/invite-up", ada, {"user_id": bob_id}) == ["stage_invited"]
            assert await step("POST", f"/rooms/{room_id}/invite-up/accept", bob) == ["role_changed"]
            assert await step("POST", f"/rooms/{room_id}/self-mute", bob, {"muted": False}) == ["mute_changed"]
            assert await step("POST", f"/rooms/{room_id}/mute", ada, {"user_id": bob_id, "lock": True}) == [
                "mute_changed"
            ]
            refused = await http.post(f"/rooms/{room_id}/self-mute", headers=bob, json={"muted": False})
            assert refused.status_code == 409
            assert refused.json()["code"] == "mute_locked"
            assert await step("POST", f"/rooms/{room_id}/move-to-audience", ada, {"user_id": bob_id}) == [
                "role_changed"
            ]
            bob_view = [p for p in watcher.view["audience"] if p["user"]["id"] == bob_id]
            assert bob_view[0]["role"] == "listener"
            assert await step("POST", f"/rooms/{room_id}/end", ada) == ["room_ended"]
            assert watcher.view["room"]["ended_at"] is not None
