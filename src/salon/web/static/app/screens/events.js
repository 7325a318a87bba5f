// Upcoming events (/events): the scheduled conversations I may see, by day in my time zone, each with its time,
// hosts, topics and "Notify me"; "Schedule an event"; and my personal calendar feed (a secret address a calendar
// app subscribes to, listing the events I host or asked to be notified about).

import { del, errorMessage, get, post, put, query } from "../api.js";
import { avatar, fill, h, when } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";
import { icon } from "../icons.js";
import { confirmDialog, copyText } from "../dialogs.js";
import strings from "./events.strings.js";

addStrings(strings);

const PAGE = 20;

export async function render(main, ctx) {
  const zone = browserZone();
  const list = h("div.event-days", { "aria-busy": "true" }, h("p.loading", {}, t("app.loading")));
  const more = h("div.actions.more");
  const days = new Map(); // day key → the <ul> of that day's cards
  let cursor = null;

  async function loadPage() {
    const page = await get(`/events${query({ tz: zone, limit: PAGE, cursor })}`);
    if (cursor === null) list.replaceChildren();
    cursor = page.next_cursor;
    const cards = page.events.map((event) => dayList(event).appendChild(h("li", {}, eventCard(event, ctx))));
    if (!list.childElementCount) list.append(h("p.empty", {}, t("events.none")));
    list.setAttribute("aria-busy", "false");
    fill(more, cursor ? h("button", { type: "button", onclick: showMore }, t("app.more")) : null);
    return cards;
  }
  async function showMore(e) {
    const button = e.currentTarget;
    button.disabled = true;
    try {
      const cards = await loadPage();
      cards[0]?.querySelector("a")?.focus(); // the keyboard carries on from the first new event
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
      button.disabled = false;
    }
  }
  function dayList(event) {
    const key = dayKey(new Date(event.starts_at), zone);
    if (!days.has(key)) {
      const ul = h("ul.event-list", {});
      const [headline, date] = dayHeading(event.starts_at, key, zone);
      list.append(h("section.event-day", {}, h("h2", {}, headline, date ? h("span.muted", {}, ` · ${date}`) : null), ul));
      days.set(key, ul);
    }
    return days.get(key);
  }

  main.append(
    h(
      "section.screen.events-screen",
      {},
      h(
        "div.section-head.events-head",
        {},
        h("h1", {}, t("events.title")),
        h("a.button.primary", { href: "/events/new" }, icon("plus", { size: 18 }), t("events.schedule")),
      ),
      h("p.muted.small", {}, t("events.zone_note", { zone: zone.replaceAll("_", " ") })),
      list,
      more,
      calendarFeed(ctx),
    ),
  );
  try {
    await loadPage();
  } catch (error) {
    list.replaceChildren(h("p.error", { role: "alert" }, errorMessage(error)));
  }
}

/** "2026-05-01" for the day an instant falls on in `zone`. */
function dayKey(date, zone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}

/** ["Today", "Friday 1 May"] or ["Friday", "8 May"]: a relative word when there is one, then the date. */
function dayHeading(iso, key, zone) {
  const toUtc = (k) => Date.UTC(...k.split("-").map((x, i) => Number(x) - (i === 1 ? 1 : 0)));
  const diff = Math.round((toUtc(key) - toUtc(dayKey(new Date(), zone))) / 86400000);
  const date = when(iso, lang(), { day: "numeric", month: "long", timeZone: zone });
  const weekday = when(iso, lang(), { weekday: "long", timeZone: zone });
  const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
  if (diff === 0 || diff === 1) {
    const word = new Intl.RelativeTimeFormat(lang(), { numeric: "auto" }).format(diff, "day");
    return [cap(word), `${weekday} ${date}`];
  }
  if (diff > 0 && diff < 7) return [cap(weekday), date];
  return [cap(when(iso, lang(), { weekday: "long", day: "numeric", month: "long", timeZone: zone })), null];
}

function eventCard(event, ctx) {
  const href = `/events/${encodeURIComponent(event.id)}`;
  const started = new Date(event.starts_at).getTime() <= Date.now();
  const count = h("span.muted", {}, event.rsvp_count ? t("events.interested", { count: event.rsvp_count }) : "");
  const names = event.hosts.map((u) => u.display_name);
  return h(
    "article.card.event-card",
    {},
    h(
      "div.event-time",
      {},
      clock(event.starts_at),
      started ? h("span.tag.now", {}, t("events.now")) : null,
    ),
    h(
      "div.grow",
      {},
      h("h3", {}, h("a.stretched", { href }, event.title)),
      h(
        "div.event-hosts",
        {},
        h("span.faces", { "aria-hidden": "true" }, event.hosts.slice(0, 3).map((u) => avatar(u, "s"))),
        h("span", {}, names.length > 2 ? t("events.hosts_more", { names: names.slice(0, 2).join(", "), count: names.length - 2 }) : new Intl.ListFormat(lang(), { type: "conjunction" }).format(names)),
      ),
      topicList(event.topics),
      h(
        "div.event-meta",
        {},
        event.room_type !== "open" ? typeTag(event.room_type) : null,
        count,
        h("span.grow"),
        event.is_host
          ? h("span.tag.hosting", {}, t("events.you_host"))
          : rsvpButton(event, ctx, (updated) => fill(count, updated.rsvp_count ? t("events.interested", { count: updated.rsvp_count }) : ""), ".small"),
      ),
    ),
  );
}

/** "10:43" big with "AM" small under it (12-hour locales), or just "10:43". */
function clock(iso) {
  const parts = new Intl.DateTimeFormat(lang(), { hour: "numeric", minute: "2-digit" }).formatToParts(new Date(iso));
  const period = parts.filter((p) => p.type === "dayPeriod").map((p) => p.value).join("");
  const time = parts.filter((p) => p.type !== "dayPeriod").map((p) => p.value).join("").trim();
  return h("time", { datetime: iso }, h("span.clock", {}, time), period ? h("span.period", {}, period) : null);
}

// --- pieces the other event screens and notifications share -------------------------------------------------------

export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** "in 5 minutes", "yesterday", "3 days ago": the largest unit that fits. */
export function relativeTime(iso, now = Date.now()) {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const format = new Intl.RelativeTimeFormat(lang(), { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) < size) continue;
    if (unit === "day") {
      // count calendar days, so that the day after tomorrow is never "tomorrow"
      const midnight = (d) => Date.UTC(d.getFullYear(), d.getMonth(), d.getDate());
      return format.format(Math.round((midnight(new Date(iso)) - midnight(new Date(now))) / 86400000), "day");
    }
    return format.format(Math.trunc(seconds / size), unit);
  }
  return format.format(0, "second"); // "now"
}

/** The "Notify me" toggle; `onChange(event)` gets the event as the server now sees it. */
export function rsvpButton(event, ctx, onChange = () => {}, extraClass = "") {
  const button = h(`button.notify${extraClass}`, { type: "button", "aria-pressed": String(event.rsvped) });
  const paint = (on) => {
    button.setAttribute("aria-pressed", String(on));
    fill(button, icon("bell", { size: 18, filled: on }), t("events.notify_me"));
  };
  paint(event.rsvped);
  let busy = false; // not `disabled`: that would take the keyboard focus away from the button
  button.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    button.setAttribute("aria-busy", "true");
    const on = button.getAttribute("aria-pressed") !== "true";
    try {
      const path = `/events/${encodeURIComponent(event.id)}/rsvp?tz=${encodeURIComponent(browserZone())}`;
      const updated = on ? await put(path) : await del(path);
      paint(updated.rsvped);
      ctx.announce(updated.rsvped ? t("events.notify_on") : t("events.notify_off"));
      onChange(updated);
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
    } finally {
      busy = false;
      button.removeAttribute("aria-busy");
    }
  });
  return button;
}

export function typeTag(roomType) {
  return h("span.tag", {}, t(`events.type_${roomType}`));
}

export function topicList(topics) {
  if (!topics.length) return null;
  return h("ul.topics", { "aria-label": t("events.topics") }, topics.map((x) => h("li.topic", {}, x)));
}

// --- the personal calendar feed -------------------------------------------------------------------------------------

function calendarFeed(ctx) {
  const body = h("div", {}, h("p.loading", {}, t("app.loading")));
  const box = h(
    "section.card.calendar-feed",
    { "aria-labelledby": "feed-title" },
    h("h2", { id: "feed-title" }, icon("calendar", { size: 20 }), t("events.feed_title")),
    h("p", {}, t("events.feed_intro")),
    body,
  );
  const busy = async (e, work) => {
    const button = e.currentTarget;
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
    } finally {
      button.disabled = false;
    }
  };
  const create = () => post("/me/calendar-feed").then((feed) => showNew(feed.url));
  const rotate = async () => {
    const ok = await confirmDialog({ title: t("events.feed_rotate_title"), text: t("events.feed_rotate_text"), confirm: t("events.feed_rotate") });
    if (ok) await create();
  };
  const revoke = async () => {
    const ok = await confirmDialog({ title: t("events.feed_revoke_title"), text: t("events.feed_revoke_text"), confirm: t("events.feed_revoke") });
    if (!ok) return;
    await del("/me/calendar-feed");
    showOff();
    ctx.toast(t("events.feed_revoked"));
  };
  const manage = () =>
    h(
      "div.actions",
      {},
      h("button.small", { type: "button", onclick: (e) => busy(e, rotate) }, t("events.feed_rotate")),
      h("button.danger.small", { type: "button", onclick: (e) => busy(e, revoke) }, t("events.feed_revoke")),
    );
  function showOff() {
    fill(body, h("div.actions", {}, h("button.primary", { type: "button", onclick: (e) => busy(e, create) }, t("events.feed_create"))));
  }
  function showActive(since) {
    fill(body, h("p.banner.quiet", {}, t("events.feed_active", { date: when(since, lang(), { dateStyle: "long" }) })), manage());
  }
  function showNew(url) {
    const input = h("input", { id: "feed-url", type: "text", readonly: true, value: url, spellcheck: "false", onfocus: (e) => e.target.select() });
    const copy = async () => ctx.toast((await copyText(url)) ? t("events.feed_copied") : t("events.feed_copy_failed"));
    fill(
      body,
      h("label", { for: "feed-url" }, t("events.feed_url")),
      h("div.copy-row", {}, input, h("button.primary", { type: "button", onclick: copy }, t("events.feed_copy"))),
      h("p.banner.warn", { role: "note" }, h("strong", {}, t("events.feed_private")), " ", t("events.feed_private_text")),
      h("p", {}, h("a", { href: url.replace(/^https?:/, "webcal:") }, t("events.feed_open_app")), h("span.muted", {}, " — ", t("events.feed_how"))),
      manage(),
    );
    input.focus();
    ctx.announce(t("events.feed_ready"));
  }
  get("/me/calendar-feed")
    .then((status) => (status.active ? showActive(status.created_at) : showOff()))
    .catch((error) => fill(body, h("p.error", { role: "alert" }, errorMessage(error))));
  return box;
}
