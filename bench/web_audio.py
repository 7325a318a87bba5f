"""Web app bench: how long a listener waits for sound in the browser, on both listening tiers side by side — the
broadcast tier (WebCodecs: one HTTP stream from a broadcast worker) and WebRTC — in the same room and the same run,
through the real app (`salon serve`, its managed Janus, its broadcast workers) in real Chromium.

    .venv/bin/python bench/web_audio.py                       # 20 joins per tier, 20 unmutes (~1 min; root)
    .venv/bin/python bench/web_audio.py --joins 30 --tones 50 --json web.json

Inside a private network namespace (docs/ARCHITECTURE.md, "Testing real audio") a moderator's Chromium speaks a
440 Hz tone from its fake microphone, and two listeners, each in a Chromium of their own, are measured in turn:
one whose page has WebCodecs (it hears the broadcast tier) and one whose page had ``AudioDecoder`` deleted before any
script ran (the app falls back to WebRTC). Every join is checked for the tier it used: the broadcast page must send
``media_stream`` and fetch a ``/v1/stream/`` URL, the WebRTC page must send ``media_listen`` and never fetch one; a
join on the wrong tier stops the bench.

1. Join → first audible sound: the listener taps the room's card in the hallway; the clock stops when the harness's
   Web Audio probe on the page's received audio hears the tone (tests/support/browser.py); it leaves quietly, and the
   other listener goes. Each join is split where the page sends its signalling op (``media_stream`` or
   ``media_listen``). All three instants are read inside the page (a capturing click listener, a wrapped
   ``WebSocket.send``, the probe polled every 10 ms by a loop in the page), so no Playwright round trip is counted.
2. Mouth-to-ear: both listeners stay in the room; the moderator mutes herself (the button), both pages go silent,
   then she unmutes; from the moment her page sends ``self_mute`` to the moment each listener's probe hears the tone.
   The speaker's and listeners' instants come from three browsers' ``performance.now()``, put on this process's
   monotonic clock by offsets measured with the fastest of several ``evaluate`` round trips (checked again at the end:
   they must not drift). The figure includes the unmute's way through the app and Janus and the speaker's Chromium
   re-enabling its track (the same for both tiers; the part up to her track is printed too), each tier's own path,
   the listener's Chromium up to the probe's analyser (not an output device), and the probe itself: its 85 ms FFT
   window must hold some of the tone (about 14 ms of it at the level received) and the 10 ms polling. Both tiers pay
   the same for the probe, so the difference is the tiers' own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Request, async_playwright, expect

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `tests` is not installed: the harness is found from the repository
    sys.path.insert(0, str(REPO))

from tests.support.browser import (  # noqa: E402
    DESKTOP,
    HEARD_ABOVE_FLOOR_DB,
    HEARD_DB,
    PHONE,
    SILENT_ABOVE_FLOOR_DB,
    SILENT_BELOW_PEAK_DB,
    SILENT_DB,
    Member,
    SalonApi,
    SalonServer,
    launch_browser,
    log_in,
    new_context,
    running_salon,
)
from tests.support.netns import NetNamespace, network_namespace  # noqa: E402

TONE_HZ = 440.0
ROOM_TITLE = "Bench room"
MUSIC_MODE = "localStorage.setItem('salon.musicMode', '1');"
NO_WEBCODECS = "delete window.AudioDecoder;"  # the app's StreamPlayer.supported() is false: WebRTC it is
STREAM_PATH = "/v1/stream/"
POLL_MS = 10
JOIN_QUIET_MS = 100  # before a tap: the last join's sound has faded from the analyser
TONE_QUIET_MS = 300  # before an unmute: the mute reached both listeners
HEAR_TIMEOUT_MS = 15_000
MAX_CLOCK_DRIFT_S = 0.005

# In every page, after the harness's probe: the instants the bench needs, read on the page's own clock.
# * taps: a capturing click listener on window (it runs before the app's own handler);
# * mics: when an audio track is switched on (the app does it for the speaker's microphone on `mute_changed`);
# * sent: the signalling ops of interest, when the page hands them to its WebSocket;
# * arm(): wait until the probe has been quiet for quietMs (else reject), then poll it every everyMs in the page
#   until the tone is heard; heard() gives that instant, or null after timeoutMs, with the last reading.
BENCH_JS = """
(() => {
  if (window.__salonBench) return;
  const OPS = ['media_stream', 'media_listen', 'self_mute'];
  const sent = [];
  const taps = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === 'string') {
      for (const op of OPS) if (data.includes(`"op":"${op}"`)) sent.push({ op, t: performance.now(), frame: data });
    }
    return send.call(this, data);
  };
  window.addEventListener('click', () => taps.push(performance.now()), true);
  const mics = [];
  const enabled = Object.getOwnPropertyDescriptor(MediaStreamTrack.prototype, 'enabled');
  Object.defineProperty(MediaStreamTrack.prototype, 'enabled', {
    ...enabled,
    set(on) {
      if (on && !enabled.get.call(this) && this.kind === 'audio') mics.push(performance.now());
      enabled.set.call(this, on);
    },
  });
  const read = (hz) => {
    const p = window.__salonProbe;
    return { level: p.level(hz), floor: p.floor(), peak: p.peak().db };
  };
  const heardIn = (r, o) => r.level >= o.heardDb && r.level - r.floor >= o.heardAboveFloor
    && r.level > r.peak - o.belowPeak;
  const quietIn = (r, o) => r.level < o.silentDb || r.level - r.floor < o.silentAboveFloor
    || r.level <= r.peak - o.belowPeak;
  let armed = null;
  window.__salonBench = {
    taps: (since) => taps.filter((t) => t >= since),
    mics: (since) => mics.filter((t) => t >= since),
    sent: (since) => sent.filter((s) => s.t >= since),
    arm: (o) => new Promise((ready, refuse) => {
      const started = performance.now();
      let quietSince = null;
      const waitQuiet = () => {
        const now = performance.now();
        const r = read(o.hz);
        if (!quietIn(r, o)) quietSince = null;
        else if (quietSince === null) quietSince = now;
        if (quietSince !== null && now - quietSince >= o.quietMs) return listen(now);
        if (now - started > 5000) return refuse(new Error(`never quiet: ${JSON.stringify(r)}`));
        setTimeout(waitQuiet, o.everyMs);
      };
      const listen = (armedAt) => {
        let last = armedAt;
        let maxGap = 0;
        armed = new Promise((resolve) => {
          const tick = () => {
            const now = performance.now();
            maxGap = Math.max(maxGap, now - last);
            last = now;
            const r = read(o.hz);
            if (heardIn(r, o)) return resolve({ t: now, armedAt, maxGap, ...r });
            if (now - armedAt > o.timeoutMs) return resolve({ t: null, armedAt, maxGap, ...r });
            setTimeout(tick, o.everyMs);
          };
          tick();
        });
        ready(armedAt);
      };
      waitQuiet();
    }),
    heard: () => armed,
  };
})();
"""


class WrongTier(AssertionError):
    """A join was heard on the other tier than the one its page was set up for."""


@dataclass
class Listener:
    tier: str  # "broadcast" | "webrtc"
    page: Page
    stream_urls: list[str] = field(default_factory=list)  # every /v1/stream/ request the page made
    offset_s: float = 0.0  # monotonic seconds minus the page's performance.now() seconds

    @property
    def op(self) -> str:
        return "media_stream" if self.tier == "broadcast" else "media_listen"

    async def arm(self, quiet_ms: int) -> float:
        options = {
            "hz": TONE_HZ,
            "heardDb": HEARD_DB,
            "heardAboveFloor": HEARD_ABOVE_FLOOR_DB,
            "silentDb": SILENT_DB,
            "silentAboveFloor": SILENT_ABOVE_FLOOR_DB,
            "belowPeak": SILENT_BELOW_PEAK_DB,
            "everyMs": POLL_MS,
            "quietMs": quiet_ms,
            "timeoutMs": HEAR_TIMEOUT_MS,
        }
        return float(await self.page.evaluate("(o) => window.__salonBench.arm(o)", options))

    async def heard(self, what: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("() => window.__salonBench.heard()")
        if result["t"] is None:
            raise AssertionError(
                f"{self.tier} listener did not hear {TONE_HZ:g} Hz within {HEAR_TIMEOUT_MS} ms ({what}): "
                f"last level {result['level']:.0f} dB, floor {result['floor']:.0f} dB"
            )
        return result


async def sent_since(page: Page, since: float) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = await page.evaluate("(t) => window.__salonBench.sent(t)", since)
    return sent


async def clock_offset(page: Page, samples: int = 15) -> tuple[float, float]:
    """This process's monotonic clock minus the page's ``performance.now()`` (s), from the fastest round trip of
    ``samples``; and that round trip (the offset is right within half of it)."""
    best: tuple[float, float] | None = None
    for _ in range(samples):
        before = time.monotonic()
        page_ms = float(await page.evaluate("() => performance.now()"))
        after = time.monotonic()
        if best is None or after - before < best[1]:
            best = ((before + after) / 2 - page_ms / 1000, after - before)
    assert best is not None
    return best


async def join_once(listener: Listener, n: int, *, leave: bool = True) -> dict[str, float]:
    """Tap the room in the hallway, hear it, check the tier, leave quietly (unless told to stay); the join's split
    (s)."""
    page = listener.page
    card = page.locator("a.room-card", has_text=ROOM_TITLE)
    await expect(card).to_be_visible(timeout=20_000)
    streams_before = len(listener.stream_urls)
    armed_at = await listener.arm(JOIN_QUIET_MS)
    await card.click()
    heard = await listener.heard(f"join {n}")
    taps: list[float] = await page.evaluate("(t) => window.__salonBench.taps(t)", armed_at)
    sent = [s for s in await sent_since(page, armed_at) if s["op"] in ("media_stream", "media_listen")]
    ops = {s["op"] for s in sent}
    fetched = listener.stream_urls[streams_before:]
    if listener.tier == "broadcast" and (ops != {"media_stream"} or not fetched):
        raise WrongTier(f"broadcast join {n} sent {sorted(ops)} and fetched {len(fetched)} stream URL(s)")
    if listener.tier == "webrtc" and (ops != {"media_listen"} or listener.stream_urls):
        raise WrongTier(f"WebRTC join {n} sent {sorted(ops)} and fetched {listener.stream_urls[:1]}")
    tap = taps[0] if taps else None
    signalling = next((s["t"] for s in sent if tap is not None and s["op"] == listener.op and s["t"] >= tap), None)
    if tap is None or signalling is None:
        raise AssertionError(f"{listener.tier} join {n}: taps {taps}, signalling sent {sent}")
    if leave:
        await page.get_by_role("button", name="Leave quietly").click()
    return {
        "tap_to_audible_s": (heard["t"] - tap) / 1000,
        "tap_to_signalling_s": (signalling - tap) / 1000,
        "signalling_to_audible_s": (heard["t"] - signalling) / 1000,
    }


async def unmute_once(speaker: Page, speaker_offset: float, listeners: list[Listener], n: int) -> dict[str, float]:
    """Mute, wait until both listeners are quiet, unmute; each listener's mouth-to-ear (s)."""
    await speaker.get_by_role("button", name="Mute", exact=True).click()
    unmute = speaker.get_by_role("button", name="Unmute", exact=True)
    await expect(unmute).to_be_visible(timeout=10_000)
    await asyncio.gather(*(listener.arm(TONE_QUIET_MS) for listener in listeners))
    # Unmutes land anywhere within a packet or a chunk (a spread, not a secret).
    await asyncio.sleep(random.uniform(0, 0.1))  # noqa: S311
    since = float(await speaker.evaluate("() => performance.now()"))
    await unmute.click()
    heard = await asyncio.gather(*(listener.heard(f"unmute {n}") for listener in listeners))
    sent = [s for s in await sent_since(speaker, since) if s["op"] == "self_mute"]
    if len(sent) != 1 or '"muted":false' not in sent[0]["frame"]:
        raise AssertionError(f"unmute {n}: the speaker's page sent {[s['frame'] for s in sent]}")
    mics: list[float] = await speaker.evaluate("(t) => window.__salonBench.mics(t)", since)
    if not mics:
        raise AssertionError(f"unmute {n}: the speaker's page never switched her microphone track on")
    sent_at = sent[0]["t"] / 1000 + speaker_offset
    await expect(speaker.get_by_role("button", name="Mute", exact=True)).to_be_visible(timeout=10_000)
    out = {
        listener.tier: r["t"] / 1000 + listener.offset_s - sent_at for listener, r in zip(listeners, heard, strict=True)
    }
    return out | {
        "mouth_to_ear_difference_s": out["broadcast"] - out["webrtc"],
        "max_poll_gap_s": max(r["maxGap"] for r in heard) / 1000,
        "unmute_to_mic_on_s": (mics[0] - sent[0]["t"]) / 1000,
    }


async def listener_page(browser: Browser, server: SalonServer, member: Member, tier: str) -> Listener:
    context = await new_context(browser, server, PHONE)
    if tier == "webrtc":
        await context.add_init_script(NO_WEBCODECS)
    await context.add_init_script(BENCH_JS)
    await log_in(context, server, member)
    page = await context.new_page()
    listener = Listener(tier, page)

    def saw(request: Request) -> None:
        if STREAM_PATH in request.url:
            listener.stream_urls.append(request.url)

    page.on("request", saw)
    await page.goto("/")
    return listener


async def mouth_to_ear(speaker: Page, listeners: list[Listener], tones: int, runs: dict[str, Any]) -> None:
    """Both listeners in the room: ``tones`` unmutes, on one clock; checks the clocks and the tiers afterwards."""
    pages = [speaker, *(listener.page for listener in listeners)]
    before = [await clock_offset(page) for page in pages]
    for listener, (offset, _) in zip(listeners, before[1:], strict=True):
        listener.offset_s = offset
    since = [float(await listener.page.evaluate("() => performance.now()")) for listener in listeners]
    streams = {listener.tier: len(listener.stream_urls) for listener in listeners}
    for n in range(1, tones + 1):
        heard = await unmute_once(speaker, before[0][0], listeners, n)
        for listener in listeners:
            runs[listener.tier].setdefault("mouth_to_ear_s", []).append(heard[listener.tier])
        for name in ("mouth_to_ear_difference_s", "max_poll_gap_s", "unmute_to_mic_on_s"):
            runs.setdefault(name, []).append(heard[name])
        print(f"unmute {n}: broadcast {heard['broadcast']:.3f} s, WebRTC {heard['webrtc']:.3f} s", flush=True)
    # The offsets hold only if no page was reloaded and the clocks kept step: checked, not assumed.
    after = [await clock_offset(page) for page in pages]
    drift = max(abs(a[0] - b[0]) for a, b in zip(after, before, strict=True))
    if drift > MAX_CLOCK_DRIFT_S:
        raise AssertionError(f"the pages' clocks moved by {1000 * drift:.1f} ms against this process's")
    runs["clock_uncertainty_s"] = max(rtt for _, rtt in before + after) / 2
    # The unmutes were heard on the right tiers; a broadcast stream opened again meanwhile (a stall, a cut) is
    # counted, as it would put a reconnect into a figure.
    for listener, t in zip(listeners, since, strict=True):
        ops = sorted({s["op"] for s in await sent_since(listener.page, t)})
        if ops or (listener.tier == "webrtc" and listener.stream_urls):
            raise WrongTier(f"during the unmutes the {listener.tier} page sent {ops}, fetched {listener.stream_urls}")
        runs[f"{listener.tier}_streams_reopened"] = len(listener.stream_urls) - streams[listener.tier]


async def measure(server: SalonServer, workdir: Path, joins: int, tones: int) -> dict[str, Any]:
    async with SalonApi(server) as api:
        admin = await api.sign_up_admin()
        host = await api.add_member(admin, "host")
        fans = [await api.add_member(admin, name) for name in ("fan_broadcast", "fan_webrtc")]
        room = await api.create_room(host, ROOM_TITLE)
    runs: dict[str, Any] = {"broadcast": {}, "webrtc": {}}
    async with async_playwright() as playwright:
        browsers = [
            await launch_browser(playwright, workdir, name, hz)
            for name, hz in (("host", TONE_HZ), ("fan-broadcast", None), ("fan-webrtc", None))
        ]
        try:
            speaker_context = await new_context(browsers[0], server, DESKTOP)
            await speaker_context.add_init_script(MUSIC_MODE)
            await speaker_context.add_init_script(BENCH_JS)
            await log_in(speaker_context, server, host)
            speaker = await speaker_context.new_page()
            await speaker.goto(f"/room/{room}")
            await speaker.get_by_role("button", name="Unmute", exact=True).click()
            listeners = [
                await listener_page(browsers[1], server, fans[0], "broadcast"),
                await listener_page(browsers[2], server, fans[1], "webrtc"),
            ]
            for n in range(1, joins + 1):
                # Alternate who goes first, so neither tier always follows the other's leave.
                for listener in listeners if n % 2 else listeners[::-1]:
                    split = await join_once(listener, n)
                    for name, value in split.items():
                        runs[listener.tier].setdefault(name, []).append(value)
                    print(f"join {n} {listener.tier}: {split['tap_to_audible_s']:.3f} s", flush=True)
            for listener in listeners:  # both stay in the room now
                await join_once(listener, joins + 1, leave=False)
            await mouth_to_ear(speaker, listeners, tones, runs)
        finally:
            await asyncio.gather(*(browser.close() for browser in browsers))
    return runs


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--joins", type=int, default=20, help="taps on the room per tier (default 20)")
    parser.add_argument("--tones", type=int, default=20, help="unmutes for mouth-to-ear (default 20)")
    parser.add_argument("--json", type=Path, help="also write the summary and every figure here")
    args = parser.parse_args()
    if args.joins < 1 or args.tones < 1:
        parser.error("--joins and --tones need at least 1")
    load_before = os.getloadavg()[0]  # the figures move with the machine's load: it goes with them
    with tempfile.TemporaryDirectory(prefix="salon-web-bench-") as tmp:
        workdir = Path(tmp)
        ns: NetNamespace
        with network_namespace("salon-webbench") as ns, running_salon(ns, workdir) as server:
            timeout = 90 + 10 * args.joins + 5 * args.tones
            runs = ns.run(lambda: measure(server, workdir, args.joins, args.tones), timeout=timeout)
    runs["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print_summary(runs, args.joins, args.tones, args.json)


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(1000 * statistics.median(values), 1),
        "p95_ms": round(1000 * percentile(values, 0.95), 1),
        "max_ms": round(1000 * max(values), 1),
    }


ROWS = {
    "tap_to_audible_s": "join: tap → audible",
    "tap_to_signalling_s": "join: tap → signalling sent (`media_stream` / `media_listen`)",
    "signalling_to_audible_s": "join: signalling → audible",
    "mouth_to_ear_s": "mouth-to-ear: unmute sent → audible",
}


def print_summary(runs: dict[str, Any], joins: int, tones: int, path: Path | None) -> None:
    summary: dict[str, Any] = {"joins": joins, "tones": tones}
    for tier in ("broadcast", "webrtc"):
        summary[tier] = {name: stats(runs[tier][name]) for name in ROWS}
    summary["mouth_to_ear_difference"] = stats(runs["mouth_to_ear_difference_s"])
    summary["unmute_to_mic_on"] = stats(runs["unmute_to_mic_on_s"])
    summary["max_poll_gap_ms"] = round(1000 * max(runs["max_poll_gap_s"]), 1)
    summary["clock_uncertainty_ms"] = round(1000 * runs["clock_uncertainty_s"], 1)
    summary["broadcast_streams_reopened"] = runs["broadcast_streams_reopened"]
    summary["load_average"] = runs["load_average"]  # 1-minute, before and after

    def cell(row: dict[str, float]) -> str:
        return f"{row['p50_ms']:.0f} / {row['p95_ms']:.0f} / {row['max_ms']:.0f}"

    print(
        f"\n| in Chromium, same room and run ({joins} joins per tier, {tones} unmutes) "
        "| broadcast p50 / p95 / max ms | WebRTC p50 / p95 / max ms |\n|---|---:|---:|"
    )
    for name, label in ROWS.items():
        print(f"| {label} | {cell(summary['broadcast'][name])} | {cell(summary['webrtc'][name])} |")
    print(f"| mouth-to-ear, broadcast − WebRTC (same unmute) | {cell(summary['mouth_to_ear_difference'])} | |")
    print(
        "| … of it the same for both: unmute sent → the speaker's microphone track on (`mute_changed` back) | "
        f"{cell(summary['unmute_to_mic_on'])} | |"
    )
    for name, label in (("mouth_to_ear_s", "mouth-to-ear"), ("tap_to_audible_s", "join → first audible sound")):
        p50 = summary["broadcast"][name]["p50_ms"]
        print(f"target: broadcast {label} p50 ≤ 300 ms: {p50:.0f} ms, {'met' if p50 <= 300 else 'NOT met'}")
    print(json.dumps(summary))
    if path:
        path.write_text(json.dumps({**summary, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
