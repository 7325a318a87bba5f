"""The web app is installable: Chromium itself finds nothing missing in its manifest and icons."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import async_playwright

from tests.e2e.conftest import Salon
from tests.support.browser import PHONE, launch_browser, new_context


async def installability_errors(salon: Salon, workdir: Path) -> list[dict[str, object]]:
    async with async_playwright() as playwright:
        browser = await launch_browser(playwright, workdir, "installer", None)
        try:
            page = await (await new_context(browser, salon.server, PHONE)).new_page()
            await page.goto("/welcome")
            await page.get_by_role("button", name="Log in").first.wait_for()
            cdp = await page.context.new_cdp_session(page)
            manifest = await cdp.send("Page.getAppManifest")
            assert manifest["url"].endswith("/manifest.webmanifest"), manifest
            assert not manifest.get("errors"), manifest["errors"]
            result = await cdp.send("Page.getInstallabilityErrors")
            # Playwright's contexts are off-the-record profiles, where Chromium never offers to install anything;
            # that one is about the test's browser, not the app.
            errors: list[dict[str, object]] = [
                e for e in result["installabilityErrors"] if e["errorId"] != "in-incognito"
            ]
            return errors
        finally:
            await browser.close()


def test_chromium_can_install_the_app(salon: Salon, tmp_path: Path) -> None:
    assert salon.ns.run(lambda: installability_errors(salon, tmp_path), timeout=60) == []
