"""The moderation log and reports over in-process HTTP: the log's shape and pages, who may read it (the full
matrix is in tests/support/matrix.py), sending reports (validation, visibility, rate limit) and the admins' list."""

from __future__ import annotations

import httpx

from salon.app.fakes import FakeClock
from salon.app.ratelimit import REPORTS_PER_HOUR
from salon.app.services import Services
from salon.domain.reports import DETAILS_MAX
from tests.support.api import assert_error, ok
from tests.support.api import member_with_token as member

Client = httpx.AsyncClient


async def test_a_moderator_reads_the_log_newest_first_in_pages(client: Client, services: Services) -> None:
    ada_id, ada = await member(client, services, "ada")
    bob_id, bob = await member(client, services, "bob")
    room = (await ok(await client.post("/rooms", json={"title": "Jazz"}, headers=ada), 201))["room"]["id"]
    await ok(await client.post(f"/rooms/{room}/join", headers=bob))
    await ok(await client.post(f"/rooms/{room}/invite-up", json={"user_id": bob_id}, headers=ada))
    await ok(await client.post(f"/rooms/{room}/invite-up/accept", headers=bob))
    await ok(await client.post(f"/rooms/{room}/mute", json={"user_id": bob_id, "lock": True}, headers=ada))

    log = await ok(await client.get(f"/rooms/{room}/moderation-log", headers=ada))
    assert set(log) == {"entries", "next_cursor"}
    assert log["next_cursor"] is None
    mute, invite = log["entries"]
    assert set(mute) == {"id", "action", "actor", "target", "data", "created_at"}
    assert (mute["action"], mute["data"], invite["action"]) == ("mute", {"lock": True}, "invite_up")
    assert mute["actor"] == {"id": ada_id, "username": "ada", "display_name": "Ada", "avatar_url": None}
    assert mute["target"]["username"] == "bob"

    first = await ok(await client.get(f"/rooms/{room}/moderation-log", params={"limit": 1}, headers=ada))
    assert [e["id"] for e in first["entries"]] == [mute["id"]]
    rest = await ok(
        await client.get(f"/rooms/{room}/moderation-log", params={"cursor": first["next_cursor"]}, headers=ada)
    )
    assert [e["id"] for e in rest["entries"]] == [invite["id"]]

    assert_error(await client.get(f"/rooms/{room}/moderation-log", headers=bob), 403, "not_allowed")
    assert_error(await client.get(f"/rooms/{room}/moderation-log"), 401, "not_authenticated")
    for params in ({"limit": 0}, {"limit": 101}, {"cursor": "nonsense"}, {"cursor": "x" * 201}):
        assert_error(
            await client.get(f"/rooms/{room}/moderation-log", params=params, headers=ada), 422, "invalid_input"
        )

    await ok(await client.post(f"/rooms/{room}/end", headers=ada))
    ended = await ok(await client.get(f"/rooms/{room}/moderation-log", headers=ada))
    assert ended["entries"][0]["action"] == "end_room"
    assert ended["entries"][0]["data"] == {"moderators": [ada_id]}


async def test_members_send_reports_and_only_admins_list_them(
    client: Client, services: Services, clock: FakeClock
) -> None:
    ada_id, ada = await member(client, services, "ada")
    bob_id, bob = await member(client, services, "bob")
    _, root = await member(client, services, "root", admin=True)
    closed = (await ok(await client.post("/rooms", json={"title": "Inner", "type": "closed"}, headers=bob), 201))[
        "room"
    ]["id"]

    sent = await ok(
        await client.post("/reports", json={"user_id": bob_id, "reason": "spam", "details": " ads "}, headers=ada), 201
    )
    assert set(sent) == {"id", "user_id", "room_id", "reason", "details", "created_at"}
    assert (sent["user_id"], sent["room_id"], sent["reason"], sent["details"]) == (bob_id, None, "spam", "ads")
    clock.advance(1)
    room_report = await ok(await client.post("/reports", json={"room_id": closed, "reason": "hate"}, headers=bob), 201)

    assert_error(
        await client.post("/reports", json={"room_id": closed, "reason": "hate"}, headers=ada), 404, "not_found"
    )
    assert_error(
        await client.post("/reports", json={"user_id": ada_id, "reason": "spam"}, headers=ada), 422, "self_target"
    )
    for body in (
        {"reason": "spam"},
        {"user_id": bob_id, "room_id": closed, "reason": "spam"},
        {"user_id": bob_id, "reason": "boring"},
        {"user_id": bob_id, "reason": "spam", "details": "x" * (DETAILS_MAX + 1)},
        {"user_id": bob_id, "reason": "spam", "extra": 1},
    ):
        assert_error(await client.post("/reports", json=body, headers=ada), 422, "invalid_input")
    assert_error(await client.post("/reports", json={"user_id": bob_id, "reason": "spam"}), 401, "not_authenticated")

    assert_error(await client.get("/admin/reports", headers=ada), 403, "not_allowed")
    assert_error(await client.get("/admin/reports"), 401, "not_authenticated")
    listed = await ok(await client.get("/admin/reports", headers=root))
    assert listed["next_cursor"] is None
    newest, oldest = listed["reports"]
    assert newest["id"] == room_report["id"]
    assert (newest["room"], newest["user"]) == ({"id": closed, "title": "Inner"}, None)
    assert (oldest["reporter"]["username"], oldest["user"]["username"], oldest["details"]) == ("ada", "bob", "ads")
    assert set(oldest) == {
        "id",
        "reporter",
        "user",
        "room",
        "reason",
        "details",
        "created_at",
        "resolved_at",
        "resolved_by",
        "resolution_note",
    }
    page = await ok(await client.get("/admin/reports", params={"limit": 1}, headers=root))
    assert page["next_cursor"] is not None


async def test_reports_are_rate_limited(client: Client, services: Services) -> None:
    _, ada = await member(client, services, "ada")
    bob_id, _ = await member(client, services, "bob")
    for _ in range(REPORTS_PER_HOUR):
        await ok(await client.post("/reports", json={"user_id": bob_id, "reason": "spam"}, headers=ada), 201)
    limited = await client.post("/reports", json={"user_id": bob_id, "reason": "spam"}, headers=ada)
    assert assert_error(limited, 429, "rate_limited")["data"]["limit"] == "report"
    assert "retry-after" in limited.headers


async def test_the_reasons_and_actions_are_documented(client: Client) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert "harassment" in schemas["ReportReason"]["enum"]
    assert "mute" in schemas["ModAction"]["enum"]
    assert "/api/v1/rooms/{room_id}/moderation-log" in spec["paths"]
