""" "Until tomorrow morning" (``static/app/screens/settings_notifications.js``: ``nextMorning``) in real Chromium, in
the browser's own time zone: the next 08:00 there — today's while it is still to come, else tomorrow's, also across
a daylight-saving change — sent to the server as an absolute UTC time.

The module is served from the app's own files on a made-up origin (its imports resolve as in the app)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.support.app_modules import load_app_modules

ORIGIN = "http://pause.test"


def next_morning(browser: Browser, zone: str, now_utc: str) -> str:
    context = browser.new_context(timezone_id=zone)
    try:
        page = context.new_page()
        module = f"import * as m from '{ORIGIN}/app/screens/settings_notifications.js'; window.pause = m;"
        load_app_modules(page, ORIGIN, "pause", module, "window.pause !== undefined")
        found: str = page.evaluate("(now) => window.pause.nextMorning(new Date(now)).toISOString()", now_utc)
        return found
    finally:
        context.close()


@pytest.mark.parametrize(
    ("zone", "now", "expected"),
    [
        ("Europe/Paris", "2026-12-03T06:30:00Z", "2026-12-03T07:00:00.000Z"),  # 07:30 there: today's 08:00
        ("Europe/Paris", "2026-12-03T07:00:00Z", "2026-12-04T07:00:00.000Z"),  # 08:00 sharp: tomorrow's
        ("Europe/Paris", "2026-12-03T22:00:00Z", "2026-12-04T07:00:00.000Z"),  # 23:00 there
        ("Europe/Paris", "2026-03-28T22:00:00Z", "2026-03-29T06:00:00.000Z"),  # the night clocks go forward
        ("America/New_York", "2026-12-03T14:00:00Z", "2026-12-04T13:00:00.000Z"),  # 09:00 there
        ("Asia/Kolkata", "2026-12-03T01:00:00Z", "2026-12-03T02:30:00.000Z"),  # 06:30 there, a half-hour zone
    ],
)
def test_until_tomorrow_morning_is_the_next_8_oclock_where_the_member_is(
    bare_chromium: Browser, zone: str, now: str, expected: str
) -> None:
    assert next_morning(bare_chromium, zone, now) == expected
