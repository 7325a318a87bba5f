// Search: members, live rooms and upcoming events, as one types (debounced; the query stays in the address so Back
// and reload keep it). The API allows 30 searches a minute: a refusal shows its message.

import { errorMessage, get, query } from "../api.js";
import { avatar, fill, h, when } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, lang, t } from "../i18n.js";
import { languageName, languagesLine, sortedTags } from "../interpretation.js";
import strings from "./search.strings.js";

addStrings(strings);

const DEBOUNCE_MS = 250;
const MIN_QUERY = 2;

export async function render(main, ctx) {
  const input = h("input", {
    id: "search-q",
    type: "search",
    name: "q",
    value: ctx.query.get("q") || "",
    autofocus: true,
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    enterkeyhint: "search",
    placeholder: t("search.placeholder"),
  });
  const form = h(
    "form.search-form",
    { role: "search", onsubmit: (event) => { event.preventDefault(); clearTimeout(timer); run(); } },
    h("label.visually-hidden", { for: "search-q" }, t("search.label")),
    h("span.search-icon", { "aria-hidden": "true" }, icon("search", { size: 20 })),
    input,
  );
  // Rooms and events in a language (their floor or a channel): alone, or with words.
  const language = h(
    "select",
    { id: "search-language", name: "language", onchange: () => run() },
    h("option", { value: "" }, t("lang.any_language")),
    sortedTags().map((tag) => h("option", { value: tag, selected: ctx.query.get("language") === tag }, languageName(tag))),
  );
  form.append(h("label.visually-hidden", { for: "search-language" }, t("lang.languages")), language);
  const results = h("div.search-results", { "aria-busy": "false" });
  main.append(h("section.screen.search", {}, h("h1.visually-hidden", {}, t("search.title")), form, results));

  let timer = null;
  let seq = 0;
  let last = null;

  async function run() {
    const q = input.value.trim();
    const tag = language.value;
    const key = `${q}\n${tag}`;
    if (key === last) return;
    last = key;
    const params = { ...(q ? { q } : {}), ...(tag ? { language: tag } : {}) };
    history.replaceState({}, "", Object.keys(params).length ? `/search${query(params)}` : "/search");
    const mine = ++seq;
    const term = q.replace(/^@+/, ""); // "@ada" finds ada: usernames are matched without the @
    if (term.length < MIN_QUERY && !tag) {
      results.replaceChildren(h("p.empty", {}, q ? t("search.too_short") : t("search.intro")));
      return;
    }
    results.setAttribute("aria-busy", "true");
    try {
      const found = await get(`/search${query({ ...(term.length >= MIN_QUERY ? { q: term } : {}), ...(tag ? { language: tag } : {}) })}`);
      if (mine !== seq) return;
      paint(found, q);
    } catch (error) {
      if (mine !== seq) return;
      last = null; // let the same words be tried again
      results.replaceChildren(h("p.banner.warn", { role: "alert" }, errorMessage(error)));
    } finally {
      if (mine === seq) results.setAttribute("aria-busy", "false");
    }
  }

  function paint(found, q) {
    const total = found.members.length + found.rooms.length + found.events.length;
    ctx.announce(t("search.count", { count: total }));
    if (!total) {
      results.replaceChildren(h("p.empty", {}, t("search.nothing", { q })));
      return;
    }
    fill(
      results,
      section("search-members", t("search.members"), found.members.map(memberRow)),
      section("search-rooms", t("search.rooms"), found.rooms.map(roomRow)),
      section("search-events", t("search.events"), found.events.map(eventRow)),
    );
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  });
  run();
  setTimeout(() => input.focus(), 0); // after the router focuses <main>
  return () => clearTimeout(timer);
}

function section(id, title, rows) {
  if (!rows.length) return null;
  return h("section.search-section", { "aria-labelledby": id }, h("h2", { id }, title), h("ul.list.card.results", {}, rows));
}

function memberRow(user) {
  return h(
    "li",
    {},
    h(
      "a.person-link.grow",
      { href: `/u/${encodeURIComponent(user.username)}` },
      avatar(user, "m"),
      h("span.person-names", {}, h("strong", {}, user.display_name), h("span.muted", {}, `@${user.username}`)),
    ),
  );
}

function roomRow(entry) {
  const { room } = entry;
  const names = entry.speakers.slice(0, 3).map((p) => p.user.display_name).join(", ");
  return h(
    "li",
    {},
    h(
      "a.result-link.grow",
      { href: `/room/${encodeURIComponent(room.id)}` },
      entry.speakers.length ? h("span.faces", { "aria-hidden": "true" }, entry.speakers.slice(0, 3).map((p) => avatar(p.user, "s"))) : null,
      h(
        "span.result-text",
        {},
        h("strong", {}, room.title),
        h(
          "span.muted.small",
          {},
          h("span.live-dot", {}, t("search.live")),
          " ",
          [names ? t("search.with", { names }) : null, t("search.listeners", { count: entry.listener_count }), languagesLine(entry.languages)].filter(Boolean).join(" · "),
        ),
        room.topics.length ? h("span.topics", {}, room.topics.map((x) => h("span.topic", {}, x))) : null,
      ),
    ),
  );
}

function eventRow(event) {
  const start = new Date(event.starts_at);
  const hosts = event.hosts.map((u) => u.display_name).join(", ");
  return h(
    "li",
    {},
    h(
      "a.result-link.grow",
      { href: `/events/${encodeURIComponent(event.id)}` },
      h(
        "span.date-chip",
        { "aria-hidden": "true" },
        h("span.date-month", {}, new Intl.DateTimeFormat(lang(), { month: "short" }).format(start)),
        h("span.date-day", {}, new Intl.DateTimeFormat(lang(), { day: "numeric" }).format(start)),
      ),
      h(
        "span.result-text",
        {},
        h("strong", {}, event.title),
        h(
          "span.muted.small",
          {},
          event.status === "live"
            ? t("search.event_live")
            : when(event.starts_at, lang(), { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }),
        ),
        hosts ? h("span.muted.small", {}, t("search.hosted_by", { names: hosts })) : null,
      ),
    ),
  );
}
