"""Room commands over in-process HTTP, where the answer itself is the point: what a command in an ended room says
(issue 11, finding 8)."""

from __future__ import annotations

from typing import Any

import httpx

from salon.app.services import Services
from tests.support.api import assert_error, bearer, signup

Client = httpx.AsyncClient


async def member(client: Client, services: Services, name: str, *, admin: bool = False) -> tuple[str, dict[str, str]]:
    body = await signup(client, services, name, mode="bearer", admin=admin)
    return body["user"]["id"], bearer(body["token"])


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def open_room(client: Client, headers: dict[str, str], **fields: Any) -> str:
    created = await ok(await client.post("/rooms", json={"title": "Jazz", **fields}, headers=headers), 201)
    room: str = created["room"]["id"]
    return room


async def test_ending_a_room_that_ended_says_it_ended(client: Client, services: Services) -> None:
    _, ada = await member(client, services, "ada")
    _, root = await member(client, services, "root", admin=True)
    _, dee = await member(client, services, "dee")
    room = await open_room(client, ada)
    await ok(await client.post(f"/rooms/{room}/join", headers=dee))
    await ok(await client.post(f"/rooms/{room}/end", headers=ada))

    for who in (ada, root, dee):
        assert_error(await client.post(f"/rooms/{room}/end", headers=who), 410, "room_ended")
    assert_error(await client.post(f"/rooms/{room}/hand/raise", headers=dee), 410, "room_ended")
    assert_error(await client.post(f"/rooms/{room}/leave", headers=dee), 410, "room_ended")
