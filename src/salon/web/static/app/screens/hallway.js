// The hallway: live rooms one may join (people one follows on stage first), the next scheduled events, and
// "Start a room". Live while shown: it asks the connection to watch the hallway (`hallway_watch`: the first page
// of rooms), then applies the server's `hallway` frames in place — a new room is inserted where the ranking puts
// it, a card whose stage or counts changed is refilled where it stands (cards do not jump under a finger, and the
// focused card keeps focus), an ended room goes away. When the connection comes back it watches again (a fresh
// page); while there is no connection it shows the page read over HTTP.

import { languageFields, readLanguages } from "./languages_form.js";
import { languagesLine } from "../interpretation.js";
import { errorMessage, get, post } from "../api.js";
import { avatar, h, when } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, lang, t } from "../i18n.js";
import { field, handleForm } from "./forms.js";
import strings from "./hallway.strings.js";

addStrings(strings);

const PAGE = 50; // rooms watched (the server's largest page)

export async function render(main, ctx) {
  const rooms = h("div.room-list", { "aria-busy": "true", dataset: { testid: "hallway-rooms" } }, h("p.loading", {}, t("app.loading")));
  const upcoming = h("div");
  const dialog = startDialog(ctx);
  const cards = new Map(); // room id → {entry, el}
  let watching = false;
  let gone = false;
  main.append(
    h(
      "section.screen",
      {},
      h("h1.visually-hidden", {}, t("hallway.title")),
      h("div.section-head", {}, h("h2", {}, t("hallway.live_now"))),
      rooms,
      upcoming,
      dialog,
      h("button.primary.fab", { type: "button", onclick: () => dialog.showModal() }, icon("plus"), t("hallway.start_room")),
    ),
  );

  function showPage(entries) {
    cards.clear();
    const els = entries.map((entry) => {
      const el = roomCard(entry);
      cards.set(entry.room.id, { entry, el });
      return el;
    });
    rooms.replaceChildren(...(els.length ? els : [emptyNote(ctx.me)]));
    rooms.setAttribute("aria-busy", "false");
  }

  /** A fresh page over cards already shown (the connection came back, or came after the HTTP page): reconciled in
   * place like the frames, so the card being read neither moves nor loses focus. */
  function reconcile(entries) {
    if (!cards.size) return showPage(entries);
    const fresh = new Set(entries.map((entry) => entry.room.id));
    for (const roomId of [...cards.keys()]) if (!fresh.has(roomId)) remove(roomId);
    for (const entry of entries) upsert(entry);
  }

  function upsert(entry) {
    const known = cards.get(entry.room.id);
    if (known) {
      known.entry = entry;
      fillCard(known.el, entry);
      return;
    }
    const el = roomCard(entry);
    let before = null;
    for (const { entry: other, el: otherEl } of cards.values()) {
      if (ranksBefore(entry, other) && (before === null || before.compareDocumentPosition(otherEl) & Node.DOCUMENT_POSITION_PRECEDING)) {
        before = otherEl;
      }
    }
    rooms.querySelector(".empty")?.remove();
    rooms.insertBefore(el, before);
    cards.set(entry.room.id, { entry, el });
    ctx.announce(t("hallway.new_room", { title: entry.room.title }));
  }

  function remove(roomId) {
    const known = cards.get(roomId);
    if (!known) return;
    cards.delete(roomId);
    const { el } = known;
    const hadFocus = el.contains(document.activeElement);
    const next = el.nextElementSibling || el.previousElementSibling;
    el.remove();
    if (hadFocus && next) next.focus({ preventScroll: true });
    if (!cards.size) rooms.replaceChildren(emptyNote(ctx.me));
  }

  const onHallway = (event) => {
    if (!watching) return;
    for (const roomId of event.detail.removed) remove(roomId);
    for (const entry of event.detail.rooms) upsert(entry);
  };

  async function watch() {
    if (ctx.live.state !== "online") return false;
    try {
      const page = await ctx.live.call("hallway_watch", { limit: PAGE });
      if (gone) {
        ctx.live.call("hallway_unwatch").catch(() => {}); // the screen was left while the page came
        return false;
      }
      watching = true;
      reconcile(page.rooms);
      return true;
    } catch {
      return false;
    }
  }

  async function load() {
    const watched = await watch();
    try {
      const page = await get(watched ? "/hallway?limit=1" : "/hallway");
      if (gone) return;
      if (!watched && !watching) showPage(page.rooms);
      upcoming.replaceChildren(...upcomingList(page.upcoming));
    } catch (error) {
      if (!watching) rooms.replaceChildren(h("p.error", { role: "alert" }, errorMessage(error)));
    }
  }

  const onOnline = () => {
    watching = false; // a new connection: the server forgot the old watch
    watch();
  };
  // Someone followed this member: the first-steps guide ("invite people first") may no longer fit.
  const onMeChanged = () => {
    if (!cards.size && rooms.querySelector(".empty")) rooms.replaceChildren(emptyNote(ctx.me));
  };
  ctx.live.addEventListener("hallway", onHallway);
  ctx.live.addEventListener("online", onOnline);
  document.addEventListener("salon:me-changed", onMeChanged);
  await load();
  return () => {
    gone = true;
    document.removeEventListener("salon:me-changed", onMeChanged);
    ctx.live.removeEventListener("hallway", onHallway);
    ctx.live.removeEventListener("online", onOnline);
    if (watching && ctx.live.state === "online") ctx.live.call("hallway_unwatch").catch(() => {});
    watching = false;
  };
}

/** No live room. Someone with no followers and nobody followed (a new instance's first admin, say) is told to
 * invite people first: "your followers will hear about it" would promise an audience there is not. */
function emptyNote(me) {
  if (me && me.followers_count === 0 && me.following_count === 0) {
    return h(
      "div.empty.hallway-first",
      { "data-testid": "hallway-first-steps" },
      h("p", {}, h("strong", {}, t("hallway.first_title"))),
      h("p", {}, t("hallway.first_text")),
      h("a.button.primary", { href: "/invites" }, icon("mail", { size: 18 }), t("hallway.first_invite")),
    );
  }
  return h("p.empty", {}, t("hallway.no_rooms"));
}

/** The hallway's order (domain/hallway.py rank_key): people one follows on stage, audience, newer, id. */
export function ranksBefore(a, b) {
  const key = (e) => [e.followed_on_stage > 0 ? 0 : 1, -(e.speaker_count + e.listener_count), -Date.parse(e.room.created_at)];
  const [ka, kb] = [key(a), key(b)];
  for (let i = 0; i < ka.length; i += 1) if (ka[i] !== kb[i]) return ka[i] < kb[i];
  return a.room.id < b.room.id;
}

function roomCard(entry) {
  const el = h("a.card.room-card", { href: `/room/${encodeURIComponent(entry.room.id)}`, dataset: { roomId: entry.room.id } });
  return fillCard(el, entry);
}

function fillCard(el, entry) {
  const { room } = entry;
  const names = entry.speakers.map((p) => p.user.display_name).join(", ");
  el.replaceChildren(
    ...[
      room.topics.length ? h("ul.topics", { "aria-label": t("hallway.topics") }, room.topics.map((x) => h("li.topic", {}, x))) : null,
      h("h2", {}, room.title),
      room.type !== "open" ? h("span.tag", {}, t(`hallway.type_${room.type}`)) : null,
      entry.languages ? h("p.muted.card-languages", {}, languagesLine(entry.languages)) : null,
      h(
        "div.who",
        {},
        h("span.faces", { "aria-hidden": "true" }, entry.speakers.slice(0, 3).map((p) => avatar(p.user, "m"))),
        h(
          "div.grow",
          {},
          h("div.names", {}, names),
          h(
            "div.counts",
            {},
            t("hallway.speakers", { count: entry.speaker_count }),
            " · ",
            t("hallway.listeners", { count: entry.listener_count }),
          ),
        ),
      ),
    ].filter(Boolean),
  );
  return el;
}

function upcomingList(events) {
  if (!events.length) return [];
  return [
    h("div.section-head", {}, h("h2", {}, t("hallway.upcoming")), h("a", { href: "/events" }, t("hallway.all_events"))),
    h(
      "ul.list.card",
      {},
      events.map((event) =>
        h(
          "li",
          {},
          h("span.faces", { "aria-hidden": "true" }, event.hosts.slice(0, 2).map((u) => avatar(u, "s"))),
          h(
            "div.grow",
            {},
            h("a", { href: `/events/${encodeURIComponent(event.id)}` }, event.title),
            h("div.muted", {}, when(event.starts_at, lang(), { weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" })),
          ),
        ),
      ),
    ),
  ];
}

function startDialog(ctx) {
  const topicsHint = t("hallway.topics_hint");
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", {}, t("hallway.start_room")),
    field(t("hallway.room_title"), { name: "title", required: true, maxlength: 100, autocomplete: "off" }),
    field(t("hallway.topics"), { name: "topics", autocomplete: "off" }, topicsHint),
    h(
      "fieldset",
      {},
      h("legend", {}, t("hallway.who_can_join")),
      ["open", "social", "closed"].map((type) =>
        h(
          "label.choice",
          {},
          h("input", { type: "radio", name: "type", value: type, checked: type === "open" }),
          h("span", {}, h("strong", {}, t(`hallway.type_${type}`)), h("span.hint", {}, t(`hallway.type_${type}_hint`))),
        ),
      ),
    ),
    languageFields(),
    h("p.form-error", { role: "alert" }),
    h(
      "div.actions",
      {},
      h("button.primary", { type: "submit" }, t("hallway.lets_go")),
      h("button", { type: "button", onclick: () => dialog.close() }, t("app.cancel")),
    ),
  );
  const dialog = h("dialog", { "aria-label": t("hallway.start_room") }, form);
  handleForm(form, async (values) => {
    const topics = values.topics
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
    const created = await post("/rooms", { title: values.title.trim(), topics, type: values.type, ...readLanguages(form) });
    dialog.close();
    ctx.navigate(`/room/${encodeURIComponent(created.room.id)}?started=1`);
  });
  return dialog;
}
