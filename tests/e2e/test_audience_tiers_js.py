"""The moderators' audience-tier watch (``static/app/audience_tiers.js``) in real Chromium, on a fake clock and a fake
``load``: it asks at once, then every poll; pokes (the audience changed) make one request, never two in flight and
never two closer than the gap; a refusal that asking again will not change (not a moderator, not in the room, no
room...) hides the line and ends the asking; any other failure keeps the last answer on screen; stopping ends the
asking and drops an answer still on its way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

MODULE_JS = Path(__file__).parents[2] / "src" / "salon" / "web" / "static" / "app" / "audience_tiers.js"
POLL_MS, GAP_MS = 10_000, 3_000  # the module's own; spread is off (random() = 0.5) so polls come at POLL_MS

# Time is the page's own fake: setTimeout, clearTimeout and performance.now run on `clock`, and `advance(ms)` fires
# the timers due in order, letting the promises they start settle in between (on the real event loop). `load` is a
# request the test answers: `answer(value)` or `fail(status)`; `calls` are the times each was made.
HARNESS_JS = """
const realTimeout = window.setTimeout.bind(window);
const settle = () => new Promise((r) => realTimeout(r, 0));
const clock = { now: 0, timers: new Map(), next: 1 };
window.setTimeout = (fn, ms) => {
  const id = clock.next++;
  clock.timers.set(id, { at: clock.now + Math.max(0, ms || 0), fn });
  return id;
};
window.clearTimeout = (id) => clock.timers.delete(id);
Object.defineProperty(performance, "now", { value: () => clock.now });
window.advance = async (ms) => {
  const end = clock.now + ms;
  await settle();
  for (;;) {
    const due = [...clock.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
    if (!due) break;
    clock.timers.delete(due[0]);
    clock.now = due[1].at;
    due[1].fn();
    await settle();
  }
  clock.now = end;
  await settle();
};
window.watchFor = (TiersWatch, opts) => {
  const w = { calls: [], shown: [], pending: null };
  const load = () => new Promise((resolve, reject) => {
    w.calls.push(clock.now);
    w.pending = { resolve, reject };
  });
  w.watch = new TiersWatch(load, (tiers) => w.shown.push(tiers), { random: () => 0.5, ...opts });
  w.answer = async (value) => { const p = w.pending; w.pending = null; p.resolve(value); await settle(); };
  w.fail = async (status) => {
    const p = w.pending;
    w.pending = null;
    p.reject(Object.assign(new Error("refused"), { status }));
    await settle();
  };
  w.seen = () => ({ calls: w.calls, shown: w.shown, inFlight: w.pending !== null });
  return w;
};
"""

TIERS = {"listeners": 1234, "webrtc": 34, "broadcast": 1200}
LATER = {"listeners": 1300, "webrtc": 40, "broadcast": 1260}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module (the sync API: its objects are not bound to a test's event loop)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page per test: its own fake clock and watch."""
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><title>audience tiers</title>")
        page.add_script_tag(content=HARNESS_JS)
        module = MODULE_JS.read_text() + "\nwindow.w = window.watchFor(TiersWatch, {});\n"
        page.add_script_tag(type="module", content=module)
        page.wait_for_function("window.w !== undefined")
        yield page
    finally:
        page.close()


def run(page: Page, script: str) -> dict[str, Any]:
    """Run steps against the watch ``w`` (``await advance(ms)``, ``await w.answer(x)``...); what it saw."""
    seen: dict[str, Any] = page.evaluate(f"async (x) => {{ {script}; return w.seen(); }}", [TIERS, LATER])
    return seen


def test_it_asks_at_once_then_every_poll_and_shows_each_answer(page: Page) -> None:
    seen = run(
        page,
        """const [tiers, later] = x;
        w.watch.start();
        w.watch.start(); // already running: no second request
        await advance(0);
        await w.answer(tiers);
        await advance(10000);
        await w.answer(later);
        await advance(9999)""",
    )
    assert seen["calls"] == [0, POLL_MS]
    assert seen["shown"] == [TIERS, LATER]
    assert not seen["inFlight"]


def test_pokes_make_one_request_after_the_gap_and_never_two_in_flight(page: Page) -> None:
    seen = run(
        page,
        """const [tiers, later] = x;
        w.watch.start();
        await advance(0);
        for (let i = 0; i < 50; i++) { w.watch.poke(); await advance(100); } // a request that takes 5 s
        await w.answer(tiers); // at 5000: pokes came meanwhile, so the next one is a gap later
        for (let i = 0; i < 50; i++) { w.watch.poke(); await advance(10); } // 10,000 joins in a burst
        await advance(3000 - 500)""",
    )
    assert seen["calls"] == [0, 5000 + GAP_MS], "one request at a time; pokes during it make one more, a gap later"
    assert seen["inFlight"]


def test_a_poke_or_a_restart_waits_for_the_gap_after_the_last_request(page: Page) -> None:
    seen = run(
        page,
        """const [tiers, later] = x;
        w.watch.start();
        await advance(0);
        await w.answer(tiers);
        w.watch.poke(); // right after an answer: not before the gap
        await advance(2999);
        const early = w.calls.length;
        await advance(1);
        await w.answer(later);
        w.watch.stop(); // a moderator demoted and made again at once (two role changes)
        w.watch.start();
        await advance(2999);
        const restarted = w.calls.length;
        await advance(1);
        if (early !== 1 || restarted !== 2) throw new Error(`asked early: ${early}, ${restarted}`)""",
    )
    assert seen["calls"] == [0, GAP_MS, 2 * GAP_MS]
    assert seen["shown"] == [TIERS, LATER, None]


@pytest.mark.parametrize("status", [401, 403, 404, 409, 410])
def test_a_refusal_hides_the_line_and_ends_the_asking(page: Page, status: int) -> None:
    seen = run(
        page,
        f"""const [tiers] = x;
        w.watch.start();
        await advance(0);
        await w.answer(tiers);
        await advance(10000);
        await w.fail({status});
        w.watch.poke();
        await advance(60000)""",
    )
    assert seen["calls"] == [0, POLL_MS]
    assert seen["shown"] == [TIERS, None]


@pytest.mark.parametrize("status", [0, 500, 503])
def test_passing_trouble_keeps_the_last_answer_and_the_asking(page: Page, status: int) -> None:
    seen = run(
        page,
        f"""const [tiers, later] = x;
        w.watch.start();
        await advance(0);
        await w.answer(tiers);
        await advance(10000);
        await w.fail({status});
        await advance(10000);
        await w.answer(later)""",
    )
    assert seen["calls"] == [0, POLL_MS, 2 * POLL_MS]
    assert seen["shown"] == [TIERS, LATER], "nothing hidden in between"


def test_stopping_ends_the_asking_and_drops_an_answer_on_its_way(page: Page) -> None:
    seen = run(
        page,
        """const [tiers, later] = x;
        w.watch.start();
        await advance(0);
        await w.answer(tiers);
        await advance(10000);
        w.watch.stop(); // the moderator left the screen, or is no longer a moderator
        await w.answer(later);
        w.watch.poke();
        await advance(60000)""",
    )
    assert seen["calls"] == [0, POLL_MS]
    assert seen["shown"] == [TIERS, None], "hidden on stop; the late answer is not shown"
