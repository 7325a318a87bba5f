"""Arriving and growing, in real Chromium: a newcomer opens an invite link and sees who invited them, signs up,
goes through getting started (a photo, topics, people to follow — the inviter already followed, someone the inviter
follows followed from the list — and how rooms work) and lands in the hallway; onboarding ends with the inviter
followed. The inviter finds "… followed you" in their notifications and follows back. A second newcomer goes
through the same screens in French.

Seeded over the API: the admin invites Inès (the inviter) and Omar; Inès follows Omar and invites the newcomers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.e2e.conftest import UI_TIMEOUT_MS, Salon
from tests.support.api import png_bytes
from tests.support.browser import DESKTOP, PHONE, Member, SalonApi, launch_browser, log_in, new_context

API = "/api/v1"
TIMEOUT = 150.0


def ok(response: httpx.Response) -> Any:
    assert not response.is_error, f"{response.request.method} {response.request.url.path} → {response.text}"
    return response.json()


def starts_with(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix))


async def following(api: SalonApi, who: Member, user_id: str) -> set[str]:
    page = ok(await api.http.get(f"{API}/users/{user_id}/following", headers=who.auth))
    return {e["user"]["username"] for e in page["users"]}


async def sign_up_in_the_page(page: Page, link: str, username: str, name: str, labels: dict[str, str]) -> None:
    await page.goto(link)
    invited = page.get_by_test_id("invited-by")
    await expect(invited).to_contain_text(labels["invited_by"])
    await expect(invited.locator(".avatar")).to_be_visible()
    await page.get_by_label(labels["username"]).fill(username)
    await page.get_by_label(labels["name"]).fill(name)
    await page.get_by_label(labels["password"]).fill("a-long-and-unguessable-passphrase")
    await page.get_by_role("button", name=labels["submit"]).click()
    await expect(page).to_have_url(starts_with(f"{page.url.split('/invite/')[0]}/start"))


def test_a_newcomer_is_shown_the_inviter_onboards_and_the_inviter_follows_back(salon: Salon, tmp_path: Path) -> None:
    base = salon.server.base_url

    async def scenario(browser: Browser) -> None:
        errors: list[str] = []
        async with SalonApi(salon.server) as api:
            ines = await api.add_member(salon.admin, "ines")
            omar = await api.add_member(salon.admin, "omar")
            ok(await api.http.patch(f"{API}/me", json={"display_name": "Inès Duarte"}, headers=ines.auth))
            ok(await api.http.patch(f"{API}/me", json={"display_name": "Omar Haddad"}, headers=omar.auth))
            ok(await api.http.put(f"{API}/users/{omar.user_id}/follow", headers=ines.auth))
            link = f"{base}/invite/{await api.invite(ines)}"
            link_fr = f"{base}/invite/{await api.invite(ines)}"

            # --- the newcomer, on a phone, in English ---------------------------------------------------------
            context = await new_context(browser, salon.server, PHONE)
            page = await context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("pageerror", lambda error: errors.append(str(error)))
            labels = {
                "invited_by": "Invited by Inès Duarte",
                "username": "Username",
                "name": "Your name",
                "password": "Password",
                "submit": "Create my account",
            }
            await sign_up_in_the_page(page, link, "nell", "Nell Okafor", labels)

            # 1. a photo, through the settings' own upload
            await expect(page.get_by_role("heading", name="Add a photo", level=1)).to_be_visible()
            await expect(page.get_by_text("Step 1 of 4")).to_be_visible()
            photo = {"name": "me.png", "mimeType": "image/png", "buffer": png_bytes()}
            await page.locator('input[type="file"]').set_input_files(photo)  # type: ignore[arg-type]
            await expect(page.locator(".avatar-preview img.avatar")).to_be_visible()
            await expect(page.get_by_role("button", name="Remove photo")).to_be_visible()
            await page.get_by_test_id("start-next").click()

            # 2. topics: at most five; two picked
            await expect(page.get_by_role("heading", name="What do you like to talk about?")).to_be_visible()
            for topic in ("Jazz", "Books"):
                await page.get_by_role("button", name=topic, exact=True).click()
                await expect(page.get_by_role("button", name=topic, exact=True)).to_have_attribute(
                    "aria-pressed", "true"
                )
            await expect(page.get_by_text("2 of 5 picked")).to_be_visible()
            await page.get_by_test_id("start-next").click()

            # 3. people: the inviter first, already followed; then whom she follows
            await expect(page.get_by_role("heading", name="People to follow")).to_be_visible()
            rows = page.locator("ul.start-people > li")
            await expect(rows.first).to_have_attribute("data-reason", "inviter")
            await expect(rows.first).to_contain_text("Inès Duarte")
            await expect(rows.first.get_by_role("button", name=starts_with("Following"))).to_be_visible()
            circle = page.locator(f'ul.start-people > li[data-user-id="{omar.user_id}"]')
            await expect(circle).to_have_attribute("data-reason", "followed_by_inviter")
            await circle.get_by_role("button", name="Follow Omar Haddad").click()
            await expect(circle.get_by_role("button", name=starts_with("Following"))).to_be_visible()
            await page.get_by_test_id("start-next").click()

            # 4. how rooms work, then the hallway
            await expect(page.get_by_role("heading", name="How rooms work")).to_be_visible()
            await expect(page.get_by_text("Raise your hand")).to_be_visible()
            await page.get_by_role("button", name="Go to the hallway").click()
            await expect(page).to_have_url(f"{base}/")
            await expect(page.get_by_role("heading", name="Live now")).to_be_visible()

            # Onboarding ends with the inviter followed (and Omar, picked from the list); topics and "invited by" show.
            nell = ok(await api.http.get(f"{API}/users/by-username/nell", headers=ines.auth))
            assert await following(api, ines, nell["id"]) == {"ines", "omar"}
            assert nell["topics"] == ["jazz", "books"]
            assert nell["avatar_url"]
            await page.goto("/u/nell")
            invited_line = page.get_by_test_id("invited-by")
            await expect(invited_line).to_contain_text("Invited by")
            await expect(invited_line.get_by_role("link", name="Inès Duarte")).to_have_attribute("href", "/u/ines")
            await expect(page.get_by_role("list", name="Topics of interest")).to_contain_text("Jazz")
            await context.close()

            # --- the inviter hears "followed you" and follows back ---------------------------------------------
            context = await new_context(browser, salon.server, DESKTOP)
            await log_in(context, salon.server, ines)
            page = await context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto("/notifications")
            note = page.locator('li.note[data-kind="followed_you"]', has_text="Nell Okafor")
            await expect(note).to_contain_text("Nell Okafor followed you")
            await note.get_by_role("button", name="Follow Nell Okafor back").click()
            await expect(note.get_by_test_id("following-back")).to_have_text("Following")
            assert "nell" in await following(api, ines, ines.user_id)
            await page.reload()  # after a reload it stays "Following", never offers the button again
            note = page.locator('li.note[data-kind="followed_you"]', has_text="Nell Okafor")
            await expect(note.get_by_test_id("following-back")).to_be_visible()
            await expect(note.get_by_role("button", name="Follow Nell Okafor back")).to_have_count(0)
            await context.close()

            # --- a second newcomer, in French ----------------------------------------------------------------
            context = await new_context(browser, salon.server, PHONE)
            await context.add_init_script("localStorage.setItem('salon.lang', 'fr')")
            page = await context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("pageerror", lambda error: errors.append(str(error)))
            labels = {
                "invited_by": "Invité·e par Inès Duarte",
                "username": "Nom d’utilisateur",
                "name": "Votre nom",
                "password": "Mot de passe",
                "submit": "Créer mon compte",
            }
            await sign_up_in_the_page(page, link_fr, "lea", "Léa Martin", labels)
            await expect(page.get_by_role("heading", name="Ajoutez une photo")).to_be_visible()
            await expect(page.get_by_text("Étape 1 sur 4")).to_be_visible()
            await page.get_by_test_id("start-next").click()
            await expect(page.get_by_role("heading", name="De quoi aimez-vous parler ?")).to_be_visible()
            await page.get_by_role("button", name="Cinéma", exact=True).click()
            await page.get_by_test_id("start-next").click()
            await expect(page.get_by_role("heading", name="Des personnes à suivre")).to_be_visible()
            first = page.locator("ul.start-people > li").first
            await expect(first).to_contain_text("Vous a invité·e — déjà suivi·e")
            await expect(first.get_by_role("button", name=starts_with("Abonné"))).to_be_visible()
            await page.get_by_test_id("start-next").click()
            await expect(page.get_by_role("heading", name="Comment marchent les salons")).to_be_visible()
            await page.get_by_role("button", name="Aller au couloir").click()
            await expect(page.get_by_role("heading", name="En direct")).to_be_visible()
            lea = ok(await api.http.get(f"{API}/users/by-username/lea", headers=ines.auth))
            assert lea["topics"] == ["film"]
            assert "ines" in await following(api, ines, lea["id"])
            await context.close()
        assert not errors, f"uncaught errors in the page: {errors}"

    async def go() -> None:
        async with async_playwright() as playwright:
            browser = await launch_browser(playwright, tmp_path, "onboarding", None)
            try:
                await scenario(browser)
            finally:
                await browser.close()

    salon.ns.run(go, timeout=TIMEOUT)
