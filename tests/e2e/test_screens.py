"""A screenshot tour of the web app: realistic content seeded over the API, then every main screen visited on a
phone and on a desktop (and the hallway, the room with its Sound dialog, the notification settings and the admin
area in French), each saved as ``test-artifacts/screenshots/tour-<screen>-<phone|desktop>.png`` for people to look
at.

On every screen the tour also checks what a machine can:

* no uncaught script error (``pageerror``) and no console error, except the failed-resource lines listed in
  ``EXPECTED_FAILED_RESOURCES`` with why they are expected;
* every visible button, link, input, select and textarea has an accessible name (its aria-label, the text of its
  aria-labelledby targets, its <label>, its title, or its own text — aria-hidden parts and empty alts not counted);
* no visible control sticks out of the screen's width (nothing scrolls sideways, so it could not be reached);
* every visible piece of text is readable: WCAG 2 contrast against the background it is drawn on of at least 4.5:1
  (3:1 for large text: 24 px, or 18.7 px bold), computed in the page from the colours the browser resolved.

All problems are gathered and reported together at the end, screen by screen. No sound: the browser's fake
microphone is silent.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright, expect

from tests.e2e.conftest import UI_TIMEOUT_MS, Salon
from tests.support.browser import DESKTOP, PHONE, Device, Member, SalonApi, launch_browser, log_in, new_context, snap

API = "/api/v1"
TOUR_TIMEOUT = 360.0  # 170 s, the admin area's tabs, getting started, the first admin's hallway, languages


# Console errors Chromium prints for responses the app expects and handles: (status, path of the request).
EXPECTED_FAILED_RESOURCES = {
    # Logged out, the app asks whether there is a session; 401 means "no", and it shows the welcome page.
    (401, f"{API}/auth/session"),
}
FAILED_RESOURCE = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})")

# What a person could not use: visible controls without an accessible name, and controls (partly) outside the
# screen's width (they cannot be reached: nothing scrolls sideways); each as an outerHTML prefix.
CONTROLS_JS = """() => {
  const shown = (el) => {
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const text = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return node.textContent;
    if (node.nodeType !== Node.ELEMENT_NODE || node.getAttribute("aria-hidden") === "true") return "";
    if (node.tagName === "IMG") return node.getAttribute("alt") || "";
    return Array.from(node.childNodes).map(text).join("");
  };
  const name = (el) => {
    const byId = (el.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean)
      .map((id) => document.getElementById(id)).filter(Boolean).map(text);
    const parts = [el.getAttribute("aria-label") || "", ...byId, ...Array.from(el.labels || []).map(text),
                   el.getAttribute("title") || ""];
    if (!["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName)) parts.push(text(el));
    if (el.tagName === "INPUT" && ["submit", "button", "reset"].includes(el.type)) parts.push(el.value);
    return parts.join(" ").trim();
  };
  const width = document.documentElement.clientWidth;
  // Off-screen on purpose: the skip link (until focused) and visually hidden labels (1 px).
  const outside = (el) => {
    const box = el.getBoundingClientRect();
    return !el.matches(".skip") && box.width > 1 && (box.left < -1 || box.right > width + 1);
  };
  const html = (el) => el.outerHTML.slice(0, 160);
  const controls = Array.from(document.querySelectorAll("button, a[href], input:not([type=hidden]), select, textarea"))
    .filter(shown);
  return { unnamed: controls.filter((el) => !name(el)).map(html), outside: controls.filter(outside).map(html) };
}"""


# Text whose contrast with what is behind it is under WCAG 2 AA: each as "ratio: text (colour on background)".
# The background is the first opaque one up the tree (the app paints no text on images or gradients).
CONTRAST_JS = """() => {
  const rgb = (css) => (css.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const background = (el) => {
    for (let node = el; node && node.nodeType === Node.ELEMENT_NODE; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] >= 0.99)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el)) continue;
    if (el.closest("[aria-hidden=true], .visually-hidden, noscript")) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === "hidden" || box.width === 0 || box.height === 0 || Number(style.opacity) === 0) continue;
    const fg = rgb(style.color);
    const bg = background(el);
    const [hi, lo] = [luminance(fg.slice(0, 3)), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5) - 0.01) {
      found.push(`${ratio.toFixed(2)}: ${node.textContent.trim().slice(0, 40)} (${style.color} on rgb(${bg}))`);
    }
  }
  return found;
}"""


def ok(response: httpx.Response) -> Any:
    assert not response.is_error, f"{response.request.method} {response.request.url.path} → {response.text}"
    return response.json()


# --- seeding ------------------------------------------------------------------------------------------------------

PEOPLE = {
    "ada": ("Ada Okafor", "Pianist, late-night radio host, collector of bad puns. Lagos → Lisbon."),
    "bruno": ("Bruno Lima", "Bass player. I talk about records more than I play them."),
    "chloe": ("Chloé Martin", "Product designer in Lyon; jazz on Sundays."),
    "dev": ("Dev Patel", "Founder of a tiny coffee roastery. Ask me about grinders."),
    "elena": ("Elena Rossi", ""),
    "farah": ("Farah Haddad", "Oud, poetry, long walks."),
    "jazz": ("Jazz Carter", "Yes, that is my real name."),
    "hiro": ("Hiro Tanaka", ""),
    "ines": ("Inès Duarte", "Writer. Morning pages every day at 7."),
    "jonas": ("Jonas Berg", ""),
}
ROOM_TITLE = "Jazz after midnight: standards & stories"
WAITING = (("Lou Garnier", "lou@example.org"), ("Marta Nowak", "@marta on Mastodon"), ("Sam Ito", "sam@example.net"))


@dataclass
class Seeded:
    ada: Member
    people: dict[str, Member]
    room: str  # Ada moderates it
    other_room: str  # Inès moderates it (she pings Ada from there)
    event: str  # someone else's
    my_event: str  # Ada's
    signup_link: str
    newcomer: Member  # Kai, invited by Ada: getting started
    timings: dict[str, float] = field(default_factory=dict)


def at(days: float, hour: int) -> str:
    day = datetime.now(UTC) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


async def seed(api: SalonApi, admin: Member) -> Seeded:
    http = api.http

    async def call(method: str, path: str, who: Member | None, body: dict[str, Any] | None = None) -> Any:
        headers = who.auth if who else {}
        return ok(await http.request(method, f"{API}{path}", json=body, headers=headers))

    people: dict[str, Member] = {}
    for username, (name, bio) in PEOPLE.items():
        people[username] = member = await api.add_member(admin, username)
        await call("PATCH", "/me", member, {"display_name": name, "bio": bio})
    ada, bruno, chloe, dev, ines = (people[k] for k in ("ada", "bruno", "chloe", "dev", "ines"))
    await call("POST", f"/admin/users/{ada.user_id}/invites", admin, {"count": 20})

    # Follows, both ways.
    for who, whom in (("ada", "bruno"), ("ada", "chloe"), ("ada", "ines"), ("bruno", "ada"), ("dev", "ada")):
        await call("PUT", f"/users/{people[whom].user_id}/follow", people[who])
    for who in ("elena", "farah", "jazz", "hiro"):
        await call("PUT", f"/users/{ada.user_id}/follow", people[who])

    # Ada's room: Bruno (a moderator too) and Chloé on stage, five listening, Elena's hand up.
    body = {
        "title": ROOM_TITLE,
        "description": "Bring a tune and the story behind it.",
        "topics": ["jazz", "piano", "history"],
    }
    room = (await call("POST", "/rooms", ada, body))["room"]["id"]
    for speaker in (bruno, chloe):
        await call("POST", f"/rooms/{room}/join", speaker)
        await call("POST", f"/rooms/{room}/invite-up", ada, {"user_id": speaker.user_id})
        await call("POST", f"/rooms/{room}/invite-up/accept", speaker)
    await call("POST", f"/rooms/{room}/moderators", ada, {"user_id": bruno.user_id, "make": True})
    for listener in ("dev", "elena", "farah", "jazz", "hiro"):
        await call("POST", f"/rooms/{room}/join", people[listener])
    await call("POST", f"/rooms/{room}/hand/raise", people["elena"])

    # Inès's room, and her ping to Ada.
    body = {"title": "Morning pages — a writing club", "topics": ["writing"]}
    other_room = (await call("POST", "/rooms", ines, body))["room"]["id"]
    await call("POST", f"/rooms/{other_room}/join", people["jonas"])
    await call("POST", f"/rooms/{other_room}/ping", ines, {"user_id": ada.user_id})

    # Events: Bruno's (Ada wants to be told), Chloé's with Dev co-hosting, Dev's closed one Ada is invited to, Ada's.
    event = {
        "title": "Listening party: Kind of Blue",
        "description": "We play the whole album, side A then side B, and talk between the tracks.",
        "topics": ["jazz", "vinyl"],
        "starts_at": at(1, 19),
        "timezone": "Europe/Lisbon",
    }
    bruno_event = (await call("POST", "/events", bruno, event))["id"]
    await call("PUT", f"/events/{bruno_event}/rsvp", ada)
    await call("PUT", f"/events/{bruno_event}/rsvp", people["farah"])
    event = {
        "title": "Ask me anything: product design",
        "topics": ["design", "careers"],
        "starts_at": at(3, 17),
        "timezone": "Europe/Paris",
        "hosts": [dev.user_id],
    }
    await call("POST", "/events", chloe, event)
    event = {"title": "Founders’ circle", "starts_at": at(2, 8), "timezone": "Asia/Kolkata", "room_type": "closed"}
    closed = (await call("POST", "/events", dev, event))["id"]
    await call("POST", f"/events/{closed}/invite", dev, {"user_id": ada.user_id})
    event = {"title": "Piano for absolute beginners", "topics": ["piano"], "starts_at": at(6, 18), "timezone": "UTC"}
    my_event = (await call("POST", "/events", ada, event))["id"]

    # Someone joins with Ada's invite (the tour shows Kai getting started); people wait for one; a fresh invite for
    # the sign-up page.
    kai = await api.sign_up(await api.invite(ada), "kai")
    await call("PATCH", "/me", kai, {"display_name": "Kai Nakamura"})
    await call("PUT", "/me/topics", kai, {"topics": ["jazz", "books"]})
    for name, contact in WAITING:
        await call("POST", "/waitlist", None, {"name": name, "contact": contact})
    signup_link = f"{api.server.base_url}/invite/{await api.invite(ada)}"
    return Seeded(ada, people, room, other_room, bruno_event, my_event, signup_link, kai)


# --- checking each screen -----------------------------------------------------------------------------------------


@dataclass
class Audit:
    """Console lines and uncaught errors per page since the last screen, and the problems found per screen."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    shots: list[str] = field(default_factory=list)

    async def watch(self, page: Page) -> Page:
        page.set_default_timeout(UI_TIMEOUT_MS)
        # Screens fade in (120 ms): without motion, a screenshot never catches one half drawn.
        await page.emulate_media(reduced_motion="reduce")
        page.on("pageerror", lambda error: self.pending.append(f"uncaught error: {error}"))
        page.on("console", self._console)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        failed = FAILED_RESOURCE.match(message.text)
        url = message.location.get("url", "")
        if failed and (int(failed.group(1)), httpx.URL(url).path) in EXPECTED_FAILED_RESOURCES:
            return
        self.pending.append(f"console error: {message.text} ({url})")

    async def screen(self, page: Page, name: str) -> None:
        """Screenshot the screen, then check it."""
        path = await snap(page, name)
        self.shots.append(path.name)
        controls = await page.evaluate(CONTROLS_JS)
        unreadable = await page.evaluate(CONTRAST_JS)
        found = [
            *self.pending,
            *(f"no accessible name: {html}" for html in controls["unnamed"]),
            *(f"outside the screen: {html}" for html in controls["outside"]),
            *(f"low contrast {text}" for text in unreadable),
        ]
        self.pending.clear()
        if found:
            self.problems[path.stem] = found


async def tour(browser: Browser, salon: Salon, seeded: Seeded, device: Device, audit: Audit) -> None:
    base = salon.server.base_url

    # Logged out: the welcome page and sign-up from an invite link.
    stranger = await new_context(browser, salon.server, device)
    page = await audit.watch(await stranger.new_page())
    await page.goto("/welcome")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    # The contrast check catches what it should: grey #999 on white is 2.85:1.
    planted = await page.evaluate(
        """(check) => {
            const p = document.createElement("p");
            p.textContent = "planted grey text";
            p.style.color = "#999999";
            p.style.background = "#ffffff";
            document.querySelector("main").append(p);
            const found = eval(check)();
            p.remove();
            return found;
        }""",
        CONTRAST_JS,
    )
    assert [f for f in planted if "planted grey text" in f] == [
        "2.85: planted grey text (rgb(153, 153, 153) on rgb(255,255,255))"
    ]
    await audit.screen(page, "tour-welcome")
    await page.goto(seeded.signup_link)
    await expect(page.get_by_role("button", name="Create my account")).to_be_visible()
    await expect(page.get_by_test_id("invited-by")).to_contain_text("Invited by Ada Okafor")
    await audit.screen(page, "tour-signup")
    await stranger.close()
    await start_screens(browser, salon, seeded, device, audit)
    await speaker_volume_screens(browser, salon, seeded, device, audit)

    # Inès pings Ada again, so the notifications are fresh on each device.
    async with SalonApi(salon.server) as api:
        ines = seeded.people["ines"]
        ping = {"user_id": seeded.ada.user_id}
        ok(await api.http.post(f"{API}/rooms/{seeded.other_room}/ping", json=ping, headers=ines.auth))

    context = await new_context(browser, salon.server, device)
    await log_in(context, salon.server, seeded.ada)
    page = await audit.watch(await context.new_page())

    await page.goto("/")
    await expect(page.locator("a.room-card")).to_have_count(2)
    await expect(page.get_by_role("heading", name="Upcoming")).to_be_visible()
    await audit.screen(page, "tour-hallway")
    await page.get_by_role("button", name="Start a room").click()
    dialog = page.get_by_role("dialog", name="Start a room")
    await expect(dialog).to_be_visible()
    await dialog.get_by_label("What do you want to talk about?").fill("Sunday brunch playlist swap")
    await audit.screen(page, "tour-start-room")
    await dialog.get_by_role("button", name="Cancel").click()

    await room_screens(context, seeded, audit, "tour-room", tiers="5 listening · 0 broadcast · 0 WebRTC")

    await page.goto("/search?q=jazz")
    for section in ("Members", "Live rooms", "Upcoming events"):
        await expect(page.get_by_role("region", name=section)).to_be_visible()
    await audit.screen(page, "tour-search")

    await page.goto("/u/bruno")
    await expect(page.get_by_role("heading", name="Bruno Lima", level=1)).to_be_visible()
    await expect(page.get_by_text("Follows you")).to_be_visible()
    await audit.screen(page, "tour-profile")
    await page.goto("/u/ada")
    await expect(page.get_by_role("heading", name="Ada Okafor", level=1)).to_be_visible()
    await audit.screen(page, "tour-profile-me")

    await page.goto("/invites")
    await page.get_by_role("button", name="Create an invite").click()
    await expect(page.get_by_role("textbox", name="Invite link")).to_have_value(
        re.compile(f"^{re.escape(base)}/invite/")
    )
    await audit.screen(page, "tour-invites")
    await page.goto("/waitlist")
    await expect(page.get_by_role("button", name="Nominate Marta Nowak")).to_be_visible()
    await audit.screen(page, "tour-waitlist")

    await page.goto("/events")
    await expect(page.get_by_role("link", name="Listening party: Kind of Blue")).to_be_visible()
    await expect(page.get_by_role("link", name="Founders’ circle")).to_be_visible()
    await expect(page.get_by_role("button", name="Get my calendar address")).to_be_visible()
    await audit.screen(page, "tour-events")
    await page.goto(f"/events/{seeded.event}")
    await expect(page.get_by_role("button", name="Notify me")).to_have_attribute("aria-pressed", "true")
    await audit.screen(page, "tour-event")
    await page.goto(f"/events/{seeded.my_event}")
    await expect(page.get_by_role("heading", name="For hosts")).to_be_visible()
    await audit.screen(page, "tour-event-host")
    await page.goto("/events/new")
    await expect(page.get_by_role("button", name="Schedule", exact=True)).to_be_visible()
    await audit.screen(page, "tour-event-new")

    await page.goto("/notifications")
    await expect(page.locator('li.note[data-kind="pinged"]').first).to_be_visible()
    await expect(page.locator('li.note[data-kind="event_invited"]')).to_be_visible()
    await expect(page.locator('li.note[data-kind="invite_redeemed"]')).to_be_visible()
    # "followed you" offers Follow back, or says Following when Ada follows them already (Bruno).
    await expect(page.get_by_role("button", name="Follow Hiro Tanaka back")).to_be_visible()
    bruno_note = page.locator('li.note[data-kind="followed_you"]', has_text="Bruno Lima")
    await expect(bruno_note.get_by_test_id("following-back")).to_be_visible()
    await audit.screen(page, "tour-notifications")
    await page.goto("/settings")
    await expect(page.get_by_role("radio", name="English")).to_be_checked()
    await audit.screen(page, "tour-settings")
    await settings_notifications(
        page, audit, "tour-settings-notifications", pause="For 8 hours", resume="Resume notifications"
    )

    # In French.
    await page.evaluate("localStorage.setItem('salon.lang', 'fr')")
    await page.goto("/")
    await expect(page.get_by_role("heading", name="En direct")).to_be_visible()
    await expect(page.locator("a.room-card")).to_have_count(2)
    await audit.screen(page, "tour-hallway-fr")
    tiers = "5 écoutent · 0 en diffusion · 0 en WebRTC"
    await room_screens(context, seeded, audit, "tour-room-fr", menu=False, tiers=tiers)
    await page.goto("/settings")
    await expect(page.get_by_role("radio", name="Français")).to_be_checked()
    await settings_notifications(
        page, audit, "tour-settings-notifications-fr", pause="Pendant 8 heures", resume="Reprendre les notifications"
    )
    await page.evaluate("localStorage.removeItem('salon.lang')")
    await context.close()
    await admin_screens(browser, salon, seeded, device, audit)


async def start_screens(browser: Browser, salon: Salon, seeded: Seeded, device: Device, audit: Audit) -> None:
    """Getting started as Kai (invited by Ada, whom he follows from sign-up): each step in English, topics and
    people in French. Opened by ``?step=`` so nothing is saved between screens."""
    context = await new_context(browser, salon.server, device)
    await log_in(context, salon.server, seeded.newcomer)
    page = await audit.watch(await context.new_page())
    await page.goto("/start")
    await expect(page.get_by_role("heading", name="Add a photo", level=1)).to_be_visible()
    await audit.screen(page, "tour-start-photo")
    await page.goto("/start?step=topics")
    await expect(page.get_by_role("button", name="Jazz", exact=True)).to_have_attribute("aria-pressed", "true")
    await audit.screen(page, "tour-start-topics")
    await page.goto("/start?step=people")
    first = page.locator("ul.start-people > li").first
    await expect(first).to_contain_text("Ada Okafor")
    await expect(first.get_by_role("button", name=re.compile("^Following"))).to_be_visible()
    await audit.screen(page, "tour-start-people")
    await page.goto("/start?step=rooms")
    await expect(page.get_by_role("button", name="Go to the hallway")).to_be_visible()
    await audit.screen(page, "tour-start-rooms")
    await page.evaluate("localStorage.setItem('salon.lang', 'fr')")
    await page.goto("/start?step=topics")
    await expect(page.get_by_role("button", name="Cinéma", exact=True)).to_be_visible()
    await audit.screen(page, "tour-start-topics-fr")
    await page.goto("/start?step=people")
    await expect(page.locator("ul.start-people > li").first).to_contain_text("Vous a invité·e")
    await audit.screen(page, "tour-start-people-fr")
    await context.close()


async def speaker_volume_screens(browser: Browser, salon: Salon, seeded: Seeded, device: Device, audit: Audit) -> None:
    """Volume per speaker, as Jonas, a listener in Inès's room: the Sound dialog with the switch turned on, then
    Inès's card with her volume; in English and French. (The switch is remembered on the device: set back after.)
    On from the first load: a listener who started on the broadcast tier would give the room a broadcast audience,
    which rules the per-speaker mix out (adapters/janus/forward_rules.py)."""
    context = await new_context(browser, salon.server, device)
    await context.add_init_script("localStorage.setItem('salon.speakerMix', '1');")
    await log_in(context, salon.server, seeded.people["jonas"])
    page = await audit.watch(await context.new_page())
    ines = seeded.people["ines"]
    await page.goto(f"/room/{seeded.other_room}")
    for lang, sound, switch, active, volume in (
        ("en", "Sound", "Hear each speaker separately", "On: tap", "Volume for Inès Duarte"),
        ("fr", "Son", "Entendre chaque personne séparément", "Activé", "Volume de Inès Duarte"),
    ):
        suffix = "" if lang == "en" else "-fr"
        await page.evaluate(f"localStorage.setItem('salon.lang', '{lang}')")
        await page.reload()
        await page.get_by_role("button", name=sound, exact=True).click()
        dialog = page.get_by_test_id("sound-dialog")
        await dialog.get_by_role("switch", name=switch).check()
        await expect(dialog.get_by_test_id("speaker-mix-status")).to_contain_text(active)  # connected
        await audit.screen(page, f"tour-room-listener-sound{suffix}")
        await dialog.locator("div.actions button").click()
        await page.locator(f'ul.stage li.person[data-user-id="{ines.user_id}"] button').click()
        await expect(page.get_by_label(volume)).to_have_value("100")
        await audit.screen(page, f"tour-room-speaker-volume{suffix}")
    await page.evaluate("localStorage.removeItem('salon.lang'); localStorage.removeItem('salon.speakerMix')")
    await context.close()


async def first_admin_screens(browser: Browser, salon: Salon, device: Device, audit: Audit) -> None:
    """A brand-new instance: its first admin, with nobody to follow and no room, is told to invite people first."""
    context = await new_context(browser, salon.server, device)
    await log_in(context, salon.server, salon.admin)
    page = await audit.watch(await context.new_page())
    await page.goto("/")
    guide = page.get_by_test_id("hallway-first-steps")
    await expect(guide.get_by_role("link", name="Invite people")).to_have_attribute("href", "/invites")
    await expect(page.get_by_text("your followers will hear about it")).to_have_count(0)
    await audit.screen(page, "tour-hallway-first-admin")
    await page.evaluate("localStorage.setItem('salon.lang', 'fr')")
    await page.goto("/")
    await expect(guide.get_by_role("link", name="Inviter des gens")).to_be_visible()
    await audit.screen(page, "tour-hallway-first-admin-fr")
    await context.close()


# Every change of what the hallway's room list shows, from the first-steps guide on.
RECORD_HALLWAY = """() => {
  const guide = document.querySelector('[data-testid="hallway-first-steps"]');
  const rooms = guide.parentElement;
  window.__shown = [];
  new MutationObserver(() => window.__shown.push({
    guide: Boolean(rooms.querySelector('[data-testid="hallway-first-steps"]')),
    noRooms: Boolean(rooms.querySelector("p.empty")),
    cards: rooms.querySelectorAll(".room-card").length,
  })).observe(rooms, { childList: true });
}"""


async def first_admin_hallway(browser: Browser, salon: Salon, audit: Audit) -> Page:
    """The first admin's hallway, left open (no reload) while the instance is seeded."""
    context = await new_context(browser, salon.server, PHONE)
    await log_in(context, salon.server, salon.admin)
    page = await audit.watch(await context.new_page())
    await page.goto("/")
    await expect(page.get_by_test_id("hallway-first-steps")).to_be_visible()
    await page.evaluate(RECORD_HALLWAY)
    return page


async def first_steps_gave_way(page: Page) -> None:
    """The guide went as soon as someone followed the admin (the first member does, at sign-up), before any room
    existed, for "no live rooms"; then the rooms came — all without a reload."""
    await expect(page.locator(".room-card").first).to_be_visible()
    await expect(page.get_by_test_id("hallway-first-steps")).to_have_count(0)
    shown = await page.evaluate("window.__shown")
    first_without = next((i for i, seen in enumerate(shown) if not seen["guide"]), None)
    assert first_without is not None, shown
    assert shown[first_without] == {"guide": False, "noRooms": True, "cards": 0}, shown
    await page.context.close()


async def room_screens(
    context: BrowserContext, seeded: Seeded, audit: Audit, name: str, *, tiers: str, menu: bool = True
) -> None:
    """Ada's room as its moderator: the hand queue, how the audience hears the room (``tiers``: the seeded listeners
    joined over the API and hear nothing), and someone's menu. In a page of its own, closed rather than navigated
    away from: leaving would take Ada out of the room (and her moderator role with her)."""
    page = await audit.watch(await context.new_page())
    await page.goto(f"/room/{seeded.room}")
    await expect(page.get_by_role("heading", name=ROOM_TITLE, level=1)).to_be_visible()
    hands = page.locator("section.hands")
    await expect(hands).to_contain_text("Elena Rossi")
    await expect(page.locator("ul.stage li.person")).to_have_count(3)
    await expect(page.locator("ul.audience li.person")).to_have_count(5)
    await expect(page.locator(".audience-tiers")).to_contain_text(tiers)
    await audit.screen(page, name)
    # The Sound dialog: the room's volume and the microphone's processing (voice or music mode).
    await page.get_by_test_id("sound-button").click()
    sound = page.get_by_test_id("sound-dialog")
    await expect(sound.locator('input[type="range"]')).to_be_visible()
    await audit.screen(page, f"{name}-sound")
    await sound.locator("div.actions button").click()
    await expect(sound).to_have_count(0)
    if menu:
        bruno = seeded.people["bruno"]
        await page.locator(f'li.person[data-user-id="{bruno.user_id}"] button').click()
        await expect(page.get_by_role("dialog", name="Bruno Lima")).to_be_visible()
        await audit.screen(page, f"{name}-person-menu")
        await page.get_by_role("dialog", name="Bruno Lima").get_by_role("button", name="Close").click()
    await page.close()


async def settings_notifications(page: Page, audit: Audit, name: str, *, pause: str, resume: str) -> None:
    """The notification settings, paused (with "Paused until …" and resume) for the screenshot, then resumed."""
    card = page.locator('section[aria-labelledby="settings-notifications"]')
    await card.get_by_role("button", name=pause).click()
    await expect(card.get_by_test_id("notif-paused")).to_be_visible()
    await card.scroll_into_view_if_needed()
    await audit.screen(page, name)
    await card.get_by_role("button", name=resume).click()
    await expect(card.get_by_test_id("notif-paused")).to_have_count(0)


async def admin_screens(browser: Browser, salon: Salon, seeded: Seeded, device: Device, audit: Audit) -> None:
    """The admin area as the instance's admin, each tab in English, members and reports in French too. A report
    from Ada on Bruno (one per device: the second tour finds two) gives the reports tab something to show."""
    async with SalonApi(salon.server) as api:
        report = {
            "user_id": seeded.people["bruno"].user_id,
            "reason": "spam",
            "details": "Posts the same link in every room.",
        }
        ok(await api.http.post(f"{API}/reports", json=report, headers=seeded.ada.auth))
    context = await new_context(browser, salon.server, device)
    await log_in(context, salon.server, salon.admin)
    page = await audit.watch(await context.new_page())
    await page.goto("/admin")
    await expect(page.locator('ul.admin-members li[data-username="ada"]')).to_be_visible()
    await audit.screen(page, "tour-admin-members")
    await page.goto("/admin/waitlist")
    await expect(page.get_by_text("@marta on Mastodon")).to_be_visible()
    await audit.screen(page, "tour-admin-waitlist")
    await page.goto("/admin/reports")
    await expect(page.locator("li.report").first).to_contain_text("Posts the same link in every room.")
    await audit.screen(page, "tour-admin-reports")
    await page.goto("/admin/rooms")
    await expect(page.locator("ul.admin-rooms li", has_text=ROOM_TITLE)).to_be_visible()
    await audit.screen(page, "tour-admin-rooms")
    await page.goto("/admin/settings")
    await expect(page.get_by_label("Invites each new member starts with")).to_be_visible()
    await audit.screen(page, "tour-admin-settings")
    await page.goto("/admin/log")
    await expect(page.locator("ul.admin-log li").first).to_be_visible()
    await audit.screen(page, "tour-admin-log")
    await page.evaluate("localStorage.setItem('salon.lang', 'fr')")
    await page.goto("/admin")
    await expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()
    await expect(page.locator('ul.admin-members li[data-username="ada"]')).to_be_visible()
    await audit.screen(page, "tour-admin-members-fr")
    await page.goto("/admin/reports")
    await expect(page.locator("li.report").first).to_contain_text("Signalé par Ada Okafor")
    await audit.screen(page, "tour-admin-reports-fr")
    await page.evaluate("localStorage.removeItem('salon.lang')")
    await context.close()


BOOTH_READY_EN = "Your microphone is connected to the booth and muted: nobody hears you until you are live."
BOOTH_READY_FR = (
    "Votre micro est relié à la cabine, coupé : personne ne vous entend tant que vous n’êtes pas en direct."
)


async def interpretation_screens(browser: Browser, salon: Salon, audit: Audit) -> None:
    """A room with English on stage and Russian and French channels, in English and French: the listener's
    language picker with the interpreters marked on their tiles (Olga; the host, live in French), the moderators'
    Languages dialog, the interpreter's booth, its microphone connected and muted (seeded here: none of the tour's
    people may leave the rooms they are in; after both tours, whose hallways count the rooms)."""
    async with SalonApi(salon.server) as api:
        http = api.http
        host, olga, tom = [await api.add_member(salon.admin, n) for n in ("mika", "olga", "tom")]
        for who, name in ((host, "Mika Laine"), (olga, "Olga Petrova"), (tom, "Tom Baker")):
            ok(await http.patch(f"{API}/me", json={"display_name": name}, headers=who.auth))
        body = {
            "title": "Across languages",
            "topics": ["books"],
            "languages": {"floor": "en", "channels": ["ru", "fr"]},
        }
        room = ok(await http.post(f"{API}/rooms", json=body, headers=host.auth))["room"]["id"]
        for who in (olga, tom):
            ok(await http.post(f"{API}/rooms/{room}/join", headers=who.auth))
        body = {"language": "ru", "user_id": olga.user_id}
        ok(await http.post(f"{API}/rooms/{room}/interpreters", json=body, headers=host.auth))
        # The host interprets into French too, live: the tiles then show both an interpreter and a live one.
        body = {"language": "fr", "user_id": host.user_id}
        ok(await http.post(f"{API}/rooms/{room}/interpreters", json=body, headers=host.auth))
        ok(await http.post(f"{API}/rooms/{room}/booth/take", json={"language": "fr"}, headers=host.auth))
    for device in (PHONE, DESKTOP):
        for lang, suffix, settings, languages, olga_tile, ready in (
            ("en", "", "Room settings", "Languages", "Olga Petrova, Interpreter · Russian", BOOTH_READY_EN),
            ("fr", "-fr", "Réglages du salon", "Langues", "Olga Petrova, Interprète · Russe", BOOTH_READY_FR),
        ):
            pages = {}
            for who in (tom, host, olga):
                context = await new_context(browser, salon.server, device)
                await context.add_init_script(f"localStorage.setItem('salon.lang', '{lang}')")
                await log_in(context, salon.server, who)
                pages[who.username] = page = await audit.watch(await context.new_page())
                await page.goto(f"/room/{room}")
            page = pages[tom.username]
            await page.locator("#language-picker").select_option("ru")
            await expect(page.get_by_test_id("language-status")).not_to_be_empty()
            # Interpreters are marked on their tiles: Olga in the audience, the host live on stage.
            await expect(page.locator(f'li.person[data-user-id="{olga.user_id}"] button')).to_have_attribute(
                "aria-label", olga_tile
            )
            live_badge = page.locator(f'li.person[data-user-id="{host.user_id}"] [data-testid=interpreter-badge]')
            await expect(live_badge).to_have_attribute("data-live", "true")
            await audit.screen(page, f"tour-room-language-picker{suffix}")
            page = pages[host.username]
            await page.get_by_role("button", name=settings).click()
            await page.get_by_role("dialog").get_by_role("button", name=languages).click()
            await expect(page.locator("dialog.languages-dialog input[value=ru]")).to_be_checked()
            await audit.screen(page, f"tour-room-languages-dialog{suffix}")
            page = pages[olga.username]
            await expect(page.get_by_test_id("booth")).to_be_visible()
            # Connected in advance, muted until live, and saying so.
            await expect(page.get_by_test_id("booth-connection")).to_have_text(ready)
            await audit.screen(page, f"tour-room-booth{suffix}")
            for page in pages.values():
                await page.context.close()


def test_screenshot_tour_on_phone_and_desktop(salon: Salon, tmp_path: Path) -> None:
    async def run() -> Audit:
        audit = Audit()
        async with async_playwright() as playwright:
            browser = await launch_browser(playwright, tmp_path, "tour", None)
            try:
                for device in (PHONE, DESKTOP):  # before anything is seeded: a brand-new instance
                    await first_admin_screens(browser, salon, device, audit)
                watching = await first_admin_hallway(browser, salon, audit)
                started = time.monotonic()
                async with SalonApi(salon.server) as api:
                    seeded = await seed(api, salon.admin)
                print(f"\nseeded in {time.monotonic() - started:.1f} s")
                await first_steps_gave_way(watching)
                for device in (PHONE, DESKTOP):
                    started = time.monotonic()
                    await tour(browser, salon, seeded, device, audit)
                    print(f"{device.name} tour: {time.monotonic() - started:.1f} s")
                await interpretation_screens(browser, salon, audit)
            finally:
                await browser.close()
        return audit

    audit = salon.ns.run(run, timeout=TOUR_TIMEOUT)
    print(f"{len(audit.shots)} screenshots:", ", ".join(audit.shots))
    if audit.problems:
        report = "\n".join(f"{screen}:\n  " + "\n  ".join(found) for screen, found in audit.problems.items())
        pytest.fail(f"problems on {len(audit.problems)} screen(s):\n{report}", pytrace=False)
