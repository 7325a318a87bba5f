"""The admin area over in-process HTTP: each route's answer and each rule of domain/admin.py, with the instance's
log entry every action leaves (who may call what: tests/api/test_admin_authorization.py)."""

from __future__ import annotations

from typing import Any

import httpx

from salon.app.fakes import FakeClock
from salon.app.services import Services
from tests.support.api import assert_error, ok
from tests.support.api import member_with_token as member

Client = httpx.AsyncClient


async def _log(client: Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (await ok(await client.get("/admin/log", headers=headers)))["entries"]
    return entries


async def test_members_are_searched_and_paged_newest_first(
    client: Client, services: Services, clock: FakeClock
) -> None:
    root_id, root = await member(client, services, "root", admin=True)
    for name in ("ada", "adam", "bob"):
        clock.advance(1)
        await member(client, services, name)
    page = await ok(await client.get("/admin/users", params={"limit": 2}, headers=root))
    assert [m["username"] for m in page["members"]] == ["bob", "adam"]
    rest = await ok(await client.get("/admin/users", params={"cursor": page["next_cursor"]}, headers=root))
    assert [m["username"] for m in rest["members"]] == ["ada", "root"]
    assert rest["next_cursor"] is None
    row = rest["members"][1]
    assert set(row) == {
        "id",
        "username",
        "display_name",
        "avatar_url",
        "is_admin",
        "disabled",
        "invites_left",
        "created_at",
    }
    assert (row["id"], row["is_admin"], row["disabled"], row["invites_left"]) == (root_id, True, False, 2)
    found = await ok(await client.get("/admin/users", params={"q": "AD"}, headers=root))
    assert [m["username"] for m in found["members"]] == ["adam", "ada"]
    by_name = await ok(await client.get("/admin/users", params={"q": "dam"}, headers=root))  # display name "Adam"
    assert [m["username"] for m in by_name["members"]] == ["adam"]
    assert (await ok(await client.get("/admin/users", params={"q": "%"}, headers=root)))["members"] == []
    for params in ({"q": "x" * 51}, {"q": "a\nb"}, {"cursor": "nonsense"}, {"limit": 0}):
        assert_error(await client.get("/admin/users", params=params, headers=root), 422, "invalid_input")


async def test_grant_disable_enable_are_logged(client: Client, services: Services) -> None:
    root_id, root = await member(client, services, "root", admin=True)
    ada_id, ada = await member(client, services, "ada")
    left = await ok(await client.post(f"/admin/users/{ada_id}/invites", json={"count": 3}, headers=root))
    assert left == {"invites_left": 5}
    for body in ({"count": 0}, {"count": 101}, {"count": "2"}):
        assert_error(await client.post(f"/admin/users/{ada_id}/invites", json=body, headers=root), 422, "invalid_input")
    assert_error(await client.post("/admin/users/nobody/invites", json={"count": 1}, headers=root), 404, "not_found")

    await ok(await client.post(f"/admin/users/{ada_id}/disable", headers=root))
    assert_error(await client.get("/me", headers=ada), 401, "not_authenticated")  # her sessions ended
    await ok(await client.post(f"/admin/users/{ada_id}/disable", headers=root))  # a repeat changes nothing
    assert_error(await client.post(f"/admin/users/{root_id}/disable", headers=root), 403, "not_allowed")
    listed = await ok(await client.get("/admin/users", params={"q": "ada"}, headers=root))
    assert listed["members"][0]["disabled"] is True
    await ok(await client.post(f"/admin/users/{ada_id}/enable", headers=root))
    await ok(await client.post(f"/admin/users/{ada_id}/enable", headers=root))  # a repeat changes nothing

    log = await _log(client, root)
    assert [e["action"] for e in log] == ["enable_member", "disable_member", "grant_invites"]
    assert log[2]["data"] == {"count": 3, "invites_left": 5}
    assert {e["actor"]["id"] for e in log} == {root_id}
    assert {e["target"]["id"] for e in log} == {ada_id}
    assert {e["room_id"] for e in log} == {None}


async def test_admin_flag_keeps_one_enabled_admin(client: Client, services: Services) -> None:
    root_id, root = await member(client, services, "root", admin=True)
    ada_id, ada = await member(client, services, "ada")
    assert_error(
        await client.post(f"/admin/users/{root_id}/admin", json={"admin": False}, headers=root), 409, "last_admin"
    )
    made = await ok(await client.post(f"/admin/users/{ada_id}/admin", json={"admin": True}, headers=root))
    assert made == {"id": ada_id, "is_admin": True}
    await ok(await client.get("/admin/settings", headers=ada))  # she is an admin at her next request
    # Two admins: either may step down, but not both.
    await ok(await client.post(f"/admin/users/{root_id}/admin", json={"admin": False}, headers=root))
    assert_error(await client.get("/admin/settings", headers=root), 403, "not_allowed")
    assert_error(
        await client.post(f"/admin/users/{ada_id}/admin", json={"admin": False}, headers=ada), 409, "last_admin"
    )
    # A disabled member is not made an admin; a disabled admin does not count as one who can act.
    bob_id, _ = await member(client, services, "bob")
    await ok(await client.post(f"/admin/users/{bob_id}/disable", headers=ada))
    assert_error(
        await client.post(f"/admin/users/{bob_id}/admin", json={"admin": True}, headers=ada), 403, "account_disabled"
    )
    assert_error(
        await client.post(f"/admin/users/{ada_id}/admin", json={"admin": "no"}, headers=ada), 422, "invalid_input"
    )
    assert_error(await client.post("/admin/users/nobody/admin", json={"admin": True}, headers=ada), 404, "not_found")
    actions = [(e["action"], e["target"]["username"]) for e in await _log(client, ada)]
    assert actions == [("disable_member", "bob"), ("remove_admin", "root"), ("make_admin", "ada")]


async def test_reports_are_resolved_with_a_note(client: Client, services: Services) -> None:
    root_id, root = await member(client, services, "root", admin=True)
    _, ada = await member(client, services, "ada")
    bob_id, _ = await member(client, services, "bob")
    sent = await ok(await client.post("/reports", json={"user_id": bob_id, "reason": "spam"}, headers=ada), 201)
    assert_error(
        await client.post(f"/admin/reports/{sent['id']}/resolve", json={"note": "x" * 1001}, headers=root),
        422,
        "invalid_input",
    )
    done = await ok(
        await client.post(f"/admin/reports/{sent['id']}/resolve", json={"note": " Disabled bob. "}, headers=root)
    )
    assert done == {"id": sent["id"], "resolved": True}
    assert_error(
        await client.post(f"/admin/reports/{sent['id']}/resolve", json={"note": "again"}, headers=root), 409, "conflict"
    )
    assert_error(await client.post("/admin/reports/nothing/resolve", json={}, headers=root), 404, "not_found")
    report = (await ok(await client.get("/admin/reports", headers=root)))["reports"][0]
    assert report["resolved_at"] is not None
    assert (report["resolved_by"]["id"], report["resolution_note"]) == (root_id, "Disabled bob.")
    entry = (await _log(client, root))[0]
    assert (entry["action"], entry["data"]) == ("resolve_report", {"report_id": sent["id"], "note": "Disabled bob."})


async def test_the_waitlist_is_let_in_or_dismissed(client: Client, services: Services) -> None:
    _, root = await member(client, services, "root", admin=True)
    _, ada = await member(client, services, "ada")
    for n in (1, 2):
        await ok(await client.post("/waitlist", json={"name": f"Guest {n}", "contact": f"g{n}@example.org"}), 202)
    entries = (await ok(await client.get("/waitlist", headers=root)))["entries"]
    first, second = sorted(entries, key=lambda e: str(e["name"]))
    gone = await ok(await client.post(f"/admin/waitlist/{first['id']}/dismiss", headers=root))
    assert gone == {"id": first["id"], "dismissed": True}
    await ok(await client.post(f"/admin/waitlist/{first['id']}/dismiss", headers=root))  # a repeat changes nothing
    assert [e["id"] for e in (await ok(await client.get("/waitlist", headers=ada)))["entries"]] == [second["id"]]
    assert_error(await client.post(f"/waitlist/{first['id']}/nominate", headers=ada), 409, "conflict")
    await ok(await client.post(f"/waitlist/{second['id']}/nominate", headers=root), 201)
    assert_error(await client.post(f"/admin/waitlist/{second['id']}/dismiss", headers=root), 409, "conflict")
    assert_error(await client.post("/admin/waitlist/nobody/dismiss", headers=root), 404, "not_found")
    log = await _log(client, root)
    assert [(e["action"], e["data"]["name"]) for e in log] == [
        ("waitlist_let_in", "Guest 2"),
        ("waitlist_dismiss", "Guest 1"),
    ]


async def test_settings_change_live_and_are_logged(client: Client, services: Services) -> None:
    _, root = await member(client, services, "root", admin=True)
    assert await ok(await client.get("/admin/settings", headers=root)) == {
        "invites_per_member": 2,
        "waitlist_open": True,
    }
    changed = await ok(
        await client.patch("/admin/settings", json={"invites_per_member": 5, "waitlist_open": False}, headers=root)
    )
    assert changed == {"invites_per_member": 5, "waitlist_open": False}
    await ok(await client.patch("/admin/settings", json={"invites_per_member": 5}, headers=root))  # no change
    for body in ({"invites_per_member": -1}, {"invites_per_member": 1001}, {"waitlist_open": "no"}, {"x": 1}):
        assert_error(await client.patch("/admin/settings", json=body, headers=root), 422, "invalid_input")
    # Both take effect at once: a new member starts with 5 invites; asking to join is refused.
    _, eve = await member(client, services, "eve")
    assert (await ok(await client.get("/me", headers=eve)))["invites_left"] == 5
    assert_error(
        await client.post("/waitlist", json={"name": "Late", "contact": "late@example.org"}), 409, "waitlist_closed"
    )
    log = await _log(client, root)
    assert len(log) == 1
    assert log[0]["data"] == {"changes": {"invites_per_member": [2, 5], "waitlist_open": [True, False]}}


async def test_live_rooms_are_listed_and_ended_by_an_admin(
    client: Client, services: Services, clock: FakeClock
) -> None:
    root_id, root = await member(client, services, "root", admin=True)
    _, ada = await member(client, services, "ada")
    open_room = (await ok(await client.post("/rooms", json={"title": "Open"}, headers=ada), 201))["room"]["id"]
    clock.advance(1)
    closed = await ok(await client.post("/rooms", json={"title": "Inner", "type": "closed"}, headers=ada), 201)
    rooms = (await ok(await client.get("/admin/rooms", headers=root)))["rooms"]
    assert [(r["title"], r["type"], r["people"]) for r in rooms] == [("Inner", "closed", 1), ("Open", "open", 1)]
    assert set(rooms[0]) == {"id", "title", "type", "created_by", "created_at", "people"}
    await ok(await client.post(f"/rooms/{closed['room']['id']}/end", headers=root))
    assert [r["id"] for r in (await ok(await client.get("/admin/rooms", headers=root)))["rooms"]] == [open_room]
    entry = (await _log(client, root))[0]
    assert (entry["action"], entry["room_id"], entry["actor"]["id"]) == ("end_room", closed["room"]["id"], root_id)
    # A moderator ending their own room is the room's business, not the instance's log.
    await ok(await client.post(f"/rooms/{open_room}/end", headers=ada))
    assert len(await _log(client, root)) == 1


async def test_the_log_pages(client: Client, services: Services) -> None:
    _, root = await member(client, services, "root", admin=True)
    ada_id, _ = await member(client, services, "ada")
    for _ in range(3):
        await ok(await client.post(f"/admin/users/{ada_id}/invites", json={"count": 1}, headers=root))
    first = await ok(await client.get("/admin/log", params={"limit": 2}, headers=root))
    rest = await ok(await client.get("/admin/log", params={"cursor": first["next_cursor"]}, headers=root))
    lefts = [e["data"]["invites_left"] for e in first["entries"] + rest["entries"]]
    assert (lefts, rest["next_cursor"]) == ([5, 4, 3], None)
