"""The live hallway in real Chromium, against a real ``salon serve`` (its hallway ticker, once a second): in another
member's open hallway a new room appears within 2 s (measured from the request that opens it), a listener joining
changes its count, an ended room goes away — without a reload, keeping the focused card focused and the cards the
member is reading where they are on screen; a closed room never shows. In English on a phone (390×844) and in
French on a desktop (1280×800), with screenshots of both.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from tests.e2e.conftest import UI_TIMEOUT_MS, Salon
from tests.support.browser import DESKTOP, PHONE, Device, Member, SalonApi, launch_browser, log_in, new_context, snap

API = "/api/v1"
APPEARS_WITHIN_S = 2.0  # the bar for a new room in an open hallway
SCENARIO_TIMEOUT = 120.0


async def _page(browser: Browser, salon: Salon, member: Member, device: Device, errors: list[str]) -> Page:
    context = await new_context(browser, salon.server, device)
    await log_in(context, salon.server, member)
    page = await context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def _run(salon: Salon, tmp_path: Path, name: str, scenario: Callable[[Browser, list[str]], Awaitable[None]]) -> None:
    async def go() -> None:
        errors: list[str] = []
        async with async_playwright() as playwright:
            browser = await launch_browser(playwright, tmp_path, name, None)
            try:
                await scenario(browser, errors)
            finally:
                await browser.close()
        assert not errors, f"uncaught errors in the page: {errors}"

    salon.ns.run(go, timeout=SCENARIO_TIMEOUT)


async def _timed(page: Page, selector: str, state: Any, since: float) -> float:
    """Seconds from ``since`` until ``selector`` reaches ``state`` in the page."""
    await page.locator(selector).wait_for(state=state, timeout=10_000)
    return time.monotonic() - since


async def _top(locator: Locator) -> float:
    """Where the element is on screen (its top, in CSS pixels from the viewport's top)."""
    box = await locator.bounding_box()
    assert box is not None
    return box["y"]


def _card(room_id: str) -> str:
    return f'a.room-card[data-room-id="{room_id}"]'


def test_a_new_room_appears_fills_and_ends_in_an_open_hallway(salon: Salon, tmp_path: Path) -> None:
    async def scenario(browser: Browser, errors: list[str]) -> None:
        async with SalonApi(salon.server) as api:
            hana = await api.add_member(salon.admin, "hana")
            wren = await api.add_member(salon.admin, "wren")
            lia = await api.add_member(salon.admin, "lia")
            older = [
                await api.create_room(await api.add_member(salon.admin, f"host{n}"), f"Older room {n}")
                for n in range(6)
            ]

            page = await _page(browser, salon, wren, PHONE, errors)
            await page.goto("/")
            await expect(page.locator("a.room-card")).to_have_count(len(older))
            # Wren reads down the list: a card low on the screen is the one she is looking at, and is focused.
            reading = page.locator(_card(older[0]))
            await reading.scroll_into_view_if_needed()
            await page.evaluate("window.scrollBy(0, 200)")
            await reading.focus()
            top_before = await _top(reading)

            secret = await api.create_room(hana, "Secret plans", room_type="closed")
            started = time.monotonic()
            room = await api.create_room(hana, "Live jazz tonight")
            appeared = await _timed(page, _card(room), "visible", started)
            assert appeared < APPEARS_WITHIN_S, f"the new room took {appeared:.2f} s to appear"
            card = page.locator(_card(room))
            await expect(card).to_contain_text("1 speaker · 0 listeners")
            await expect(page.locator(_card(secret))).to_have_count(0)  # closed: Wren may not know it exists
            await expect(page.locator("a.room-card").first).to_have_attribute("data-room-id", room)
            assert await page.evaluate("document.activeElement.dataset.roomId") == older[0], "focus kept"
            top_after = await _top(reading)
            assert abs(top_after - top_before) < 2, f"the card being read moved from {top_before} to {top_after}"
            await snap(page, "hallway-live")

            # The connection drops and comes back while Wren reads: a room opened meanwhile comes with the fresh page
            # the hallway watches again, reconciled in place, so the card being read keeps its place and the focus.
            opener = await api.add_member(salon.admin, "opener")
            await page.context.set_offline(True)
            away = await api.create_room(opener, "Opened while away")
            await page.context.set_offline(False)
            await expect(page.locator(_card(away))).to_be_visible()
            assert await page.evaluate("document.activeElement.dataset.roomId") == older[0], "focus kept, reconnected"
            top_after = await _top(reading)
            assert abs(top_after - top_before) < 2, f"moved {top_before} → {top_after} on reconnecting"

            await card.focus()  # the card whose count changes keeps focus: it is refilled, not replaced
            started = time.monotonic()
            r = await api.http.post(f"{API}/rooms/{room}/join", headers=lia.auth)
            assert r.status_code == 200, r.text
            await expect(card).to_contain_text("1 speaker · 1 listener")
            counted = time.monotonic() - started
            assert await page.evaluate("document.activeElement.dataset.roomId") == room, "focus kept on a refilled card"

            started = time.monotonic()
            r = await api.http.post(f"{API}/rooms/{room}/end", headers=hana.auth)
            assert r.status_code == 200, r.text
            ended = await _timed(page, _card(room), "detached", started)
            await expect(page.locator("a.room-card")).to_have_count(len(older) + 1)  # and the one opened while away
            assert page.url == f"{salon.server.base_url}/", "no navigation, no reload"
            print(f"\nhallway live: appeared {appeared:.2f} s, count {counted:.2f} s, ended {ended:.2f} s")

    _run(salon, tmp_path, "hallway-live", scenario)


def test_the_live_hallway_in_french_on_a_desktop(salon: Salon, tmp_path: Path) -> None:
    async def scenario(browser: Browser, errors: list[str]) -> None:
        async with SalonApi(salon.server) as api:
            hote = await api.add_member(salon.admin, "hote")
            zoe = await api.add_member(salon.admin, "zoe")
            ines = await api.add_member(salon.admin, "ines")
            page = await _page(browser, salon, zoe, DESKTOP, errors)
            await page.goto("/")
            await page.evaluate("localStorage.setItem('salon.lang', 'fr')")
            await page.reload()
            await expect(page.get_by_role("heading", name="En direct")).to_be_visible()
            await expect(page.get_by_test_id("hallway-rooms")).to_have_attribute("aria-busy", "false")  # loaded
            shown = await page.locator("a.room-card").count()

            started = time.monotonic()
            room = await api.create_room(hote, "Salon du soir")
            appeared = await _timed(page, _card(room), "visible", started)
            assert appeared < APPEARS_WITHIN_S, f"le salon a mis {appeared:.2f} s à apparaître"
            card = page.locator(_card(room))
            await expect(card).to_contain_text("1 intervenant · 0 auditeur")
            r = await api.http.post(f"{API}/rooms/{room}/join", headers=ines.auth)
            assert r.status_code == 200, r.text
            await expect(card).to_contain_text("1 intervenant · 1 auditeur")
            await snap(page, "hallway-live-fr")
            r = await api.http.post(f"{API}/rooms/{room}/end", headers=hote.auth)
            assert r.status_code == 200, r.text
            await expect(card).to_have_count(0)
            await expect(page.locator("a.room-card")).to_have_count(shown)
            await page.evaluate("localStorage.removeItem('salon.lang')")

    _run(salon, tmp_path, "hallway-live-fr", scenario)
