// One scheduled event (/events/:id): when it is (in my time zone, and in the host's when that differs), who
// hosts it, "Notify me", the .ics file and a share link; its hosts also edit, start, cancel it and put members on
// a closed event's list. A live event links to its room.

import { languagesLine } from "../interpretation.js";
import { errorMessage, get, post } from "../api.js";
import { avatar, h, fill, when } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";
import { icon } from "../icons.js";
import { confirmDialog, copyText } from "../dialogs.js";
import { browserZone, relativeTime, rsvpButton, topicList, typeTag } from "./events.js";
import { field, handleForm } from "./forms.js";
import strings from "./event.strings.js";

addStrings(strings);

const START_EARLY_MS = 15 * 60 * 1000; // domain/scheduled_events.py START_EARLY
const LAPSE_AFTER_MS = 60 * 60 * 1000; // domain/scheduled_events.py LAPSE_AFTER

// --- the screen ---------------------------------------------------------------------------------------------------

export async function render(main, ctx) {
  const [id] = ctx.params;
  const screen = h("section.screen.event-page", {}, h("p.loading", {}, t("app.loading")));
  main.append(screen);
  let timer = null;
  const load = async () => {
    const event = await get(`/events/${encodeURIComponent(id)}?tz=${encodeURIComponent(browserZone())}`);
    show(event);
  };
  const show = (event) => {
    clearTimeout(timer);
    fill(screen, ...page(event, ctx, show));
    document.title = `${event.title} · Salon`;
    const opensIn = new Date(event.starts_at).getTime() - START_EARLY_MS - Date.now();
    if (event.is_host && event.status === "scheduled" && opensIn > 0 && opensIn < 86400000) {
      timer = setTimeout(() => show(event), opensIn + 500); // "Start now" appears when starting becomes possible
    }
  };
  await load();
  const onNote = (e) => {
    const note = e.detail.name === "notification" ? e.detail.data : null;
    if (note && note.data?.event_id === id) load().catch(() => {});
  };
  ctx.live.addEventListener("user-event", onNote);
  return () => {
    clearTimeout(timer);
    ctx.live.removeEventListener("user-event", onNote);
    document.title = "Salon";
  };
}

function page(event, ctx, show) {
  const zone = browserZone();
  const start = new Date(event.starts_at);
  const full = { weekday: "long", day: "numeric", month: "long", year: "numeric", hour: "numeric", minute: "2-digit" };
  const scheduled = event.status === "scheduled";
  const interested = (e) => (e.rsvp_count ? t("event.interested", { count: e.rsvp_count }) : "");
  const count = h("p.muted.event-count", {}, interested(event));
  const open = scheduled || event.status === "live";
  const theirs = event.timezone !== zone && offsetOf(start, event.timezone) !== offsetOf(start, zone);
  return [
    h("a.back", { href: "/events" }, h("span", { "aria-hidden": "true" }, "← "), t("event.all_events")),
    statusBanner(event),
    h(
      "article.card.event-main",
      {},
      topicList(event.topics),
      h("h1", {}, event.title),
      h(
        "p.event-when",
        {},
        h("time", { datetime: event.starts_at }, when(event.starts_at, lang(), { ...full, timeZoneName: "short" })),
        event.status === "scheduled" ? h("span.muted", {}, " · ", relativeTime(event.starts_at)) : null,
      ),
      theirs
        ? h("p.muted.small", {}, t("event.their_time", {
            time: when(event.starts_at, lang(), { ...full, timeZone: event.timezone, timeZoneName: "short" }),
            zone: event.timezone.replaceAll("_", " "),
          }))
        : null,
      h("p.event-type", {}, typeTag(event.room_type), " ", h("span.muted", {}, t(`event.type_${event.room_type}_hint`))),
      event.description ? h("p.event-description", {}, event.description) : null,
      event.languages ? h("p.event-languages", {}, h("span.muted", {}, `${t("lang.languages")}: `), languagesLine(event.languages)) : null,
      open ? count : null,
      event.is_host && scheduled ? h("p.muted.small", {}, t("event.host_reminded")) : null,
      h(
        "div.actions",
        {},
        scheduled && !event.is_host ? rsvpButton(event, ctx, (updated) => fill(count, interested(updated))) : null,
        open ? h("a.button", { href: event.ics_url, download: `salon-${event.id}.ics` }, icon("calendar", { size: 18 }), t("event.add_to_calendar")) : null,
        h("button", { type: "button", onclick: () => share(event, ctx) }, icon("share", { size: 18 }), t("event.share")),
      ),
    ),
    h("h2", {}, t("event.hosts", { count: event.hosts.length })),
    h(
      "ul.list.card.hosts",
      {},
      event.hosts.map((u) =>
        h(
          "li",
          {},
          avatar(u, "m"),
          h("a.grow", { href: `/u/${encodeURIComponent(u.username)}` }, h("strong", {}, u.display_name), h("span.muted", {}, ` @${u.username}`)),
        ),
      ),
    ),
    event.is_host ? hostTools(event, ctx, show) : null,
  ];
}

function offsetOf(date, zone) {
  return new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "longOffset" }).format(date).split(" ").pop();
}

function statusBanner(event) {
  const join = event.room_id
    ? h("div.actions", {}, h("a.button.primary", { href: `/room/${encodeURIComponent(event.room_id)}` }, t("event.join_room")))
    : null;
  switch (event.status) {
    case "live":
      return h("div.banner.live", { role: "status" }, h("strong", {}, h("span.event-live-dot", { "aria-hidden": "true" }), t("event.live_now")), join);
    case "cancelled":
      return h("p.banner.warn", { role: "status" }, t("event.cancelled"));
    case "ended":
      return h("p.banner.quiet", { role: "status" }, t("event.ended"));
    case "missed":
      return h("p.banner.quiet", { role: "status" }, t("event.missed"));
    default:
      return new Date(event.starts_at).getTime() <= Date.now() ? h("p.banner", { role: "status" }, t("event.waiting_for_host")) : null;
  }
}

async function share(event, ctx) {
  const url = `${location.origin}/events/${encodeURIComponent(event.id)}`;
  if (navigator.share && matchMedia("(pointer: coarse)").matches) {
    try {
      await navigator.share({ title: event.title, url });
      return;
    } catch (error) {
      if (error?.name === "AbortError") return;
    }
  }
  ctx.toast((await copyText(url)) ? t("event.link_copied") : t("event.copy_failed"), "info");
}

function hostTools(event, ctx, show) {
  if (event.status !== "scheduled") return null;
  const base = `/events/${encodeURIComponent(event.id)}`;
  const tz = `?tz=${encodeURIComponent(browserZone())}`;
  const startsAt = new Date(event.starts_at).getTime();
  const opensAt = startsAt - START_EARLY_MS;
  const startable = Date.now() >= opensAt && Date.now() <= startsAt + LAPSE_AFTER_MS;
  const startNow = async (e) => {
    const button = e.currentTarget;
    button.disabled = true;
    try {
      const started = await post(`${base}/start${tz}`);
      ctx.navigate(`/room/${encodeURIComponent(started.room_id)}`);
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
      button.disabled = false;
    }
  };
  const cancel = async () => {
    const ok = await confirmDialog({ title: t("event.cancel_title"), text: t("event.cancel_text"), confirm: t("event.cancel_event") });
    if (!ok) return;
    try {
      show(await post(`${base}/cancel${tz}`));
      ctx.toast(t("event.cancelled_toast"));
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
    }
  };
  const invite = event.room_type === "closed" ? inviteDialog(event, ctx, show) : null;
  return h(
    "section.host-tools",
    { "aria-labelledby": "host-tools-title" },
    h("h2", { id: "host-tools-title" }, t("event.host_tools")),
    h(
      "div.card",
      {},
      startable
        ? h("button.primary", { type: "button", onclick: startNow }, icon("play", { size: 18, filled: true }), t("event.start_now"))
        : h("p.muted", {}, t("event.start_from", { time: when(new Date(opensAt).toISOString(), lang(), { dateStyle: "medium", timeStyle: "short" }) })),
      h(
        "div.actions",
        {},
        h("a.button", { href: `${base}/edit` }, t("event.edit")),
        invite ? h("button", { type: "button", id: "invite-button", onclick: () => invite.showModal() }, t("event.invite")) : null,
        h("button.danger", { type: "button", onclick: cancel }, t("event.cancel_event")),
      ),
      invite,
    ),
  );
}

function inviteDialog(event, ctx, show) {
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", {}, t("event.invite")),
    h("p.muted", {}, t("event.invite_text")),
    field(t("event.invite_username"), { name: "username", required: true, maxlength: 64, autocomplete: "off", autocapitalize: "none", spellcheck: "false" }),
    h("p.form-error", { role: "alert" }),
    h(
      "div.actions",
      {},
      h("button.primary", { type: "submit" }, t("event.invite_submit")),
      h("button", { type: "button", onclick: () => dialog.close() }, t("app.cancel")),
    ),
  );
  const dialog = h("dialog", { "aria-label": t("event.invite") }, form);
  dialog.addEventListener("close", () => {
    form.reset();
    form.querySelector(".form-error").textContent = "";
  });
  handleForm(form, async (values) => {
    const username = values.username.trim().replace(/^@/, "");
    const user = await get(`/users/by-username/${encodeURIComponent(username)}`);
    const updated = await post(`/events/${encodeURIComponent(event.id)}/invite?tz=${encodeURIComponent(browserZone())}`, { user_id: user.id });
    dialog.close();
    ctx.toast(t("event.invited", { name: user.display_name }));
    show(updated);
    document.getElementById("invite-button")?.focus();
  });
  return dialog;
}
