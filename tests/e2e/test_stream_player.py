"""The broadcast tier's browser player (``static/app/stream_player.js`` and its modules) in real Chromium, fed by a
stand-in for a broadcast node (``tests/support/fake_stream_node.py``: the spec's records, a 440 Hz tone as real Opus
packets paced in real time, on 127.0.0.1 — no WebRTC here, so no namespace). The page is served under the app's real
Content-Security-Policy and imports the player from the app's static folder as it is.

What a person hears is measured by the harness's probe on the page's <audio> element, never read off the player:
the tone is heard (and its harmonic is not), a stream gone quiet is reported "stalled", a notice ends the stream,
``stop()`` silences it and closes the connection; lost packets become silence of their exact length; ``switchTo()``
closes the old stream only after the new one sent its sound (and keeps it when the new one is refused). The parsing of
records split anywhere and the placing of holes in the decoded audio are checked on their own in the same browser.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from tests.support.browser import (
    HEARD_ABOVE_FLOOR_DB,
    HEARD_DB,
    SILENT_BELOW_PEAK_DB,
    hears,
    launch_browser,
    probe_levels,
    probed_context,
    stays_deaf,
    until_deaf,
)
from tests.support.fake_stream_node import (
    CHUNK_MS,
    LOST_PACKETS,
    PACKET_MS,
    TONE_HZ,
    FakeStreamNode,
    StreamLog,
    opus_tone,
    record,
    running_fake_node,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

HARMONIC_HZ = 2 * TONE_HZ
STALL_AFTER_S = max(1.0, 3 * CHUNK_MS / 1000)  # the player's rule: no byte for max(1 s, 3 chunks)
EVENTS = ("hello", "playing", "blocked", "notice", "refused", "stalled", "ended")

# The page's test hooks: the player on the page's <audio>, every event it dispatches, any CSP violation.
SETUP_JS = """
async (types) => {
  const violations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    violations.push(`${e.violatedDirective} refused ${e.blockedURI}`);
  });
  const { StreamPlayer } = await import('/static/app/stream_player.js');
  const player = new StreamPlayer(document.getElementById('player'));
  const events = [];
  for (const type of types) {
    player.addEventListener(type, (event) => events.push({ type, detail: event.detail ?? null }));
  }
  window.__stream = { player, events, violations };
  return { supported: StreamPlayer.supported(), probe: await StreamPlayer.probe() };
}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node() -> AsyncIterator[FakeStreamNode]:
    async with running_fake_node(opus_tone(TONE_HZ, 60)) as node:
        yield node


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await launch_browser(playwright, tmp_path_factory.mktemp("stream-player"), "listener", None)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, node: FakeStreamNode) -> AsyncIterator[Page]:
    context = await probed_context(browser, node.base_url)
    try:
        page = await context.new_page()
        await page.goto("/")
        support = await page.evaluate(SETUP_JS, list(EVENTS))
        assert support == {"supported": True, "probe": True}, "a secure context (loopback) with WebCodecs' Opus"
        yield page
        assert await page.evaluate("() => window.__stream.violations") == [], "the app's policy allows the player"
    finally:
        await context.close()


async def start(page: Page, node: FakeStreamNode, scenario: str) -> None:
    """Start the player on a stream (not waiting for it: `start()` resolves once the node answered)."""
    url = f"{node.base_url}/v1/stream/{scenario}?ticket=t.{scenario}"
    await page.evaluate("(url) => { window.__started = window.__stream.player.start(url); }", url)


async def started(page: Page) -> bool:
    return bool(await page.evaluate("() => window.__started"))


async def events(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate("() => window.__stream.events")
    return found


async def event(page: Page, type_: str, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
    """Wait for the player's first event of this type; its detail."""
    await page.wait_for_function(
        "(type) => window.__stream.events.some((e) => e.type === type)", arg=type_, timeout=timeout * 1000
    )
    return next(e["detail"] for e in await events(page) if e["type"] == type_)


async def stats(page: Page) -> dict[str, Any]:
    numbers: dict[str, Any] = await page.evaluate("() => window.__stream.player.stats()")
    return numbers


async def stop(page: Page) -> None:
    await page.evaluate("() => window.__stream.player.stop()")


def stream_of(node: FakeStreamNode, name: str) -> StreamLog:
    (log,) = [s for s in node.streams if s.name == name]
    return log


async def test_the_player_plays_the_streams_tone_until_stopped(page: Page, node: FakeStreamNode) -> None:
    await start(page, node, "tone")
    await hears(page, TONE_HZ, timeout=10)
    heard_at = time.monotonic()
    log = stream_of(node, "tone")
    assert log.first_write is not None
    assert await started(page)
    print(f"first audio write → 440 Hz heard: {1000 * (heard_at - log.first_write):.0f} ms (probe polls every 50 ms)")

    heard = await probe_levels(page, TONE_HZ, HARMONIC_HZ)
    assert abs(heard["peak"]["hz"] - TONE_HZ) < 25, f"the loudest frequency is the tone: {heard['peak']}"
    assert heard["tracks"] == 1, "one audio track tapped: the player's, set on the page's <audio>"
    await stays_deaf(page, HARMONIC_HZ)
    numbers = await stats(page)
    print(f"440 Hz {heard['levels'][0]:.1f} dB, 880 Hz {heard['levels'][1]:.1f} dB, floor {heard['floor']:.1f} dB")
    print(f"jitter buffer after {numbers['playedMs']:.0f} ms played: {json.dumps(numbers)}")
    assert numbers["playing"]
    assert numbers["stream"]["chunkMs"] == CHUNK_MS
    assert numbers["stream"]["lost"] == numbers["stream"]["late"] == numbers["stream"]["restarts"] == 0, (
        "the RTP numbers wrapped around in the first chunks without being taken for a loss or a new source"
    )
    assert numbers["gapMs"] == 0
    kinds = [e["type"] for e in await events(page)]
    assert sorted(kinds[:2]) == ["hello", "playing"], kinds
    assert "stalled" not in kinds

    stopped = time.monotonic()
    await stop(page)
    print(f"stop() → 440 Hz gone: {1000 * (time.monotonic() - stopped + await until_deaf(page, TONE_HZ)):.0f} ms")
    await asyncio.wait_for(log.left.wait(), 5)  # the fetch was aborted: the node sees the listener go
    assert await page.evaluate("() => document.getElementById('player').srcObject") is None
    assert [e["type"] for e in await events(page)] == kinds, "stop() dispatches nothing"


async def test_a_stream_that_goes_quiet_is_reported_stalled(page: Page, node: FakeStreamNode) -> None:
    await start(page, node, "quiet")
    await hears(page, TONE_HZ, timeout=10)
    detail = await event(page, "stalled", timeout=10)
    seen = time.monotonic()
    log = stream_of(node, "quiet")
    assert detail == {"reason": "timeout"}
    assert log.last_write is not None
    assert seen - log.last_write >= STALL_AFTER_S, "not before the stall rule says"
    print(f"last write → stalled seen: {1000 * (seen - log.last_write):.0f} ms (rule: {1000 * STALL_AFTER_S:.0f} ms)")
    await asyncio.wait_for(log.left.wait(), 5)  # the player let go of the dead connection
    assert "ended" not in [e["type"] for e in await events(page)], "a stall is for the caller to reconnect"
    await until_deaf(page, TONE_HZ)  # the buffer played out, then silence


async def test_a_notice_ends_the_stream(page: Page, node: FakeStreamNode) -> None:
    await start(page, node, "notice")
    await hears(page, TONE_HZ, timeout=10)
    await event(page, "ended", timeout=10)
    kinds = [e["type"] for e in await events(page)]
    assert kinds[-2:] == ["notice", "ended"], kinds
    assert "stalled" not in kinds
    assert await event(page, "notice") == {"code": "room_ended", "message": "The room has ended."}
    await until_deaf(page, TONE_HZ)


async def test_a_stream_that_ends_without_a_notice_is_reported_stalled(page: Page, node: FakeStreamNode) -> None:
    await start(page, node, "cut")
    assert await event(page, "stalled", timeout=10) == {"reason": "closed"}
    assert "ended" not in [e["type"] for e in await events(page)]


async def test_a_refusal_is_reported_with_the_nodes_code(page: Page, node: FakeStreamNode) -> None:
    await start(page, node, "refused")
    assert not await started(page)
    message = "This ticket was used already."
    assert await event(page, "refused") == {"status": 409, "code": "ticket_used", "message": message}
    assert [e["type"] for e in await events(page) if e["type"] not in ("playing", "blocked")] == ["refused", "ended"]


async def test_lost_packets_become_silence_of_their_length(page: Page, node: FakeStreamNode) -> None:
    await start(page, node, "lossy")
    await hears(page, TONE_HZ, timeout=10)
    deadline = time.monotonic() + 10
    while True:
        numbers = await stats(page)
        assert numbers["stream"] is not None, f"the stream ended: {await events(page)}"
        if numbers["stream"]["packets"] > LOST_PACKETS.stop:
            break
        assert time.monotonic() < deadline, f"the stream did not get past the lost packets in 10 s: {numbers}"
        await asyncio.sleep(0.1)
    assert numbers["stream"]["lost"] == len(LOST_PACKETS)
    assert numbers["gapMs"] == len(LOST_PACKETS) * PACKET_MS, "silence of the missing audio's length, no more"
    await hears(page, TONE_HZ)  # and the tone goes on after the hole
    await stop(page)


# --- the player's parts, alone in the same browser -----------------------------------------------------------------

PARSE_JS = """
async ([stream, sizes]) => {
  const { RecordReader } = await import('/static/app/stream_records.js');
  const bytes = Uint8Array.from(atob(stream), (c) => c.charCodeAt(0));
  const runs = [];
  for (const size of sizes) {
    const reader = new RecordReader();
    const out = [];
    for (let at = 0, step = 0; at < bytes.length; step += 1) {
      const piece = size > 0 ? size : 1 + ((step * 7) % 13); // 0: ragged pieces of 1 to 13 bytes
      for (const r of reader.push(bytes.slice(at, at + piece))) {
        out.push([r.kind, r.seq, r.timestamp, btoa(String.fromCharCode(...r.payload))]);
      }
      at += piece;
    }
    runs.push({ out, pending: reader.pending });
  }
  return runs;
}
"""


async def test_records_split_anywhere_read_the_same(page: Page) -> None:
    payloads = [(2, b'{"room_id":"r","chunk_ms":40}', 0, 0), (0, b"\xf8" + bytes(range(200)), 65535, 2**32 - 960)]
    payloads += [(0, b"\xf8\x01", 0, 0), (9, b"", 1, 2), (0, bytes(300), 1, 960), (1, b'{"code":"removed"}', 0, 0)]
    stream = b"".join(record(kind, payload, seq, ts) for kind, payload, seq, ts in payloads)
    expected = [[kind, seq, ts, base64.b64encode(payload).decode()] for kind, payload, seq, ts in payloads]
    sizes = [len(stream), 1, 2, 3, 9, 10, 11, 64, 0]
    for size, run in zip(
        sizes, await page.evaluate(PARSE_JS, [base64.b64encode(stream + b"\x00\x00\x05").decode(), sizes]), strict=True
    ):
        assert run == {"out": expected, "pending": 3}, f"read in pieces of {size or 'ragged'} bytes"


PIPELINE_JS = """
async ([packets, plan]) => {
  const { OpusPipeline } = await import('/static/app/stream_decoder.js');
  const { opusSamples } = await import('/static/app/stream_records.js');
  const out = [];
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  const pipeline = new OpusPipeline({
    pcm: (planes) => {
      out.push(['pcm', planes.length, planes[0].length]);
      if (out.filter((o) => o[0] === 'pcm').length === plan.expect) done();
    },
    gap: (frames) => out.push(['gap', frames]),
  });
  for (const [index, seq, timestamp] of plan.sends) {
    pipeline.push(seq, timestamp, Uint8Array.from(atob(packets[index]), (c) => c.charCodeAt(0)));
  }
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 5000))]);
  const counts = { ...pipeline.counts };
  pipeline.close();
  return { out, counts, samples: opusSamples(Uint8Array.from(atob(packets[0]), (c) => c.charCodeAt(0))) };
}
"""


async def test_holes_in_the_numbering_are_placed_in_the_decoded_audio(page: Page) -> None:
    packets = [base64.b64encode(p).decode() for p in opus_tone(TONE_HZ, 1)[:12]]
    seq0, ts0 = 0xFFFE, 2**32 - 960  # wrapping right away
    sends = [(i, (seq0 + i) & 0xFFFF, (ts0 + 960 * i) % 2**32) for i in range(4)]  # 4 packets
    sends += [(2, (seq0 + 2) & 0xFFFF, (ts0 + 960 * 2) % 2**32)]  # a duplicate
    sends += [(i, (seq0 + i) & 0xFFFF, (ts0 + 960 * i) % 2**32) for i in range(7, 9)]  # 3 lost
    sends += [(5, (seq0 + 5) & 0xFFFF, (ts0 + 960 * 5) % 2**32)]  # one of them, late
    sends += [(i, (seq0 + i) & 0xFFFF, (ts0 + 960 * i) % 2**32) for i in range(9, 11)]
    sends += [(11, 40000, 123456)]  # a new numbering (a restarted forwarder)
    result = await page.evaluate(PIPELINE_JS, [packets, {"sends": sends, "expect": 9}])
    assert result["samples"] == 960
    pcm = ["pcm", 1, 960]
    assert result["out"] == [pcm] * 4 + [["gap", 3 * 960]] + [pcm] * 4 + [["gap", 0], pcm]
    assert result["counts"] == {"packets": 9, "lost": 3, "late": 2, "restarts": 1, "errors": 0}


# Started by the page itself as it loads, before anyone touched it: nothing may play yet. The events go to the console,
# so the test learns of them without evaluating anything in the page (Playwright's evaluate counts as a gesture).
AUTOSTART_JS = """
window.addEventListener('DOMContentLoaded', async () => {
  const { StreamPlayer } = await import('/static/app/stream_player.js');
  const player = new StreamPlayer(document.getElementById('player'));
  for (const type of ['playing', 'blocked', 'stalled', 'ended']) {
    player.addEventListener(type, () => console.log(`stream-player ${type}`));
  }
  document.addEventListener('click', () => player.play()); // the app's "tap to listen"
  player.start('/v1/stream/tone-autostart?ticket=t');
});
"""


async def test_without_a_gesture_the_player_is_blocked_until_a_tap(browser: Browser, node: FakeStreamNode) -> None:
    context = await probed_context(browser, node.base_url)
    try:
        await context.add_init_script(AUTOSTART_JS)
        page = await context.new_page()
        said: list[str] = []
        changed = asyncio.Event()

        def console(message: ConsoleMessage) -> None:
            if message.text.startswith("stream-player "):
                said.append(message.text.removeprefix("stream-player "))
                changed.set()

        async def until_said(word: str) -> None:
            try:
                async with asyncio.timeout(10):
                    while word not in said:
                        await changed.wait()
                        changed.clear()
            except TimeoutError:
                raise AssertionError(f"waited 10 s for {word!r}; the player said {said}") from None

        page.on("console", console)
        await page.goto("/")
        await until_said("blocked")
        assert said == ["blocked"], "no sound without a gesture: the browser's autoplay rule"
        assert stream_of(node, "tone-autostart").first_write is not None, "the stream itself flows meanwhile"

        await page.mouse.click(5, 5)  # a real tap: the page's handler calls play(), the probe resumes too
        await until_said("playing")
        await hears(page, TONE_HZ, timeout=10)
        assert said == ["blocked", "playing"]
    finally:
        await context.close()


# --- switching streams (an interpretation channel): make-before-break -------------------------------------------

SWITCH_GAP_MS = 60

# `switchTo(url)` in the page, then the probe read every 10 ms for `ms`: what it resolved to, how many readings, and
# the longest stretch without the tone (ms).
SWITCH_JS = f"""
async ([url, hz, ms]) => {{
  const p = window.__salonProbe;
  const switching = window.__stream.player.switchTo(url);
  const started = performance.now();
  let [readings, longest, since] = [0, 0, null];
  while (performance.now() - started < ms) {{
    const [level, floor, peak] = [p.level(hz), p.floor(), p.peak().db];
    const now = performance.now();
    readings += 1;
    if (level >= {HEARD_DB} && level - floor >= {HEARD_ABOVE_FLOOR_DB} && level > peak - {SILENT_BELOW_PEAK_DB}) {{
      since = null;
    }} else {{
      since ??= now;
      longest = Math.max(longest, now - since + 10);
    }}
    await new Promise((resolve) => setTimeout(resolve, 10));
  }}
  return {{ switched: await switching, readings, longestMs: Math.round(longest) }};
}}
"""


async def test_a_switch_reads_the_new_stream_before_letting_the_old_one_go(page: Page, node: FakeStreamNode) -> None:
    await start(page, node, "tone-before")
    await hears(page, TONE_HZ, timeout=10)
    url = f"{node.base_url}/v1/stream/tone-after?ticket=t.after"
    got = await page.evaluate(SWITCH_JS, [url, TONE_HZ, 1500])
    before, after = stream_of(node, "tone-before"), stream_of(node, "tone-after")
    print(f"switch: {got}")
    assert got["switched"] is True
    assert got["readings"] > 50, got
    # Never without the tone for more than the analyser's smearing of the one-block fade (measured: 0 ms; the same
    # switch made break-then-make: 150 ms).
    assert got["longestMs"] <= SWITCH_GAP_MS, got
    await asyncio.wait_for(before.left.wait(), 5)  # the old stream is closed once the new one plays...
    assert after.first_write is not None
    assert before.left_at is not None
    assert before.left_at > after.first_write, "...and not before the new one sent its sound"
    assert not after.left.is_set(), "the new stream plays on"
    await hears(page, TONE_HZ, timeout=5)
    kinds = [e["type"] for e in await events(page)]
    assert "stalled" not in kinds, kinds
    assert "ended" not in kinds, kinds
    numbers = await stats(page)
    assert numbers["stream"] is not None, "the player's stream is the new one"
    await stop(page)


async def test_a_switch_that_is_refused_leaves_the_old_stream_playing(page: Page, node: FakeStreamNode) -> None:
    await start(page, node, "tone-kept")
    await hears(page, TONE_HZ, timeout=10)
    url = f"{node.base_url}/v1/stream/refused-switch?ticket=t.refused"
    switched = await page.evaluate("(url) => window.__stream.player.switchTo(url)", url)
    assert switched is False
    kept = stream_of(node, "tone-kept")
    assert not kept.left.is_set(), "the old stream was not closed"
    await hears(page, TONE_HZ, timeout=5)
    kinds = [e["type"] for e in await events(page)]
    assert "refused" not in kinds, "a failed switch is the caller's answer, not the stream's event"
    await stop(page)
