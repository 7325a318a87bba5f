"""Room commands over in-process HTTP, where the answer itself is the point: the `seq` a command answers when it
produced no event, what a command in an ended room says, and the room creator's place (issue 11, finding 8)."""

from __future__ import annotations

from typing import Any

import httpx

from salon.app.services import Services
from tests.support.api import assert_error, ok
from tests.support.api import member_with_token as member

Client = httpx.AsyncClient


async def open_room(client: Client, headers: dict[str, str], **fields: Any) -> str:
    created = await ok(await client.post("/rooms", json={"title": "Jazz", **fields}, headers=headers), 201)
    room: str = created["room"]["id"]
    return room


async def current_seq(client: Client, room: str, headers: dict[str, str]) -> int:
    seq: int = (await ok(await client.get(f"/rooms/{room}", headers=headers)))["seq"]
    return seq


async def test_a_command_that_produced_no_event_answers_the_rooms_current_seq(
    client: Client, services: Services
) -> None:
    """A client waits until it has applied the answered `seq`; -1 told it nothing it could order."""
    _, ada = await member(client, services, "ada")
    fay_id, _ = await member(client, services, "fay")
    dee_id, dee = await member(client, services, "dee")
    room = await open_room(client, ada, type="closed")
    assert await ok(await client.post(f"/rooms/{room}/let-in", json={"user_id": dee_id}, headers=ada)) == {"seq": 0}
    assert (await ok(await client.post(f"/rooms/{room}/join", headers=dee)))["seq"] == 1

    let_in = await ok(await client.post(f"/rooms/{room}/let-in", json={"user_id": fay_id}, headers=ada))
    assert let_in == {"seq": 1}, "let-in is no room event (the moderation log has it): the room is at seq 1"
    again = await ok(await client.post(f"/rooms/{room}/let-in", json={"user_id": fay_id}, headers=ada))
    assert again == {"seq": 1}
    lowered = await ok(await client.post(f"/rooms/{room}/hand/lower", headers=dee))
    assert lowered == {"seq": 1}, "a hand that was not up: nothing changed"
    assert await current_seq(client, room, ada) == 1


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


async def test_a_moderator_the_creator_promoted_cannot_demote_move_down_or_remove_the_creator(
    client: Client, services: Services
) -> None:
    ada_id, ada = await member(client, services, "ada")
    bob_id, bob = await member(client, services, "bob")
    room = await open_room(client, ada)
    await ok(await client.post(f"/rooms/{room}/join", headers=bob))
    await ok(await client.post(f"/rooms/{room}/invite-up", json={"user_id": bob_id}, headers=ada))
    await ok(await client.post(f"/rooms/{room}/invite-up/accept", headers=bob))
    await ok(await client.post(f"/rooms/{room}/moderators", json={"user_id": bob_id, "make": True}, headers=ada))
    seq = await current_seq(client, room, ada)

    attempts = [
        ("/moderators", {"user_id": ada_id, "make": False}),
        ("/move-to-audience", {"user_id": ada_id}),
        ("/remove", {"user_id": ada_id}),
    ]
    for path, body in attempts:
        refused = assert_error(await client.post(f"/rooms/{room}{path}", json=body, headers=bob), 403, "not_allowed")
        assert refused["data"] == {"reason": "room_creator"}, path
    snapshot = await ok(await client.get(f"/rooms/{room}", headers=ada))
    assert snapshot["seq"] == seq, "a refusal changes nothing"
    assert {p["user"]["id"]: p["role"] for p in snapshot["stage"]} == {ada_id: "moderator", bob_id: "moderator"}
    log = await ok(await client.get(f"/rooms/{room}/moderation-log", headers=ada))
    assert [e["action"] for e in log["entries"]] == ["make_moderator", "invite_up"]

    # The creator's own choices, and a co-moderator's ordinary powers, are untouched.
    await ok(await client.post(f"/rooms/{room}/mute", json={"user_id": ada_id, "lock": False}, headers=bob))
    await ok(await client.post(f"/rooms/{room}/moderators", json={"user_id": bob_id, "make": False}, headers=ada))
    await ok(await client.post(f"/rooms/{room}/remove", json={"user_id": bob_id}, headers=ada))
