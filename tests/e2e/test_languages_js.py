"""The web app's languages as units, in real Chromium: names in the interface language (``interpretation.js``), the
languages line of cards and headers, the remembered choice, the form part that declares a room's or an event's
languages (``screens/languages_form.js``), and a moderator's "Interpreter for …" actions on a person
(``screens/room_languages.js``).

The modules are served from the app's own files on a made-up origin (their imports resolve as in the app)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from salon.domain.interpretation import LANGUAGES, MAX_CHANNELS
from tests.support.app_modules import APP, load_app_modules

ORIGIN = "http://languages.test"


@pytest.fixture
def page(bare_chromium: Browser) -> Iterator[Page]:
    page = bare_chromium.new_page()
    try:
        module = (
            f"import * as i from '{ORIGIN}/app/interpretation.js';"
            f"import * as f from '{ORIGIN}/app/screens/languages_form.js';"
            f"import * as r from '{ORIGIN}/app/screens/room_languages.js';"
            f"import * as l from '{ORIGIN}/app/i18n.js';"
            "window.m = { i, f, r, l };"
        )
        load_app_modules(page, ORIGIN, "languages", module, "window.m !== undefined")
        yield page
    finally:
        page.evaluate("localStorage.clear()")
        page.close()


def run(page: Page, script: str) -> Any:
    return page.evaluate(f"() => {{ const {{ i, f, r, l }} = window.m; {script} }}")


def test_the_list_is_the_servers() -> None:
    # The client's copy of the closed list (interpretation.js) must match the domain's, names included.
    text = (APP / "interpretation.js").read_text()
    for tag, name in LANGUAGES.items():
        assert f'  {tag}: "{name}",' in text, tag
    assert f"export const MAX_CHANNELS = {MAX_CHANNELS};" in text


def test_names_and_the_languages_line_follow_the_interface_language(page: Page) -> None:
    got = run(
        page,
        """const line = { floor: "en", channels: ["ru", "fr"] };
        const en = [i.languageName("ru"), i.languagesLine(line), i.languagesLine({ floor: "de", channels: [] })];
        l.setLanguage("fr", false);
        const fr = [i.languageName("ru"), i.languagesLine(line)];
        return { en, fr, none: i.languagesLine(null), sorted: i.sortedTags().slice(0, 3) };""",
    )
    assert got["en"] == ["Russian", "English · Russian, French", "German"]
    assert got["fr"] == ["Russe", "Anglais · Russe, Français"]
    assert got["none"] is None
    assert got["sorted"] == ["de", "en", "ar"]  # by name in the interface language: Allemand, Anglais, Arabe


def test_the_choice_is_remembered_on_the_device_and_the_original_is_none(page: Page) -> None:
    got = run(
        page,
        """const before = i.rememberedLanguage();
        i.rememberLanguage("ru");
        const ru = i.rememberedLanguage();
        i.rememberLanguage(null);
        return { before, ru, original: i.rememberedLanguage() };""",
    )
    assert got == {"before": None, "ru": "ru", "original": None}


def test_the_form_part_declares_languages_and_never_a_channel_in_the_floor_language(page: Page) -> None:
    got = run(
        page,
        """const form = document.createElement("form");
        form.append(f.languageFields({ floor: "en", channels: ["ru"] }));
        const filled = { open: form.querySelector("details").open, floor: form.elements.namedItem("floor").value,
                         checked: [...form.querySelectorAll("input:checked")].map((b) => b.value) };
        form.querySelector("input[value=en]").checked = true;  // the floor's own language: dropped
        form.querySelector("input[value=fr]").checked = true;
        const read = f.readLanguages(form);
        form.elements.namedItem("floor").value = "";
        const blank = document.createElement("form");
        blank.append(f.languageFields());
        return { filled, read, none: f.readLanguages(form), closed: blank.querySelector("details").open };""",
    )
    assert got["filled"] == {"open": True, "floor": "en", "checked": ["ru"]}
    assert got["read"] == {"languages": {"floor": "en", "channels": ["fr", "ru"]}}
    assert got["none"] == {}
    assert got["closed"] is False


SHEET_JS = """
const person = (id, role) => ({ user: { id, username: id, display_name: id }, role });
const view = { interpretation: { floor: "en", ducking_db: -15, channels: [
  { language: "ru", interpreters: ["ivan"], live: null, handover_to: null },
  { language: "fr", interpreters: ["zoe", "yan"], live: "zoe", handover_to: null },
] } };
const calls = [];
const call = (op, data) => calls.push([op, data]);
const labels = (p, me) => r.interpreterActions(p, view, me, call).map(([label]) => label);
const mod = person("ann", "moderator");
const result = {
  listener: labels(person("bea", "listener"), mod),
  interpreter: labels(person("ivan", "listener"), mod),
  asSpeaker: labels(person("bea", "listener"), person("sam", "speaker")),
  noLanguages: r.interpreterActions(person("bea", "listener"), { interpretation: null }, mod, call),
};
r.interpreterActions(person("bea", "listener"), view, mod, call)[0][1]();
r.interpreterActions(person("ivan", "listener"), view, mod, call)[0][1]();
return { ...result, calls };
"""


def test_moderators_make_and_unmake_interpreters_of_channels_with_room_in_the_booth(page: Page) -> None:
    got = run(page, SHEET_JS)
    assert got["listener"] == ["Interpreter for Russian"]  # the French booth is full (two)
    assert got["interpreter"] == ["Remove as interpreter for Russian"]
    assert got["asSpeaker"] == []
    assert got["noLanguages"] == []
    assert got["calls"] == [
        ["assign_interpreter", {"language": "ru", "user_id": "bea"}],
        ["remove_interpreter", {"language": "ru", "user_id": "ivan"}],
    ]


def test_interpreters_are_marked_on_their_tiles_with_the_live_one_said(page: Page) -> None:
    # Ivan interprets Russian and is live; Bea shares his booth; Cy interprets nothing. The mark's words go into the
    # tile's accessible name; its badge (hidden from assistive technology: the name says it) shows the same.
    got = run(
        page,
        """const interpretation = { floor: "en", ducking_db: -15, channels: [
          { language: "fr", interpreters: [], live: null, handover_to: null },
          { language: "ru", interpreters: ["ivan", "bea"], live: "ivan", handover_to: null },
        ] };
        const seen = (id) => {
          const mark = r.interpreterMark(interpretation, id);
          const badge = mark?.badge;
          return mark && { label: mark.label, badge: [...badge.children].map((s) => s.textContent),
                           live: badge.classList.contains("live"), hidden: badge.getAttribute("aria-hidden") };
        };
        const en = ["ivan", "bea", "cy"].map(seen);
        l.setLanguage("fr", false);
        const fr = ["ivan", "bea"].map(seen);
        return { en, fr, none: r.interpreterMark(null, "ivan") };""",
    )
    ivan, bea, cy = got["en"]
    assert ivan == {
        "label": "Interpreter · Russian, live",
        "badge": ["Russian", "live"],
        "live": True,
        "hidden": "true",
    }
    assert bea == {
        "label": "Interpreter · Russian",
        "badge": ["Russian"],
        "live": False,
        "hidden": "true",
    }
    assert cy is None
    assert got["fr"][0]["label"] == "Interprète · Russe, en direct"
    assert got["fr"][0]["badge"] == ["Russe", "en direct"]
    assert got["none"] is None
