"""Interpretation channels on the broadcast tier, through the web app, with real sound in real Chromium, a real Janus
and the server's real broadcast workers (issue 15: channels "work on the broadcast tier as on WebRTC", and switching
channel "changes what is heard within 1 s"). What a person hears is measured on the audio their page receives (the
harness's Web Audio probe), never read off the app.

* A (moderator, 440 Hz microphone) opens a room with English on stage and two channels, Russian and French, and
  unmutes; I (660 Hz microphone) is made the Russian interpreter and listens over WebRTC (an interpreter's floor has
  the lowest latency); Li (no microphone, phone) listens on the broadcast tier: the page reads a stream from a
  worker, never asks for a WebRTC listen connection, and A's audience line counts Li on broadcast and I on WebRTC.
* With nobody live, Li picks Русский: the channel's stream plays the floor, saying so, and the floor never drops out
  during the switch (make-before-break: the new stream is read while the old one plays); back to the Original.
* I goes live. Li switches Original → Русский → Original several times, each timed on the page's clock: 660 Hz
  heard within 1 s with the floor at least 10 dB under it, then gone within 1 s. Each switch is a new stream
  (media_channel_stream / media_stream), never media_pick_language. The times are printed.
* Languages given live to a room heard on the broadcast tier: the listener stays on the broadcast tier, the picker
  appears, and a channel with nobody live plays the floor (its own stream).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from tests.e2e.conftest import Salon
from tests.e2e.test_interpretation_ui import (
    DUCKED_DB,
    FLOOR_HZ,
    NOBODY_LIVE,
    RU_HZ,
    SCENARIO_TIMEOUT,
    SWITCH_S,
    answered_in,
    mostly_deaf,
    open_as,
    ops_sent,
    sent,
    switch_until,
    tile,
)
from tests.support.browser import (
    DESKTOP,
    HEARD_ABOVE_FLOOR_DB,
    HEARD_DB,
    PHONE,
    SILENT_BELOW_PEAK_DB,
    SalonApi,
    hears,
    probe_levels,
    snap,
)

STREAM_PATH = "/v1/stream/"
SWITCHES = 3  # Original → Русский → Original, this many times
# A switch between two streams of the floor is watched this long, and the longest stretch without the floor printed
# beside the same watch with no switch. Not asserted: at load average ~20 on 2 cores the broadcast stream alone drops
# out now and then (an underrun: fade, refill to the target), 80-340 ms. What make-before-break guarantees is asserted
# on the streams themselves (`stream_log`): the old one is still open when the new one has answered.
GAP_WATCH_MS = 1500
WEBRTC_LISTEN_OPS = {"media_listen", "media_channel_listen", "media_pick_language"}

# Pick in the page (unless ``value`` is null), then read the probe every 10 ms for ``ms``: how many readings, how
# many did not hear ``hz`` (the harness's thresholds) and the longest stretch without it, in ms. Both sides of the
# switch carry the floor, so a break-then-make gap shows as one long stretch.
GAP_JS = f"""
async ([value, hz, ms]) => {{
  const p = window.__salonProbe;
  const select = document.getElementById("language-picker");
  const started = performance.now();
  if (value !== null) {{
    select.value = value;
    select.dispatchEvent(new Event("change", {{ bubbles: true }}));
  }}
  let [readings, misses, longest, since] = [0, 0, 0, null];
  while (performance.now() - started < ms) {{
    const [level, floor, peak] = [p.level(hz), p.floor(), p.peak().db];
    const now = performance.now();
    readings += 1;
    if (level >= {HEARD_DB} && level - floor >= {HEARD_ABOVE_FLOOR_DB} && level > peak - {SILENT_BELOW_PEAK_DB}) {{
      since = null;
    }} else {{
      misses += 1;
      since ??= now;
      longest = Math.max(longest, now - since + 10);
    }}
    await new Promise((resolve) => setTimeout(resolve, 10));
  }}
  return {{ readings, misses, longestMs: Math.round(longest) }};
}}
"""


def streams_opened(page: Page) -> list[str]:
    """The broadcast streams the page asks for, as they happen."""
    opened: list[str] = []
    page.on("request", lambda request: opened.append(request.url) if STREAM_PATH in request.url else None)
    return opened


def stream_log(page: Page) -> list[tuple[str, str]]:
    """What happens to the page's broadcast streams, in the browser's order: ("asked" | "answered" | "ended", url)."""
    log: list[tuple[str, str]] = []

    def note(what: str, url: str) -> None:
        if STREAM_PATH in url:
            log.append((what, url))

    page.on("request", lambda request: note("asked", request.url))
    page.on("response", lambda response: note("answered", response.url))
    page.on("requestfailed", lambda request: note("ended", request.url))  # aborted by the page
    page.on("requestfinished", lambda request: note("ended", request.url))
    return log


def made_before_broken(log: list[tuple[str, str]], switches: list[int]) -> None:
    """The stream each pick opened (``switches``: how many streams had been asked before it) was answered while the
    one before it was still open."""
    asked = [url for what, url in log if what == "asked"]
    assert switches, log
    assert max(switches) < len(asked), (switches, log)
    for index in switches:
        old, new = asked[index - 1], asked[index]
        answered = log.index(("answered", new))
        ended = log.index(("ended", old)) if ("ended", old) in log else len(log)
        assert answered < ended, f"the old stream ended before the new one answered: {log}"


async def ended(log: list[tuple[str, str]], url: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until the stream at ``url`` has ended (replaced by the page)."""
    for _ in range(int(timeout / 0.05)):
        if ("ended", url) in log:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the stream {url} did not end within {timeout:g} s: {log}")


async def switch_keeps_floor(page: Page, value: str, streams: list[str], switches: list[int]) -> dict[str, object]:
    """Pick ``value`` while both sides carry the floor: a new stream is opened; how the floor was heard meanwhile."""
    before = len(streams)
    switches.append(before)
    watched: dict[str, object] = await page.evaluate(GAP_JS, [value, FLOOR_HZ, GAP_WATCH_MS])
    assert len(streams) > before, f"picked {value or 'Original'}: no new broadcast stream"
    return watched


async def scenario(salon: Salon, workdir: Path) -> dict[str, object]:
    timings: dict[str, object] = {}
    ann = salon.admin
    async with SalonApi(salon.server) as api:
        ivan = await api.add_member(ann, "ivan")
        lea = await api.add_member(ann, "lea")
        body = {"title": "Broadcast booth", "topics": [], "languages": {"floor": "en", "channels": ["ru", "fr"]}}
        created = await api.http.post("/api/v1/rooms", json=body, headers=ann.auth)
        assert created.is_success, created.text
        room = created.json()["room"]["id"]
    async with async_playwright() as playwright:
        (a_browser, a), (i_browser, i), (li_browser, li) = await asyncio.gather(
            open_as(playwright, salon, workdir, ann, FLOOR_HZ, DESKTOP),
            open_as(playwright, salon, workdir, ivan, RU_HZ, DESKTOP),
            open_as(playwright, salon, workdir, lea, None, PHONE),
        )
        try:
            li_replies: dict[int, float] = {}
            li_ops = ops_sent(li, li_replies)
            li_streams = streams_opened(li)
            li_log = stream_log(li)
            switches: list[int] = []
            i_ops = ops_sent(i)
            await a.goto(f"/room/{room}")
            await a.get_by_role("button", name="Unmute").click()
            await i.goto(f"/room/{room}")
            await expect(a.locator(tile(ivan))).to_be_visible()
            await a.locator(f"{tile(ivan)} button").click()
            await a.get_by_role("dialog").get_by_role("button", name="Interpreter for Russian", exact=True).click()
            booth = i.get_by_role("region", name="Your booth: Russian")
            await expect(booth).to_be_visible()

            # Li, a listener in a room with channels, hears it on the broadcast tier like any listener.
            await li.goto(f"/room/{room}")
            await hears(li, FLOOR_HZ, timeout=20)
            await expect(li.get_by_label("Hear")).to_have_value("")
            assert li_streams, "a listener in a room with channels is on the broadcast tier"
            # The interpreter, who came in as a listener, moved to WebRTC on becoming one.
            assert await sent(i_ops, "media_listen"), i_ops

            # Nobody live: the channel's stream plays the floor, and the switch never drops it.
            timings["no_switch"] = await li.evaluate(GAP_JS, [None, FLOOR_HZ, GAP_WATCH_MS])  # for comparison
            watched = await switch_keeps_floor(li, "ru", li_streams, switches)
            timings["to_ru_nobody_live"] = watched
            await expect(li.get_by_test_id("language-status")).to_have_text(NOBODY_LIVE)
            await hears(li, FLOOR_HZ, timeout=5)
            channel = await sent(li_ops, "media_channel_stream")
            assert channel, "the channel is a broadcast stream of its own"
            assert channel[0]["data"] == {"room_id": room, "language": "ru"}
            timings["back_nobody_live"] = await switch_keeps_floor(li, "", li_streams, switches)

            # I goes live; Li switches back and forth, each switch timed in the page.
            await booth.get_by_role("button", name="Go live").click()
            await expect(booth.get_by_role("status")).to_have_text("You are live in Russian.")
            await mostly_deaf(li, RU_HZ, 1.0)  # the Original: the interpreter never reaches the floor
            to_ru: list[float] = []
            to_original: list[float] = []
            answered: list[float] = []
            gaps: list[float] = []
            for _ in range(SWITCHES):
                switches.append(len(li_streams))
                picked = time.monotonic()
                to_ru.append(await switch_until(li, "ru", RU_HZ, "heard"))
                answered.append(answered_in(li_ops, li_replies, "media_channel_stream", picked))
                await asyncio.sleep(0.3)  # the analyser's window past the switch
                for _ in range(8):  # the voice over the floor, in readings 50 ms apart
                    levels = (await probe_levels(li, FLOOR_HZ, RU_HZ))["levels"]
                    gaps.append(levels[1] - levels[0])
                    await asyncio.sleep(0.05)
                switches.append(len(li_streams))
                to_original.append(await switch_until(li, "", RU_HZ, "quiet"))
                await hears(li, FLOOR_HZ, timeout=5)
            await li.get_by_label("Hear").select_option("ru")
            await expect(li.get_by_test_id("language-status")).to_contain_text("You hear the Russian interpreter")
            await snap(li, "language-picker-broadcast")
            timings.update(
                to_ru_s=to_ru,
                to_original_s=to_original,
                channel_answered_s=answered,
                floor_under_voice_db=statistics.median(gaps),
            )
            assert not WEBRTC_LISTEN_OPS & {str(m.get("op")) for m in li_ops}, "Li never left the broadcast tier"
            assert len(li_streams) >= 2 * SWITCHES + 3, [(m.get("op"), m.get("data")) for m in li_ops]
            made_before_broken(li_log, switches)
        finally:
            await asyncio.gather(a_browser.close(), i_browser.close(), li_browser.close())
    return timings


def test_channels_on_the_broadcast_tier_switch_within_a_second(salon: Salon, tmp_path: Path) -> None:
    timings = salon.ns.run(lambda: scenario(salon, tmp_path), timeout=SCENARIO_TIMEOUT)
    print("\nbroadcast channel timings:", timings)
    for watched in (timings["to_ru_nobody_live"], timings["back_nobody_live"]):
        assert isinstance(watched, dict)
        assert watched["readings"] > 50, watched
    to_ru, to_original = timings["to_ru_s"], timings["to_original_s"]
    assert isinstance(to_ru, list)
    assert isinstance(to_original, list)
    assert max(to_ru) < SWITCH_S, timings
    assert max(to_original) < SWITCH_S, timings
    floor_under_voice = timings["floor_under_voice_db"]
    assert isinstance(floor_under_voice, float)
    assert floor_under_voice >= DUCKED_DB, timings


async def languages_added_live(salon: Salon, workdir: Path) -> None:
    """A moderator gives a room heard on the broadcast tier languages live: the listener stays on it, gets the
    picker, and a channel with nobody live is a stream of its own that plays the floor."""
    ann = salon.admin
    async with SalonApi(salon.server) as api:
        una = await api.add_member(ann, "una")
        room = await api.create_room(ann, "Later, languages")
    async with async_playwright() as playwright:
        (a_browser, a), (u_browser, u) = await asyncio.gather(
            open_as(playwright, salon, workdir, ann, FLOOR_HZ, DESKTOP),
            open_as(playwright, salon, workdir, una, None, PHONE),
        )
        try:
            streams = streams_opened(u)
            log = stream_log(u)
            u_ops = ops_sent(u)
            await a.goto(f"/room/{room}")
            await a.get_by_role("button", name="Unmute").click()
            await u.goto(f"/room/{room}")
            await hears(u, FLOOR_HZ, timeout=20)
            assert streams, "a room without languages is heard on the broadcast tier"
            await expect(u.get_by_label("Hear")).to_have_count(0)

            await a.get_by_role("button", name="Room settings").click()
            await a.get_by_role("dialog").get_by_role("button", name="Languages").click()
            dialog = a.get_by_role("dialog", name="Languages")
            await dialog.get_by_label("Spoken on stage").select_option("en")
            await dialog.get_by_role("checkbox", name="Russian").check()
            await dialog.get_by_role("button", name="Save").click()
            await expect(dialog).to_have_count(0)
            await expect(u.locator(".room-languages")).to_contain_text("English · Russian")
            await expect(u.get_by_label("Hear")).to_have_value("")
            original = streams[-1]
            await u.get_by_label("Hear").select_option("ru")
            await expect(u.get_by_test_id("language-status")).to_have_text(NOBODY_LIVE)
            assert await sent(u_ops, "media_channel_stream"), "the channel is its own broadcast stream"
            await ended(log, original)  # the channel's stream took over
            assert STREAM_PATH + "channel-" in streams[-1], streams
            await hears(u, FLOOR_HZ, timeout=10)  # the channel with nobody live plays the floor
            assert not WEBRTC_LISTEN_OPS & {str(m.get("op")) for m in u_ops}, "the listener stayed on broadcast"
        finally:
            await asyncio.gather(a_browser.close(), u_browser.close())


def test_languages_added_live_keep_a_broadcast_listener_on_the_broadcast_tier(salon: Salon, tmp_path: Path) -> None:
    salon.ns.run(lambda: languages_added_live(salon, tmp_path), timeout=SCENARIO_TIMEOUT)
