"""Losing the network in the web app: the page shows "reconnecting", catches up on what happened meanwhile
(WebSocket resume from its last seq) and hears the room again by itself (media renegotiated), in real Chromium with
real sound."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from playwright.async_api import async_playwright, expect

from tests.e2e.conftest import Salon
from tests.support.browser import DESKTOP, PHONE, SalonApi, hears, launch_browser, log_in, new_context, snap

A_HZ = 440.0
MUSIC_MODE = "localStorage.setItem('salon.musicMode', '1');"
HEAR_OPS = re.compile(r'"op":\s*"media_(stream|listen)"')


async def scenario(salon: Salon, workdir: Path) -> dict[str, float]:
    timings: dict[str, float] = {}
    async with SalonApi(salon.server) as api:
        host = await api.add_member(salon.admin, "rita")
        fan = await api.add_member(salon.admin, "finn")
        late = await api.add_member(salon.admin, "lou")
        room = await api.create_room(host, "Still there?")
    async with async_playwright() as playwright:
        a_browser, b_browser = await asyncio.gather(
            launch_browser(playwright, workdir, "rita", A_HZ), launch_browser(playwright, workdir, "finn", None)
        )
        try:
            a_context = await new_context(a_browser, salon.server, DESKTOP)
            await a_context.add_init_script(MUSIC_MODE)
            await log_in(a_context, salon.server, host)
            a = await a_context.new_page()
            await a.goto(f"/room/{room}")
            await a.get_by_role("button", name="Unmute").click()

            b_context = await new_context(b_browser, salon.server, PHONE)
            await log_in(b_context, salon.server, fan)
            b = await b_context.new_page()
            # When B asked to hear the room, from its WebSocket frames: a broadcast stream's ticket (media_stream),
            # or a WebRTC offer (media_listen).
            negotiations: list[float] = []
            b.on(
                "websocket",
                lambda ws: ws.on(
                    "framesent",
                    lambda f: negotiations.append(time.monotonic()) if HEAR_OPS.search(str(f)) else None,
                ),
            )
            await b.goto("/")
            await b.locator("a.room-card", has_text="Still there?").click()
            await hears(b, A_HZ, timeout=20)
            banner = b.get_by_text("Connection lost — reconnecting…")
            await expect(banner).to_be_hidden()

            await b_context.set_offline(True)
            lost = time.monotonic()
            await expect(banner).to_be_visible(timeout=20_000)
            timings["offline_to_banner_s"] = time.monotonic() - lost
            await snap(b, "reconnecting")
            # Meanwhile someone joins: B must catch up on it after the network is back.
            async with SalonApi(salon.server) as api:
                r = await api.http.post(f"/api/v1/rooms/{room}/join", headers=late.auth)
                assert r.status_code == 200, r.text

            await b_context.set_offline(False)
            back = time.monotonic()
            await expect(banner).to_be_hidden(timeout=20_000)
            timings["online_to_reconnected_s"] = time.monotonic() - back
            await expect(b.locator(f'li.person[data-user-id="{late.user_id}"]')).to_be_visible()
            await hears(b, A_HZ, timeout=20)
            timings["online_to_heard_again_s"] = time.monotonic() - back
            assert any(at > back for at in negotiations), "the sound was renegotiated after the reconnection"
        finally:
            await asyncio.gather(a_browser.close(), b_browser.close())
    return timings


def test_a_lost_network_shows_reconnecting_then_catches_up_and_hears_again(salon: Salon, tmp_path: Path) -> None:
    timings = salon.ns.run(lambda: scenario(salon, tmp_path), timeout=150)
    print("\nreconnect timings:", {k: round(v, 2) for k, v in timings.items()})
    assert timings["online_to_heard_again_s"] < 20
