"""The web app's words: every string in English and French, every key the code asks for exists, and each
translation uses the same placeholders as the English. (The strings live beside each screen in ``*.strings.js``.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from salon.domain.moderation import AdminAction, ModAction
from salon.domain.notification_prefs import GROUPS
from salon.domain.reports import ReportReason
from salon.domain.topics import TOPICS

APP = Path(__file__).parents[3] / "src" / "salon" / "web" / "static" / "app"
KEY = re.compile(r'^\s*"([a-z_]+\.[a-z0-9_.]+)":\s*"((?:[^"\\]|\\.)*)",?\s*$', re.MULTILINE)
LITERAL_CALL = re.compile(r'\bt\(\s*"([a-z_]+\.[a-z0-9_.]+)"')
TEMPLATE_CALL = re.compile(r"\bt\(\s*`([a-z_]+\.[a-z0-9_]*)\$\{")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")


def catalogs() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {"en": {}, "fr": {}}
    for path in sorted(APP.rglob("*.strings.js")):
        text = path.read_text()
        en_at, fr_at = text.index("\n  en: {"), text.index("\n  fr: {")
        assert en_at < fr_at, f"{path.name}: en first, then fr"
        for lang, part in (("en", text[en_at:fr_at]), ("fr", text[fr_at:])):
            found = dict(KEY.findall(part))
            duplicated = set(merged[lang]) & set(found)
            assert not duplicated, f"{path.name} redefines {sorted(duplicated)} in {lang}"
            merged[lang].update(found)
    return merged


CATALOGS = catalogs()


def has(lang: str, key: str) -> bool:
    catalog = CATALOGS[lang]
    return key in catalog or f"{key}.other" in catalog


def code_files() -> list[Path]:
    return sorted(p for p in APP.rglob("*.js") if not p.name.endswith(".strings.js"))


def test_there_are_strings_to_check() -> None:
    assert len(CATALOGS["en"]) > 100  # the parser found them (a format change would silently find none)


def test_english_and_french_have_the_same_keys() -> None:
    en, fr = set(CATALOGS["en"]), set(CATALOGS["fr"])
    assert en - fr == set(), "missing in French"
    assert fr - en == set(), "missing in English"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_key_the_code_asks_for_exists(lang: str) -> None:
    missing = []
    for path in code_files():
        for key in LITERAL_CALL.findall(path.read_text()):
            if not has(lang, key):
                missing.append(f"{path.relative_to(APP)}: {key}")
    assert missing == []


def test_keys_built_at_run_time_exist() -> None:
    # t(`room.log_${action}`) and the like: each family must exist for every value it can take.
    families = {
        "room.log_": [a.value for a in ModAction],
        "room.mic_": ["denied", "missing", "busy", "unsupported"],
        "hallway.type_": ["open", "social", "closed"],
        # the admin area's log and reports (screens/admin_*.js)
        "admin.log_": [a.value for a in AdminAction] + [ModAction.END_ROOM.value],
        "admin.reason_": [r.value for r in ReportReason],
        "admin.type_": ["open", "social", "closed"],
        "admin.tab_": ["members", "waitlist", "reports", "rooms", "settings", "log"],
        "admin.setting_name_": ["invites_per_member", "waitlist_open"],
        "topic.": list(TOPICS),
        "start.title_": ["photo", "topics", "people", "rooms"],  # topics.js: the fixed topics of interest
        # the notification settings' groups (screens/settings_notifications.js)
        "notif_prefs.group_": list(GROUPS),
        "notif_prefs.hint_": list(GROUPS),
    }
    for path in code_files():
        for prefix in TEMPLATE_CALL.findall(path.read_text()):
            assert any(k.startswith(prefix) for k in CATALOGS["en"]), f"{path.name}: no key starts with {prefix}"
    for prefix, values in families.items():
        for value in values:
            for lang in ("en", "fr"):
                assert has(lang, prefix + value), f"{lang}: {prefix}{value}"


def test_translations_use_the_same_placeholders() -> None:
    for key, english in CATALOGS["en"].items():
        french = CATALOGS["fr"][key]
        assert set(PLACEHOLDER.findall(english)) == set(PLACEHOLDER.findall(french)), key


def test_plural_keys_have_an_other_form() -> None:
    for lang, catalog in CATALOGS.items():
        for key in catalog:
            stem, _, form = key.rpartition(".")
            if form in PLURAL_FORMS:
                assert f"{stem}.other" in catalog, f"{lang}: {stem} has forms but no .other"
