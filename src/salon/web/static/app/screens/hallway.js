// The hallway: live rooms one may join (people one follows on stage first), the next scheduled events, and
// "Start a room". Refreshed live: it re-reads the list whenever the connection comes back and every 20 seconds
// while shown.

import { errorMessage, get, post } from "../api.js";
import { avatar, h, when } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, lang, t } from "../i18n.js";
import { field, handleForm } from "./forms.js";
import strings from "./hallway.strings.js";

addStrings(strings);

const REFRESH_MS = 20000;

export async function render(main, ctx) {
  const rooms = h("div", { "aria-live": "polite", "aria-busy": "true" }, h("p.loading", {}, t("app.loading")));
  const upcoming = h("div");
  const dialog = startDialog(ctx);
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
  async function refresh() {
    try {
      const page = await get("/hallway");
      rooms.replaceChildren(...roomCards(page));
      rooms.setAttribute("aria-busy", "false");
      upcoming.replaceChildren(...upcomingList(page.upcoming));
    } catch (error) {
      rooms.replaceChildren(h("p.error", { role: "alert" }, errorMessage(error)));
    }
  }
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  ctx.live.addEventListener("online", refresh);
  return () => {
    clearInterval(timer);
    ctx.live.removeEventListener("online", refresh);
  };
}

function roomCards(page) {
  if (!page.rooms.length) return [h("p.empty", {}, t("hallway.no_rooms"))];
  return page.rooms.map((entry) => {
    const { room } = entry;
    const names = entry.speakers.map((p) => p.user.display_name).join(", ");
    return h(
      "a.card.room-card",
      { href: `/room/${encodeURIComponent(room.id)}`, dataset: { roomId: room.id } },
      room.topics.length ? h("ul.topics", { "aria-label": t("hallway.topics") }, room.topics.map((x) => h("li.topic", {}, x))) : null,
      h("h2", {}, room.title),
      room.type !== "open" ? h("span.tag", {}, t(`hallway.type_${room.type}`)) : null,
      h(
        "div.who",
        {},
        h("span.faces", { "aria-hidden": "true" }, entry.speakers.slice(0, 3).map((p) => avatar(p.user, "m"))),
        h(
          "div.grow",
          {},
          h("div", {}, names),
          h(
            "div.counts",
            {},
            t("hallway.speakers", { count: entry.speaker_count }),
            " · ",
            t("hallway.listeners", { count: entry.listener_count }),
          ),
        ),
      ),
    );
  });
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
    const created = await post("/rooms", { title: values.title.trim(), topics, type: values.type });
    dialog.close();
    ctx.navigate(`/room/${encodeURIComponent(created.room.id)}?started=1`);
  });
  return dialog;
}
