"""The admin area in real Chromium (one ``salon serve`` for the module): the proofs issue 14 asks for.

* Settings, then invites: the admin sets "invites each new member starts with" to 0 on /admin/settings; a new
  member has none (their /invites says so); the admin finds them on /admin (reached from the app bar's Admin entry,
  which a member does not have), gives them one, and the member then creates an invite and reads its link.
* A report: a member's report on another is on /admin/reports (phone size); the admin disables the reported member
  from it (their session ends) and resolves it with a note, which the page and the API then show; both actions are
  in the instance's log.
* A live room: the admin ends a member's room from /admin/rooms; the room is over for the API too.

Every page is watched: an uncaught script error fails the test.
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.e2e.conftest import Salon
from tests.e2e.test_flows_ui import Watch, add_member, ok, person, run_in_browser, starts_with
from tests.support.browser import DESKTOP, PHONE, SalonApi

API = "/api/v1"


def test_an_admin_grants_invites_to_a_member_who_then_creates_one(salon: Salon, tmp_path: Path) -> None:
    async def scenario(browser: Browser, watch: Watch) -> None:
        # The admin starts from the hallway: the app bar's Admin entry opens the admin area.
        _, admin = await person(browser, salon, watch, salon.admin, DESKTOP)
        await admin.goto("/")
        await admin.get_by_role("link", name="Admin", exact=True).click()
        await expect(admin.get_by_role("heading", name="Admin", level=1)).to_be_visible()
        await admin.get_by_role("link", name="Settings", exact=True).click()  # the admin tab, not "My settings"
        invites = admin.get_by_label("Invites each new member starts with")
        await expect(invites).to_have_value("2")
        await invites.fill("0")
        await admin.get_by_role("button", name="Save").click()
        await expect(admin.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

        async with SalonApi(salon.server) as api:
            mia = await add_member(api, salon.admin, "mia", "Mia Castellanos")
            # Set back for the module's other tests; the log keeps both changes.
            ok(await api.http.patch(f"{API}/admin/settings", json={"invites_per_member": 2}, headers=salon.admin.auth))

        # Mia has none, and no Admin entry; the admin area refuses her.
        _, member = await person(browser, salon, watch, mia, PHONE)
        await member.goto("/invites")
        await expect(member.get_by_text("You have no invites left.")).to_be_visible()
        await expect(member.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
        await member.goto("/admin")
        await expect(member.get_by_role("alert")).to_contain_text("Only admins can open this page.")

        # The admin finds her and gives her one.
        await admin.get_by_role("link", name="Members").click()
        await admin.get_by_role("searchbox", name="Search members").fill("mia")
        row = admin.locator('ul.admin-members li[data-username="mia"]')
        await expect(row).to_contain_text("0 invites left")
        await expect(admin.locator("ul.admin-members > li")).to_have_count(1)
        await row.get_by_role("button", name="Give invites to Mia Castellanos").click()
        dialog = admin.get_by_role("dialog", name="Give invites to Mia Castellanos")
        await dialog.get_by_label("How many").fill("1")
        await dialog.get_by_role("button", name="Give invites").click()
        await expect(row).to_contain_text("1 invite left")
        await expect(admin.get_by_role("status").filter(has_text="Mia Castellanos got 1 more invite.")).to_be_visible()

        # Mia creates an invite with it.
        await member.goto("/invites")
        await member.get_by_role("button", name="Create an invite").click()
        link = member.get_by_role("textbox", name="Invite link")
        await expect(link).to_have_value(starts_with(f"{salon.server.base_url}/invite/"))

        # The log shows it, in French too.
        await admin.get_by_role("link", name="Log").click()
        await expect(admin.locator('ul.admin-log li[data-action="grant_invites"]').first).to_contain_text(
            "Admin gave Mia Castellanos 1 invite"
        )
        await expect(admin.locator('ul.admin-log li[data-action="change_settings"]')).to_have_count(2)
        await admin.evaluate("localStorage.setItem('salon.lang', 'fr')")
        await admin.reload()
        await expect(admin.locator('ul.admin-log li[data-action="grant_invites"]').first).to_contain_text(
            "Admin a donné 1 invitation à Mia Castellanos"
        )
        await admin.evaluate("localStorage.removeItem('salon.lang')")

    run_in_browser(salon, tmp_path, "admin-invites", scenario)


def test_an_admin_disables_a_member_from_a_report_and_resolves_it(salon: Salon, tmp_path: Path) -> None:
    async def scenario(browser: Browser, watch: Watch) -> None:
        async with SalonApi(salon.server) as api:
            uma = await add_member(api, salon.admin, "uma", "Uma Rahman")
            rex = await add_member(api, salon.admin, "rex", "Rex Dalton")
            report = {"user_id": rex.user_id, "reason": "harassment", "details": "Insults in every room."}
            sent = ok(await api.http.post(f"{API}/reports", json=report, headers=uma.auth))

        _, admin = await person(browser, salon, watch, salon.admin, PHONE)
        await admin.goto("/admin/reports")
        card = admin.locator(f'li.report[data-report-id="{sent["id"]}"]')
        await expect(card).to_contain_text("Rex Dalton")
        await expect(card).to_contain_text("Harassment")
        await expect(card).to_contain_text("Insults in every room.")
        await expect(card).to_contain_text("Reported by Uma Rahman")
        await card.get_by_role("button", name="Disable Rex Dalton").click()
        await admin.get_by_role("dialog", name="Disable Rex Dalton?").get_by_role("button", name="Disable").click()
        await expect(admin.get_by_role("status").filter(has_text="Rex Dalton is disabled.")).to_be_visible()
        await card.get_by_label("Note for the other admins").fill("Disabled after three reports.")
        await card.get_by_role("button", name="Resolve").click()
        await expect(card).to_contain_text("Resolved by Admin")
        await expect(card).to_contain_text("Disabled after three reports.")
        await admin.reload()
        await expect(card).to_contain_text("Disabled after three reports.")
        await expect(card.get_by_role("button", name="Resolve")).to_have_count(0)

        async with SalonApi(salon.server) as api:
            assert (await api.http.get(f"{API}/me", headers=rex.auth)).status_code == 401
            reports = ok(await api.http.get(f"{API}/admin/reports", headers=salon.admin.auth))["reports"]
            mine = next(r for r in reports if r["id"] == sent["id"])
            assert mine["resolution_note"] == "Disabled after three reports."
            log = ok(await api.http.get(f"{API}/admin/log", headers=salon.admin.auth))["entries"]
            assert [e["action"] for e in log[:2]] == ["resolve_report", "disable_member"]
            assert log[1]["target"]["id"] == rex.user_id

    run_in_browser(salon, tmp_path, "admin-report", scenario)


def test_an_admin_ends_a_live_room(salon: Salon, tmp_path: Path) -> None:
    async def scenario(browser: Browser, watch: Watch) -> None:
        async with SalonApi(salon.server) as api:
            owner = await add_member(api, salon.admin, "otto", "Otto Berg")
            room = await api.create_room(owner, "Late-night shouting", room_type="closed")

        _, admin = await person(browser, salon, watch, salon.admin, DESKTOP)
        await admin.goto("/admin/rooms")
        row = admin.locator(f'ul.admin-rooms li[data-room-id="{room}"]')
        await expect(row).to_contain_text("Late-night shouting")
        await expect(row).to_contain_text("Closed · 1 person")
        await row.get_by_role("button", name="End the room “Late-night shouting”").click()
        await (
            admin.get_by_role("dialog", name="End “Late-night shouting”?")
            .get_by_role("button", name="End room")
            .click()
        )
        await expect(row).to_have_count(0)
        await expect(admin.get_by_role("status").filter(has_text="“Late-night shouting” has ended.")).to_be_visible()

        async with SalonApi(salon.server) as api:
            snapshot = ok(await api.http.get(f"{API}/rooms/{room}", headers=salon.admin.auth))
            assert snapshot["room"]["ended_at"] is not None
            log = ok(await api.http.get(f"{API}/admin/log", headers=salon.admin.auth))["entries"]
            assert (log[0]["action"], log[0]["room_id"]) == ("end_room", room)

    run_in_browser(salon, tmp_path, "admin-room", scenario)
