"""Web app bench: how long a listener waits for sound in the browser — from the tap on a room in the hallway to the
room's audio arriving in the page — through the real app (`salon serve`, its managed Janus) in real Chromium.

    .venv/bin/python bench/web_audio.py              # 20 joins (~1 min; root: it makes a network namespace)
    .venv/bin/python bench/web_audio.py --joins 50

Inside a private network namespace (docs/ARCHITECTURE.md, "Testing real audio"): a moderator's Chromium speaks a
440 Hz tone from its fake microphone; a listener's Chromium opens the hallway, taps the room and waits until its page
hears the tone (the harness's Web Audio probe on the received audio: tests/support/browser.py), then leaves quietly
and does it again. Each join is split at the moment the page sends ``media_listen`` (read from its WebSocket frames):
tap → signalling (screen, join, subscribe) and signalling → audible (WebRTC set-up, Janus, first packets through
decoder and analyser). The probe is polled every 50 ms, so each figure is late by up to ~50 ms plus one evaluate round
trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright, expect

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests` is not installed: the harness is found from the repository
    sys.path.insert(0, str(REPO))

from tests.support.browser import (  # noqa: E402
    DESKTOP,
    PHONE,
    SalonApi,
    SalonServer,
    hears,
    launch_browser,
    log_in,
    new_context,
    running_salon,
)
from tests.support.netns import NetNamespace, network_namespace  # noqa: E402

TONE_HZ = 440.0
MUSIC_MODE = "localStorage.setItem('salon.musicMode', '1');"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(server: SalonServer, workdir: Path, joins: int) -> dict[str, list[float]]:
    async with SalonApi(server) as api:
        admin = await api.sign_up_admin()
        host = await api.add_member(admin, "host")
        fan = await api.add_member(admin, "fan")
        room = await api.create_room(host, "Bench room")
    out: dict[str, list[float]] = {"tap_to_audible_s": [], "tap_to_signalling_s": [], "signalling_to_audible_s": []}
    async with async_playwright() as playwright:
        speaker_browser = await launch_browser(playwright, workdir, "host", TONE_HZ)
        listener_browser = await launch_browser(playwright, workdir, "fan", None)
        try:
            speaker_context = await new_context(speaker_browser, server, DESKTOP)
            await speaker_context.add_init_script(MUSIC_MODE)
            await log_in(speaker_context, server, host)
            speaker = await speaker_context.new_page()
            await speaker.goto(f"/room/{room}")
            await speaker.get_by_role("button", name="Unmute").click()

            context = await new_context(listener_browser, server, PHONE)
            await log_in(context, server, fan)
            page = await context.new_page()
            sent: list[float] = []
            page.on(
                "websocket",
                lambda ws: ws.on(
                    "framesent", lambda f: sent.append(time.monotonic()) if "media_listen" in str(f) else None
                ),
            )
            await page.goto("/")
            for n in range(joins):
                card = page.locator("a.room-card", has_text="Bench room")
                await expect(card).to_be_visible(timeout=20_000)
                tapped = time.monotonic()
                await card.click()
                audible = tapped + await hears(page, TONE_HZ, timeout=20)
                signalling = next((t for t in sent if t > tapped), audible)
                out["tap_to_audible_s"].append(audible - tapped)
                out["tap_to_signalling_s"].append(signalling - tapped)
                out["signalling_to_audible_s"].append(audible - signalling)
                print(f"join {n + 1}: {audible - tapped:.3f} s", flush=True)
                await page.get_by_role("button", name="Leave quietly").click()
                await expect(page.locator("a.room-card", has_text="Bench room")).to_be_visible(timeout=20_000)
                await asyncio.sleep(0.5)  # the old connection's last audio fades from the analyser
        finally:
            await asyncio.gather(speaker_browser.close(), listener_browser.close())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--joins", type=int, default=20, help="taps on the room (default 20)")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="salon-web-bench-") as tmp:
        workdir = Path(tmp)
        ns: NetNamespace
        with network_namespace("salon-webbench") as ns, running_salon(ns, workdir) as server:
            runs = ns.run(lambda: measure(server, workdir, args.joins), timeout=60 + 15 * args.joins)
    summary = {
        name: {
            "p50_ms": round(1000 * statistics.median(values), 1),
            "p95_ms": round(1000 * percentile(values, 0.95), 1),
            "max_ms": round(1000 * max(values), 1),
        }
        for name, values in runs.items()
    }
    print("\n| listener, in Chromium | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|")
    for name, row in summary.items():
        print(f"| {name} | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} |")
    print(json.dumps({"joins": args.joins, **summary}))
    if args.json:
        args.json.write_text(json.dumps({"joins": args.joins, "runs": runs, **summary}, indent=2))


if __name__ == "__main__":
    main()
