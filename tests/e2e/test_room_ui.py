"""The web app's room, driven through its UI in three real Chromiums with real sound (docs/ARCHITECTURE.md, "Testing
real audio"): what a person hears is measured on the audio their page receives (the harness's Web Audio probe), never
read off the app.

* A (moderator, 440 Hz microphone, desktop) starts a room from the hallway and unmutes; B (880 Hz microphone,
  phone) joins from the hallway with one tap and hears 440 Hz; so does C (silent microphone, phone).
* B raises a hand, A sees it in the hand queue and invites B up, B accepts and unmutes: C hears 880 Hz; A's ring
  lights on C's screen while A speaks.
* A mutes B: C stops hearing 880 Hz. A moves B to the audience, then removes B: B's page says so, and opening
  the room again is refused.
* B and C listen on the broadcast tier (their browsers decode Opus: the page fetches a stream from a broadcast
  worker), and everything above holds there as on WebRTC; B, on stage, speaks and hears through WebRTC.
* A listener whose browser lacks WebCodecs' AudioDecoder falls back to WebRTC and still hears the room.
* Moderators see how the audience hears the room ("2 listening · 2 broadcast · 0 WebRTC"; the WebRTC fallback counts
  as WebRTC), asked of the server at a bounded rate; nobody else sees it, and their pages never ask for it.
* Timings (click → first audio for a listener) are printed for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from pathlib import Path

from playwright.async_api import Browser, Page, Playwright, async_playwright, expect

from tests.e2e.conftest import Salon
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Device,
    Member,
    SalonApi,
    hears,
    launch_browser,
    log_in,
    new_context,
    snap,
    until_deaf,
)

A_HZ, B_HZ = 440.0, 880.0
SCENARIO_TIMEOUT = 180.0
UI_TIMEOUT_MS = 15_000
# The product keeps the browser's voice processing on; it cuts a steady test tone by ~20 dB and may gate it.
# Music mode (a setting people have too) sends the microphone untouched.
MUSIC_MODE = "localStorage.setItem('salon.musicMode', '1');"
# A browser without WebCodecs' decoder (older Safari, say): the app must fall back to WebRTC.
NO_AUDIO_DECODER = "delete window.AudioDecoder;"
STREAM_PATH = "/v1/stream/"
AUDIENCE_PATH = re.compile(r"/api/v1/rooms/[^/]+/audience$")
TIERS = ".audience-tiers"
TIERS_GAP_S = 3.0  # audience_tiers.js's GAP_MS: requests for the tiers are at least this far apart


def audience_asked(page: Page) -> list[float]:
    """When the page asks the server how the audience hears the room (the moderators' tier line)."""
    asked: list[float] = []
    page.on("request", lambda request: asked.append(time.monotonic()) if AUDIENCE_PATH.search(request.url) else None)
    return asked


def streams_opened(page: Page) -> list[str]:
    """The broadcast streams the page asks for, as they happen."""
    opened: list[str] = []
    page.on("request", lambda request: opened.append(request.url) if STREAM_PATH in request.url else None)
    return opened


async def open_as(
    playwright: Playwright, salon: Salon, workdir: Path, member: Member, mic_hz: float | None, device: Device
) -> tuple[Browser, Page]:
    browser = await launch_browser(playwright, workdir, member.username, mic_hz)
    context = await new_context(browser, salon.server, device)
    await context.add_init_script(MUSIC_MODE)
    await log_in(context, salon.server, member)
    page = await context.new_page()
    await page.goto("/")
    return browser, page


def tile(page: Page, member: Member) -> str:
    return f'li.person[data-user-id="{member.user_id}"]'


async def person_action(page: Page, member: Member, action: str) -> None:
    """A moderator opens someone's menu on the stage or in the audience and picks an action."""
    await page.locator(f"{tile(page, member)} button").click()
    await page.get_by_role("dialog").get_by_role("button", name=action, exact=True).click()


async def scenario(salon: Salon, workdir: Path) -> dict[str, float]:
    timings: dict[str, float] = {}
    async with SalonApi(salon.server) as api:
        ann = salon.admin
        bea = await api.add_member(ann, "bea")
        cyd = await api.add_member(ann, "cyd")
    async with async_playwright() as playwright:
        (a_browser, a), (b_browser, b), (c_browser, c) = await asyncio.gather(
            open_as(playwright, salon, workdir, ann, A_HZ, DESKTOP),
            open_as(playwright, salon, workdir, bea, B_HZ, PHONE),
            open_as(playwright, salon, workdir, cyd, None, PHONE),
        )
        try:
            c_streams = streams_opened(c)
            a_asked, b_asked, c_asked = (audience_asked(page) for page in (a, b, c))
            for page in (a, b, c):
                page.set_default_timeout(UI_TIMEOUT_MS)
            # A starts a room from the hallway and unmutes.
            await a.get_by_role("button", name="Start a room").click()
            await a.get_by_label("What do you want to talk about?").fill("Tones at dusk")
            await a.get_by_label("Topics").fill("audio, tests")
            await a.get_by_role("button", name="Let’s go").click()
            await expect(a.locator(tile(a, ann))).to_be_visible()
            await a.get_by_role("button", name="Unmute").click()
            await expect(a.get_by_role("button", name="Mute", exact=True)).to_be_visible()

            # B joins from the hallway with one tap and hears A.
            await b.reload()  # the hallway refreshes by itself every 20 s; a person would pull to refresh
            card = b.locator("a.room-card", has_text="Tones at dusk")
            await expect(card).to_be_visible()
            await snap(b, "hallway")
            clicked = time.monotonic()
            await card.click()
            timings["b_click_to_first_audio_s"] = time.monotonic() - clicked + await hears(b, A_HZ, timeout=20)
            await c.reload()
            await c.locator("a.room-card", has_text="Tones at dusk").click()
            timings["c_heard_a_s"] = await hears(c, A_HZ, timeout=20)
            assert c_streams, "C, a listener in a browser that decodes Opus, hears the room on the broadcast tier"
            # A, the moderator, sees both on the broadcast tier; B and C, listeners, see no such line.
            await expect(a.locator(TIERS)).to_contain_text("2 listening · 2 broadcast · 0 WebRTC")
            await expect(a.locator(TIERS)).to_have_attribute("title", re.compile("^How listeners receive the sound"))
            for page in (b, c):
                await expect(page.locator(TIERS)).to_have_count(0)

            # A's ring lights on C's screen while A speaks.
            await expect(c.locator(f"{tile(c, ann)}.speaking")).to_be_visible()
            await expect(c.locator("#announcer")).to_have_text("Speaking: Admin")  # said to screen readers too

            # C looks at the hallway meanwhile: still in the room, still hearing it, one tap away from it.
            await c.get_by_role("link", name="Salon — hallway").click()
            in_room = c.get_by_role("region", name="In the room")
            await expect(in_room).to_contain_text("Tones at dusk")
            await hears(c, A_HZ, timeout=5)
            await snap(c, "hallway-in-a-room")
            await in_room.get_by_role("link").click()
            await expect(c.locator(tile(c, ann))).to_be_visible()
            await expect(in_room).to_be_hidden()

            # B raises a hand; A sees it and invites B up; B accepts and unmutes; C hears B.
            await b.get_by_role("button", name="Raise hand").click()
            await expect(a.get_by_role("region", name="Raised hands")).to_contain_text("Bea")
            await a.get_by_role("button", name="Invite Bea up to speak").click()
            await b.get_by_role("button", name="Join the stage").click()
            await expect(b.locator(f"ul.stage {tile(b, bea)}")).to_be_visible()
            await b.get_by_role("button", name="Unmute").click()
            timings["c_heard_b_s"] = await hears(c, B_HZ, timeout=20)
            await expect(a.locator(TIERS)).to_contain_text("1 listening · 1 broadcast · 0 WebRTC")  # B went up
            await expect(b.locator(TIERS)).to_have_count(0)  # a speaker, not a moderator
            await snap(c, "room")
            await snap(a, "room")

            # A mutes B: C no longer hears 880 Hz.
            await person_action(a, bea, "Mute")
            timings["c_deaf_to_b_after_mute_s"] = await until_deaf(c, B_HZ, timeout=10)
            await expect(b.get_by_role("button", name="Unmute")).to_be_visible()

            # A moves B to the audience, then removes B: B is out and cannot come back.
            await person_action(a, bea, "Move to audience")
            await expect(b.locator(f"ul.audience {tile(b, bea)}")).to_be_visible()
            await person_action(a, bea, "Remove from room")
            await a.get_by_role("dialog").get_by_role("button", name="Remove from room").click()  # "Remove Bea?"
            await expect(b.get_by_role("alert")).to_contain_text("Admin removed you from this room.")
            await expect(a.locator(tile(a, bea))).to_have_count(0)
            # The moderation log says what happened, newest first.
            await a.get_by_role("button", name="Room settings").click()
            await a.get_by_role("dialog").get_by_role("button", name="Moderation log").click()
            log = a.get_by_role("dialog", name="Moderation log")
            await expect(log.get_by_role("listitem").first).to_contain_text("Admin removed Bea from the room")
            await expect(log).to_contain_text("Admin moved Bea to the audience")
            await expect(log).to_contain_text("Admin muted Bea")
            await expect(log).to_contain_text("Admin invited Bea to speak")
            await snap(a, "moderation-log")
            await log.get_by_role("button", name="Close").click()
            room_url = a.url
            await b.goto(room_url)
            await expect(b.get_by_role("alert")).to_contain_text("removed you")
            await snap(b, "removed")
            assert b_asked == c_asked == [], "only moderators ask how the audience hears the room"
            assert len(a_asked) >= 3, a_asked
            # Seen from here, a request's time may be late by the test's own delays, never early by much.
            gaps = [later - earlier for earlier, later in itertools.pairwise(a_asked)]
            assert min(gaps) > TIERS_GAP_S / 2, f"A's {len(a_asked)} requests for the tiers, apart by {gaps}"
        finally:
            await asyncio.gather(a_browser.close(), b_browser.close(), c_browser.close())
    return timings


def test_three_browsers_a_room_with_real_sound_through_the_ui(salon: Salon, tmp_path: Path) -> None:
    timings = salon.ns.run(lambda: scenario(salon, tmp_path), timeout=SCENARIO_TIMEOUT)
    print("\nweb room timings:", {k: round(v, 2) for k, v in timings.items()})
    assert timings["b_click_to_first_audio_s"] < 20


# What the browser answers when a person refused the microphone (the permission prompt's "Block").
REFUSE_MICROPHONE = """
navigator.mediaDevices.getUserMedia = () =>
  Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
"""


async def refused_microphone(salon: Salon, workdir: Path) -> None:
    async with SalonApi(salon.server) as api:
        host = await api.add_member(salon.admin, "hal")
        shy = await api.add_member(salon.admin, "sol")
        room = await api.create_room(host, "Mic check")
    async with async_playwright() as playwright:
        (a_browser, a), (b_browser, b) = await asyncio.gather(
            open_as(playwright, salon, workdir, host, A_HZ, DESKTOP),
            open_as(playwright, salon, workdir, shy, None, PHONE),
        )
        try:
            await b.context.add_init_script(REFUSE_MICROPHONE)
            await b.context.add_init_script(NO_AUDIO_DECODER)
            b_streams = streams_opened(b)
            await a.goto(f"/room/{room}")
            await a.get_by_role("button", name="Unmute").click()
            await b.goto(f"/room/{room}")
            await hears(b, A_HZ, timeout=20)
            assert b_streams == [], "no AudioDecoder: B hears the room through WebRTC"
            await expect(a.locator(TIERS)).to_contain_text("1 listening · 0 broadcast · 1 WebRTC")
            await person_action(a, shy, "Invite up")
            await b.get_by_role("button", name="Join the stage").click()
            alert = b.get_by_role("alert").filter(has_text="blocked the microphone")
            await expect(alert).to_be_visible()
            await expect(b.locator(f"ul.stage {tile(b, shy)}")).to_be_visible()  # on stage all the same
            await hears(b, A_HZ, timeout=20)  # and still hearing the room
            await snap(b, "microphone-refused")
        finally:
            await asyncio.gather(a_browser.close(), b_browser.close())


def test_a_refused_microphone_says_so_and_keeps_the_room_audible(salon: Salon, tmp_path: Path) -> None:
    salon.ns.run(lambda: refused_microphone(salon, tmp_path), timeout=120)
