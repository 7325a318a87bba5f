"""The invites and waitlist API over in-process HTTP: create (code shown once), check, list, revoke, and the
waitlist's same-answer sign-up, member listing and nomination."""

from __future__ import annotations

import httpx

from salon.app.services import Services
from tests.support.api import assert_error, bearer, signup

Client = httpx.AsyncClient


# --- invites -------------------------------------------------------------------------------------------------------


async def test_invites(client: Client, services: Services) -> None:
    auth = bearer((await signup(client, services, "ada", mode="bearer"))["token"])
    made = await client.post("/invites", headers=auth)
    assert made.status_code == 201
    invite = made.json()
    assert set(invite) == {"id", "code", "link", "expires_at", "invites_left"}
    assert invite["link"] == f"{services.settings.public_url}/invite/{invite['code']}"
    assert invite["invites_left"] == 1
    checked = (await client.get(f"/invites/check/{invite['code']}")).json()
    assert checked["valid"] is True
    assert checked["invited_by"]["username"] == "ada"  # the sign-up page says who invited you
    assert (await client.get("/invites/check/nope")).json() == {"valid": False, "invited_by": None}

    listed = (await client.get("/invites", headers=auth)).json()
    assert listed["invites_left"] == 1
    assert [(i["id"], i["status"]) for i in listed["invites"]] == [(invite["id"], "open")]
    assert "code" not in listed["invites"][0]

    await signup(client, services, "bob", mode="bearer", code=invite["code"])
    used = (await client.get("/invites", headers=auth)).json()["invites"][0]
    assert used["status"] == "used"
    assert used["used_by"]["username"] == "bob"
    assert_error(await client.delete(f"/invites/{invite['id']}", headers=auth), 409, "conflict")

    second = (await client.post("/invites", headers=auth)).json()
    assert_error(await client.post("/invites", headers=auth), 409, "no_invites_left")
    revoked = await client.delete(f"/invites/{second['id']}", headers=auth)
    assert revoked.json() == {"invites_left": 1}
    assert_error(await client.delete("/invites/unknown", headers=auth), 404, "not_found")
    assert_error(await client.get("/invites"), 401, "not_authenticated")


# --- waitlist ------------------------------------------------------------------------------------------------------


async def test_waitlist(client: Client, services: Services) -> None:
    first = await client.post("/waitlist", json={"name": "Grace", "contact": "grace@example.org"})
    again = await client.post("/waitlist", json={"name": "Grace", "contact": "GRACE@example.org"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert_error(await client.post("/waitlist", json={"name": "Grace"}), 422, "invalid_input")

    member = bearer((await signup(client, services, "ada", mode="bearer"))["token"])
    admin = bearer((await signup(client, services, "root", mode="bearer", admin=True))["token"])
    assert_error(await client.get("/waitlist"), 401, "not_authenticated")
    [entry] = (await client.get("/waitlist", headers=member)).json()["entries"]
    assert entry["name"] == "Grace"
    assert entry["contact"] is None
    assert (await client.get("/waitlist", headers=admin)).json()["entries"][0]["contact"] == "grace@example.org"

    nominated = await client.post(f"/waitlist/{entry['id']}/nominate", headers=member)
    assert nominated.status_code == 201
    body = nominated.json()
    assert body["entry"]["name"] == "Grace"
    assert body["invite"]["invites_left"] == 1
    assert (await client.get(f"/invites/check/{body['invite']['code']}")).json()["valid"] is True
    assert (await client.get("/waitlist", headers=member)).json() == {"entries": []}
    assert_error(await client.post(f"/waitlist/{entry['id']}/nominate", headers=member), 409, "conflict")
    assert_error(await client.post("/waitlist/unknown/nominate", headers=member), 404, "not_found")
