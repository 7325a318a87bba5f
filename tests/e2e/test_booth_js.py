"""The interpreter's booth panel (``static/app/screens/booth.js``) as a unit, in real Chromium: its one main control
follows the domain's booth rules (``domain/interpretation.py``) for every state a booth can be in, and each tap sends
the op those rules allow (the microphone is connected before going live; a refused microphone sends nothing).

The module is served from the app's own files on a made-up origin (its imports resolve as in the app)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.support.app_modules import load_app_modules

ORIGIN = "http://booth.test"

# A room's view with Ivan (me) and Bea in the Russian booth; `booth(...)` fills in who is live and any handover.
SETUP_JS = """
window.person = (id, name) => ({ user: { id, username: id, display_name: name, avatar_url: null }, role: "listener" });
window.render = (channel, { micOk = true, boothState = "off" } = {}) => {
  const calls = [];
  const toasts = [];
  const session = {
    state: {
      view: {
        stage: [],
        audience: [person("ivan", "Ivan Petrov"), person("bea", "Bea Stone")],
        interpretation: { floor: "en", ducking_db: -15, channels: [
          { language: "fr", interpreters: [], live: null, handover_to: null },
          { language: "ru", interpreters: ["ivan", "bea"], live: null, handover_to: null, ...channel },
        ] },
      },
    },
    languages: {
      boothState,
      openBooth: async () => { calls.push(["open_mic"]); return micOk; },
      takeBooth: async (take) => { calls.push(["mic_on"]); await take(); calls.push(["mic_by_state"]); },
    },
    ui: { toast: (text) => toasts.push(text) },
  };
  const panel = window.booth.boothPanel(session, async (op, data) => calls.push([op, data]));
  if (panel) document.body.replaceChildren(panel);
  return { panel, calls, toasts };
};
window.describe = (r) => r.panel && {
  label: r.panel.getAttribute("aria-label"),
  state: r.panel.querySelector("[role=status]").textContent,
  buttons: [...r.panel.querySelectorAll("button")].map((b) => [b.textContent, b.disabled]),
  connection: r.panel.querySelector("[data-testid=booth-connection]")?.textContent ?? null,
};
window.tap = async (r, text) => {
  [...r.panel.querySelectorAll("button")].find((b) => b.textContent === text).click();
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return { calls: r.calls, toasts: r.toasts };
};
"""


@pytest.fixture
def page(bare_chromium: Browser) -> Iterator[Page]:
    page = bare_chromium.new_page()
    try:
        module = (
            f"import * as b from '{ORIGIN}/app/screens/booth.js';"
            f"import {{ live }} from '{ORIGIN}/app/live.js';"
            "live.userId = 'ivan'; window.booth = b;"
        )
        load_app_modules(page, ORIGIN, "booth", module, "window.booth !== undefined")
        page.add_script_tag(content=SETUP_JS)
        yield page
    finally:
        page.close()


def run(page: Page, script: str) -> Any:
    return page.evaluate(f"async () => {{ {script} }}")


def test_nobody_live_offers_go_live_which_connects_the_microphone_then_takes_the_booth(page: Page) -> None:
    got = run(page, "const r = render({}); return { seen: describe(r), after: await tap(r, 'Go live') };")
    assert got["seen"]["label"] == "Your booth: Russian"
    assert got["seen"]["state"] == "Nobody is live: listeners of this channel hear the stage in English."
    assert got["seen"]["buttons"] == [["Go live", False]]
    assert got["after"]["calls"] == [["open_mic"], ["mic_on"], ["take_booth", {"language": "ru"}], ["mic_by_state"]]


def test_a_refused_microphone_takes_nothing_and_says_so(page: Page) -> None:
    got = run(page, "const r = render({}, { micOk: false }); return await tap(r, 'Go live');")
    assert got["calls"] == [["open_mic"]]
    assert got["toasts"] == ["Your microphone could not be connected to the booth. Check it and try again."]


def test_live_offers_hand_over_to_the_partner_and_stop(page: Page) -> None:
    got = run(
        page,
        """const r = render({ live: "ivan" });
        return { seen: describe(r), after: await tap(r, "Hand over to Bea Stone") };""",
    )
    assert got["seen"]["state"] == "You are live in Russian."
    assert got["seen"]["buttons"] == [["Hand over to Bea Stone", False], ["Stop interpreting", False]]
    assert got["after"]["calls"] == [["offer_handover", {"language": "ru"}]]


def test_live_after_offering_waits_for_the_partner_and_can_still_stop(page: Page) -> None:
    got = run(
        page,
        """const r = render({ live: "ivan", handover_to: "bea" });
        return { seen: describe(r), after: await tap(r, "Stop interpreting") };""",
    )
    assert got["seen"]["state"].startswith("You offered the booth to Bea Stone")
    assert got["seen"]["buttons"] == [["Stop interpreting", False]]
    assert got["after"]["calls"] == [["release_booth", {"language": "ru"}]]


def test_alone_in_the_booth_there_is_nobody_to_hand_over_to(page: Page) -> None:
    got = run(
        page,
        """const r = render({ interpreters: ["ivan"], live: "ivan" });
        return describe(r);""",
    )
    assert got["buttons"] == [["Stop interpreting", False]]


def test_offered_the_booth_takes_over_in_one_tap(page: Page) -> None:
    got = run(
        page,
        """const r = render({ live: "bea", handover_to: "ivan" });
        return { seen: describe(r), after: await tap(r, "Take over") };""",
    )
    assert got["seen"]["state"] == "Bea Stone offers you the booth."
    assert got["seen"]["buttons"] == [["Take over", False]]
    # The microphone sends from the tap (the media server unmutes it when the server agrees), then as the booth says.
    assert got["after"]["calls"] == [["open_mic"], ["mic_on"], ["take_booth", {"language": "ru"}], ["mic_by_state"]]


def test_partner_live_without_an_offer_leaves_nothing_to_tap(page: Page) -> None:
    got = run(page, "return describe(render({ live: 'bea' }));")
    assert got["state"] == "Bea Stone is live."
    assert got["buttons"] == [["Your partner is live", True]]


def test_someone_who_interprets_no_channel_gets_no_booth(page: Page) -> None:
    assert run(page, "return render({ interpreters: ['bea'] }).panel;") is None


def test_a_microphone_connected_in_advance_is_said_to_be_muted_until_live(page: Page) -> None:
    offered = run(page, "return describe(render({ live: 'bea', handover_to: 'ivan' }, { boothState: 'on' }));")
    mine = run(page, "return describe(render({ live: 'ivan' }, { boothState: 'on' }));")
    connecting = run(page, "return describe(render({}, { boothState: 'connecting' }));")
    ready = "Your microphone is connected to the booth and muted: nobody hears you until you are live."
    assert offered["connection"] == ready
    assert mine["connection"] is None  # live: the state says so
    assert connecting["connection"] == "Connecting your microphone…"
