"""How a member hears a room with interpretation channels, as units in real Chromium: which tier
(``RoomLanguages.follow`` in ``static/app/interpretation_audio.js``) and how a pick moves the sound
(``RoomAudio.pickLanguage`` in ``static/app/audio.js``). Listeners take the broadcast tier as in any room, and a
picked channel there is a stream of its own switched make-before-break; only interpreters are kept on WebRTC; on
WebRTC the picker moves the same connection. The sound itself is tested in test_interpretation_broadcast_ui.py.

The modules are served from the app's own files on a made-up origin (their imports resolve as in the app); the
server (``live.call``), the stream player and the peer connection are stand-ins that record what they are asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.support.app_modules import load_app_modules

ORIGIN = "http://hearing.test"

SETUP_JS = """
window.calls = [];
window.answers = {};  // op -> a reply, or an Error to reject with
window.lang.live.userId = "me";
window.lang.live.call = async (op, data) => {
  window.calls.push([op, data]);
  const answer = window.answers[op];
  if (answer instanceof Error) throw answer;
  return answer ?? {};
};
// A room where I am a listener, with Russian and French channels; `interpreters`: who interprets Russian.
window.view = (interpreters = []) => ({
  stage: [], audience: [],
  interpretation: { floor: "en", ducking_db: -15, channels: [
    { language: "fr", interpreters: [], live: null, handover_to: null },
    { language: "ru", interpreters, live: null, handover_to: null },
  ] },
});
// A room session stand-in: its state, its RoomAudio (listening on `tier`), and the reopenings it was asked for.
window.session = (tier, interpreters = []) => {
  const s = new EventTarget();
  s.roomId = "room1";
  s.state = { view: view(interpreters), me: { role: "listener" }, mediaFor: "listen", gone: false };
  s.audio = new window.audio.RoomAudio("room1", document.createElement("audio"));
  s.audio.kind = "listen";
  s.audio.tier = tier;
  const switchTo = async (url) => {
    calls.push(["switchTo", url]);
    return window.switched ?? true;
  };
  if (tier === "broadcast") s.audio.stream = { switchTo, stop() {} };
  if (tier === "webrtc") s.audio.pc = { connectionState: "connected", close() {} };
  s.audio.listen = async () => calls.push(["listen", s.audio.language, s.audio.webrtcOnly]);
  s.synced = [];
  s.syncMedia = (force) => s.synced.push(force);
  s.ui = { toast() {}, errorMessage: String };
  s.languages = new window.lang.RoomLanguages(s);
  return s;
};
window.settle = () => new Promise((resolve) => setTimeout(resolve, 0));
"""


@pytest.fixture
def page(bare_chromium: Browser) -> Iterator[Page]:
    page = bare_chromium.new_page()
    try:
        module = (
            f"import * as l from '{ORIGIN}/app/interpretation_audio.js';"
            f"import * as a from '{ORIGIN}/app/audio.js';"
            f"import {{ live }} from '{ORIGIN}/app/live.js';"
            "window.lang = { ...l, live }; window.audio = a;"
        )
        load_app_modules(page, ORIGIN, "hearing", module, "window.lang !== undefined")
        page.add_script_tag(content=SETUP_JS)
        yield page
    finally:
        page.close()


def run(page: Page, script: str) -> Any:
    return page.evaluate(f"async () => {{ localStorage.clear(); {script} }}")


def test_a_listener_in_a_room_with_channels_stays_on_the_broadcast_tier(page: Page) -> None:
    got = run(
        page,
        "const s = session('broadcast'); s.languages.follow(); await settle();"
        "return { webrtcOnly: s.audio.webrtcOnly, synced: s.synced, calls };",
    )
    assert got == {"webrtcOnly": False, "synced": [], "calls": []}


def test_a_pick_on_the_broadcast_tier_is_the_channels_own_stream_switched_in_the_player(page: Page) -> None:
    got = run(
        page,
        "const s = session('broadcast'); s.languages.follow();"
        "answers.media_channel_stream = { url: 'https://w0/v1/stream/channel-ru?ticket=t1' };"
        "answers.media_stream = { url: 'https://w0/v1/stream/room1?ticket=t2' };"
        "await s.languages.pick('ru'); await s.languages.pick(null); return calls;",
    )
    assert got == [
        ["media_channel_stream", {"room_id": "room1", "language": "ru"}],
        ["switchTo", "https://w0/v1/stream/channel-ru?ticket=t1"],
        ["media_stream", {"room_id": "room1"}],
        ["switchTo", "https://w0/v1/stream/room1?ticket=t2"],
    ]


def test_a_switch_that_fails_listens_again_from_scratch_on_the_channel(page: Page) -> None:
    got = run(
        page,
        "const s = session('broadcast'); s.languages.follow(); window.switched = false;"
        "answers.media_channel_stream = { url: 'https://w0/v1/stream/channel-ru?ticket=t1' };"
        "await s.languages.pick('ru'); return calls.map(([op, data]) => op === 'listen' ? [op, data] : op);",
    )
    assert got == ["media_channel_stream", "switchTo", ["listen", "ru"]]


def test_a_refused_channel_ticket_listens_again_from_scratch(page: Page) -> None:
    got = run(
        page,
        "const s = session('broadcast'); s.languages.follow();"
        "answers.media_channel_stream = Object.assign(new Error('full'), { code: 'room_full' });"
        "await s.languages.pick('ru'); return calls.map(([op, data]) => op === 'listen' ? [op, data] : op);",
    )
    assert got == ["media_channel_stream", ["listen", "ru"]]


def test_on_webrtc_the_picker_moves_the_same_connection(page: Page) -> None:
    got = run(page, "const s = session('webrtc'); s.languages.follow(); await s.languages.pick('ru'); return calls;")
    assert got == [["media_pick_language", {"room_id": "room1", "language": "ru"}]]


def test_becoming_an_interpreter_on_the_broadcast_tier_listens_again_over_webrtc(page: Page) -> None:
    got = run(
        page,
        "const s = session('broadcast'); s.languages.follow();"
        "s.state.view = view(['me']); s.languages.follow();"
        "return { webrtcOnly: s.audio.webrtcOnly, language: s.audio.language, synced: s.synced };",
    )
    assert got == {"webrtcOnly": True, "language": None, "synced": [True]}


def test_becoming_an_interpreter_while_the_stream_is_asked_for_listens_again_too(page: Page) -> None:
    got = run(
        page,
        "const s = session(null); s.languages.follow();"
        "s.state.view = view(['me']); s.languages.follow(); return s.synced;",
    )
    assert got == [True]


def test_an_interpreter_who_stops_being_one_listens_again_the_usual_way(page: Page) -> None:
    got = run(
        page,
        "const s = session('webrtc', ['me']); s.languages.follow();"
        "const before = [s.audio.webrtcOnly, [...s.synced]];"
        "s.state.view = view([]); s.languages.follow();"
        "return { before, webrtcOnly: s.audio.webrtcOnly, synced: s.synced };",
    )
    assert got == {"before": [True, []], "webrtcOnly": False, "synced": [True]}
