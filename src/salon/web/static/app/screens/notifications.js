// My notifications (/notifications), newest first: each kind as a sentence with a link (and "Join" for a live
// room, "Ended" for one that is over: the server says which in `room_ended`). Opening the screen marks them all read; the ones that were unread stay highlighted while it is shown.
// New ones arriving live are added on top and marked read at once. Unknown kinds get a generic line, so an older
// client copes with a newer server.

import { errorMessage, get, post, put, query } from "../api.js";
import { avatar, fill, h, when } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";
import { icon } from "../icons.js";
import { relativeTime } from "./events.js";
import strings from "./notifications.strings.js";

addStrings(strings);

const PAGE = 30;
const TICK_MS = 60000;

export async function render(main, ctx) {
  const list = h("ul.list.notes", { "aria-busy": "true", "aria-labelledby": "notes-title" });
  const more = h("div.actions.more");
  const status = h("p.loading", {}, t("app.loading"));
  let cursor = null;
  main.append(h("section.screen.notes-screen", {}, h("h1", { id: "notes-title" }, t("notifications.title")), status, list, more));

  async function loadPage() {
    const page = await get(`/notifications${query({ limit: PAGE, cursor })}`);
    cursor = page.next_cursor;
    const items = page.notifications.map((note) => item(note, !note.read_at));
    list.append(...items);
    fillFollowBacks(items, ctx);
    fill(more, cursor ? h("button", { type: "button", onclick: showMore }, t("app.more")) : null);
    return { page, items };
  }
  async function showMore(e) {
    const button = e.currentTarget;
    button.disabled = true;
    try {
      const { items } = await loadPage();
      items[0]?.querySelector("a")?.focus(); // the keyboard carries on from the first older notification
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
      button.disabled = false;
    }
  }
  const showEmpty = () => {
    status.className = "empty";
    fill(status, list.childElementCount ? null : t("notifications.none"));
    status.hidden = list.childElementCount > 0;
  };

  try {
    const { page: first } = await loadPage();
    list.setAttribute("aria-busy", "false");
    showEmpty();
    if (first.unread_count > 0) {
      post("/notifications/read", { all: true })
        .then((r) => ctx.setUnread(r.unread_count))
        .catch(() => {});
    } else {
      ctx.setUnread(0);
    }
  } catch (error) {
    status.className = "error";
    status.setAttribute("role", "alert");
    fill(status, errorMessage(error));
    return undefined;
  }

  const onEvent = (event) => {
    const frame = event.detail;
    if (frame.name !== "notification") return;
    const note = frame.data;
    if (list.querySelector(`[data-id="${CSS.escape(note.id)}"]`)) return;
    const fresh = item(note, true);
    list.prepend(fresh);
    fillFollowBacks([fresh], ctx);
    showEmpty();
    ctx.announce(sentence(note).text);
    post("/notifications/read", { ids: [note.id] })
      .then((r) => ctx.setUnread(r.unread_count))
      .catch(() => {});
  };
  ctx.live.addEventListener("user-event", onEvent);
  const timer = setInterval(() => {
    for (const time of list.querySelectorAll("time[datetime]")) time.textContent = relativeTime(time.getAttribute("datetime"));
  }, TICK_MS);
  return () => {
    ctx.live.removeEventListener("user-event", onEvent);
    clearInterval(timer);
  };
}

function item(note, fresh) {
  const { text, href, who, join, icon: kindIcon } = sentence(note);
  const created = note.created_at;
  return h(
    "li",
    { class: fresh ? "note unread" : "note", dataset: { id: note.id, kind: note.kind } },
    who ? avatar(who, "m") : h("span.note-icon", { "aria-hidden": "true" }, glyph(kindIcon)),
    h(
      "div.grow",
      {},
      href ? h("a.note-text", { href, dataset: { name: who ? nameOf(who) : "" } }, text) : h("span.note-text", {}, text),
      h(
        "div.muted.small",
        {},
        fresh ? h("span.visually-hidden", {}, t("notifications.new"), " · ") : null,
        h("time", { datetime: created, title: when(created, lang()) }, relativeTime(created)),
      ),
    ),
    join && note.room_ended === true ? h("span.pill.pill-ended", {}, t("notifications.ended")) : null,
    join && note.room_ended !== true
      ? h("a.button.primary.small", { href: join, "aria-label": t("notifications.join_label", { title: note.data?.title || "" }) }, t("notifications.join"))
      : null,
    note.kind === "followed_you" && who?.id ? h("span.follow-back", { dataset: { userId: who.id } }) : null,
    fresh ? h("span.unread-dot", { "aria-hidden": "true" }) : null,
  );
}

/** "Follow back" on each followed_you notification, or "Following" when one follows them already: asked once per
 * member shown (their profile says whether one follows them), so the button is never offered for nothing. */
async function fillFollowBacks(items, ctx) {
  const slots = items.map((li) => li.querySelector(".follow-back")).filter(Boolean);
  const ids = [...new Set(slots.map((slot) => slot.dataset.userId))];
  const following = new Map();
  await Promise.all(
    ids.map(async (id) => {
      try {
        following.set(id, Boolean((await get(`/users/${encodeURIComponent(id)}`)).followed_by_you));
      } catch {
        /* gone or blocked: no button */
      }
    }),
  );
  for (const slot of slots) {
    const id = slot.dataset.userId;
    if (following.has(id)) paintFollowBack(slot, id, following.get(id), ctx);
  }
}

function paintFollowBack(slot, userId, following, ctx) {
  if (following) {
    slot.replaceChildren(h("span.pill.pill-follows", { "data-testid": "following-back" }, t("notifications.following")));
    return;
  }
  const name = slot.closest("li")?.querySelector(".note-text")?.dataset.name || "";
  const button = h(
    "button.primary.follow-back-button",
    {
      type: "button",
      "aria-label": t("notifications.follow_back_label", { name }),
      onclick: async () => {
        button.disabled = true;
        try {
          const relation = await put(`/users/${encodeURIComponent(userId)}/follow`);
          paintFollowBack(slot, userId, relation.followed_by_you, ctx);
          ctx.toast(t("notifications.followed_back", { name }));
        } catch (error) {
          ctx.toast(errorMessage(error), "error");
          button.disabled = false;
        }
      },
    },
    t("notifications.follow_back"),
  );
  slot.replaceChildren(button);
}

const glyph = (name) => icon(name || "bell", { size: 22 });
const room = (id) => (id ? `/room/${encodeURIComponent(id)}` : null);
const eventPage = (id) => (id ? `/events/${encodeURIComponent(id)}` : null);
const profile = (user) => (user?.username ? `/u/${encodeURIComponent(user.username)}` : null);
const nameOf = (user) => user?.display_name || user?.username || t("notifications.someone");

/** What a notification says: {text, href, who (a member card to show), join (a room link), icon}. */
export function sentence(note) {
  const d = note.data || {};
  const title = d.title || "";
  const at = d.starts_at ? when(d.starts_at, lang(), { weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" }) : "";
  switch (note.kind) {
    case "pinged":
      return { text: t("notifications.pinged", { name: nameOf(d.by), title }), href: room(d.room_id), who: d.by, join: room(d.room_id) };
    case "followed_started_room":
      return { text: t("notifications.followed_started_room", { name: nameOf(d.user), title }), href: room(d.room_id), who: d.user, join: room(d.room_id) };
    case "followed_speaking":
      return { text: t("notifications.followed_speaking", { name: nameOf(d.user), title }), href: room(d.room_id), who: d.user, join: room(d.room_id) };
    case "event_starting_soon":
      return { text: t("notifications.event_starting_soon", { title, time: at }), href: eventPage(d.event_id), icon: "bell" };
    case "event_started":
      return { text: t("notifications.event_started", { title }), href: room(d.room_id) || eventPage(d.event_id), join: room(d.room_id), icon: "mic" };
    case "event_cancelled":
      return { text: t("notifications.event_cancelled", { title, time: at }), href: eventPage(d.event_id), icon: "calendar" };
    case "event_invited":
      return d.inviter
        ? { text: t("notifications.event_invited_by", { name: nameOf(d.inviter), title, time: at }), href: eventPage(d.event_id), who: d.inviter }
        : { text: t("notifications.event_invited", { title, time: at }), href: eventPage(d.event_id), icon: "calendar" };
    case "invite_redeemed":
      return {
        text: t(d.nominated ? "notifications.invite_redeemed_nominee" : "notifications.invite_redeemed", { name: nameOf(d.user) }),
        href: profile(d.user),
        who: d.user,
      };
    case "followed_you":
      return { text: t("notifications.followed_you", { name: nameOf(d.user) }), href: profile(d.user), who: d.user };
    case "nominated":
      return { text: t("notifications.nominated", { name: nameOf(d.by) }), href: profile(d.by), who: d.by };
    default: {
      const href = d.event_id ? eventPage(d.event_id) : room(d.room_id);
      const text = title ? t("notifications.generic_titled", { title }) : t("notifications.generic");
      return { text, href, icon: "bell" };
    }
  }
}
