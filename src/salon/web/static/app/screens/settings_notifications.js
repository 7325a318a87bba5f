// Settings: which notifications I get (by group) and a pause — GET/PUT /me/notification-settings. A group turned
// off is not written at all; while paused, notifications still reach the list but do not pop up or bump the badge
// (the server decides both: domain/notification_prefs.py).

import { errorMessage, get, put } from "../api.js";
import { h } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";
import strings from "./settings_notifications.strings.js";

addStrings(strings);

const HOUR_MS = 3600 * 1000;
const MORNING_HOUR = 8;

/** The next 08:00 in this browser's time zone (today's if it is still to come, else tomorrow's). */
export function nextMorning(now = new Date()) {
  const morning = new Date(now);
  morning.setHours(MORNING_HOUR, 0, 0, 0);
  if (morning <= now) morning.setDate(morning.getDate() + 1); // setDate keeps 08:00 across a DST change
  return morning;
}

export async function notificationsPart(ctx) {
  let settings = await get("/me/notification-settings");
  const status = h("p.muted.small", { role: "status" });
  const groups = h("fieldset.notif-groups", {}, h("legend", {}, t("notif_prefs.tell_me")));
  const pause = h("div.notif-pause", { role: "group", "aria-labelledby": "notif-pause-title" });

  async function save(changes) {
    // A pause that ended while the page stayed open is sent as none (the server refuses an end in the past).
    const lasting = settings.paused_until && new Date(settings.paused_until) > new Date() ? settings.paused_until : null;
    const body = { groups: settings.groups, paused_until: lasting, ...changes };
    try {
      settings = await put("/me/notification-settings", body);
      ctx.watchPauseEnd?.(settings.paused_until);
      status.textContent = t("app.saved");
      return true;
    } catch (error) {
      status.textContent = errorMessage(error);
      return false;
    } finally {
      draw();
    }
  }

  function draw() {
    groups.replaceChildren(
      h("legend", {}, t("notif_prefs.tell_me")),
      ...Object.keys(settings.groups).map((name) =>
        h(
          "label.choice",
          {},
          h("input", {
            type: "checkbox",
            name: `notif-${name}`,
            checked: settings.groups[name],
            onchange: (event) => save({ groups: { ...settings.groups, [name]: event.target.checked } }),
          }),
          h("span", {}, h("strong", {}, t(`notif_prefs.group_${name}`)), h("span.hint", {}, t(`notif_prefs.hint_${name}`))),
        ),
      ),
    );
    const until = settings.paused_until ? new Date(settings.paused_until) : null;
    const pauseFor = (label, at) => h("button", { type: "button", onclick: () => save({ paused_until: at().toISOString() }) }, label);
    pause.replaceChildren(
      h("h3", { id: "notif-pause-title" }, t("notif_prefs.pause")),
      until
        ? h(
            "div.banner.quiet.notif-paused",
            { "data-testid": "notif-paused" },
            h("p", {}, t("notif_prefs.paused_until", { when: new Intl.DateTimeFormat(lang(), { weekday: "long", hour: "numeric", minute: "2-digit" }).format(until) })),
            h("div.actions", {}, h("button.primary", { type: "button", onclick: resume }, t("notif_prefs.resume"))),
          )
        : h(
            "div.actions",
            {},
            pauseFor(t("notif_prefs.pause_1h"), () => new Date(Date.now() + HOUR_MS)),
            pauseFor(t("notif_prefs.pause_8h"), () => new Date(Date.now() + 8 * HOUR_MS)),
            pauseFor(t("notif_prefs.pause_morning"), () => nextMorning()),
          ),
      h("p.muted.small", {}, t("notif_prefs.pause_hint")),
    );
  }

  async function resume() {
    if (!(await save({ paused_until: null }))) return;
    try {
      ctx.setUnread((await get("/notifications?limit=1")).unread_count); // what arrived while paused
    } catch {
      /* the badge catches up at the next notification */
    }
  }

  draw();
  return h("div", {}, h("p.muted.small", {}, t("notif_prefs.intro")), groups, pause, status);
}
