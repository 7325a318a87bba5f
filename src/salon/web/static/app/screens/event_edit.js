// Schedule an event (/events/new) or edit one (/events/:id/edit): title, description, a date and time read in a
// time zone one picks (the browser's by default), topics, co-hosts by username, and who can see and join it.
// Obvious mistakes are caught here; anything else the server refuses is shown above the buttons.

import { ApiError, get, patch, post } from "../api.js";
import { h, when } from "../dom.js";
import { addStrings, lang, t } from "../i18n.js";
import { field, handleForm } from "./forms.js";
import { languageFields, readLanguages } from "./languages_form.js";
import { browserZone } from "./events.js";
import strings from "./event_edit.strings.js";

addStrings(strings);

// The limits of domain/rooms.py and domain/scheduled_events.py.
const TITLE_MAX = 120;
const DESCRIPTION_MAX = 2000;
const TOPIC_MAX = 40;
const TOPICS_MAX = 5;
const COHOSTS_MAX = 5;
const AHEAD_MAX_MS = 365 * 86400000;
const TYPES = ["open", "social", "closed"];

export async function render(main, ctx) {
  const [id] = ctx.params;
  const editing = Boolean(id);
  const event = editing ? await get(`/events/${encodeURIComponent(id)}`) : null; // times in the event's own zone
  const screen = h("section.screen.event-edit");
  main.append(screen);
  const back = editing ? `/events/${encodeURIComponent(id)}` : "/events";
  screen.append(h("a.back", { href: back }, h("span", { "aria-hidden": "true" }, "← "), t("app.back")));
  screen.append(h("h1", {}, editing ? t("event_edit.edit_title") : t("event_edit.new_title")));
  if (editing && (!event.is_host || event.status !== "scheduled")) {
    screen.append(h("p.banner.warn", { role: "alert" }, event.is_host ? t("event_edit.not_editable") : t("event_edit.not_host")));
    return;
  }
  const creator = !editing || event.created_by === ctx.me.id;
  const cohosts = editing ? event.hosts.filter((u) => u.id !== event.created_by) : [];
  const zone = event ? event.timezone : browserZone();
  const local = event ? event.starts_at.slice(0, 16) : defaultStart();

  const zoneSelect = h("select", { name: "timezone", id: "event-zone", required: true }, zoneOptions(zone));
  const startInput = h("input", { type: "datetime-local", name: "starts_at", id: "event-start", required: true, value: local, step: 60 });
  const preview = h("p.hint.event-preview", { "aria-live": "polite" });
  const updatePreview = () => {
    const ms = startInput.value ? instant(startInput.value, zoneSelect.value) : NaN;
    startInput.min = wallTime(Date.now(), zoneSelect.value);
    preview.textContent = Number.isNaN(ms) ? "" : t("event_edit.preview", {
      time: when(new Date(ms).toISOString(), lang(), { dateStyle: "full", timeStyle: "short" }),
      zone: browserZone().replaceAll("_", " "),
    });
  };
  startInput.addEventListener("input", updatePreview);
  zoneSelect.addEventListener("change", updatePreview);
  updatePreview();

  const form = h(
    "form.card.event-form",
    {},
    field(t("event_edit.title"), { name: "title", required: true, maxlength: TITLE_MAX, autocomplete: "off", value: event?.title ?? "" }),
    field(t("event_edit.description"), { name: "description", multiline: true, maxlength: DESCRIPTION_MAX, rows: 4 }, t("event_edit.description_hint")),
    h(
      "fieldset",
      {},
      h("legend", {}, t("event_edit.when")),
      h(
        "div.when-row",
        {},
        h("label", { for: "event-start" }, t("event_edit.date_time"), startInput),
        h("label", { for: "event-zone" }, t("event_edit.zone"), zoneSelect),
      ),
      preview,
      h("p.hint", {}, t("event_edit.when_hint")),
    ),
    field(t("event_edit.topics"), { name: "topics", autocomplete: "off", value: (event?.topics ?? []).join(", ") }, t("event_edit.topics_hint", { count: TOPICS_MAX, max: TOPIC_MAX })),
    field(
      t("event_edit.cohosts"),
      { name: "hosts", autocomplete: "off", autocapitalize: "none", spellcheck: "false", disabled: !creator, value: cohosts.map((u) => u.username).join(", ") },
      creator ? t("event_edit.cohosts_hint", { count: COHOSTS_MAX }) : t("event_edit.cohosts_creator_only"),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, t("event_edit.who")),
      TYPES.map((type) =>
        h(
          "label.choice",
          {},
          h("input", { type: "radio", name: "room_type", value: type, checked: (event?.room_type ?? "open") === type }),
          h("span", {}, h("strong", {}, t(`events.type_${type}`)), h("span.hint", {}, t(`event_edit.type_${type}_hint`))),
        ),
      ),
    ),
    languageFields(event?.languages),
    h("p.form-error", { role: "alert" }),
    h(
      "div.actions",
      {},
      h("button.primary", { type: "submit" }, editing ? t("app.save") : t("event_edit.schedule")),
      h("a.button", { href: back }, t("app.cancel")),
    ),
  );
  form.elements.namedItem("description").value = event?.description ?? ""; // a textarea has no value attribute
  screen.append(form);

  handleForm(form, async (values) => {
    const body = {};
    const title = values.title.trim();
    const topics = splitList(values.topics);
    const ms = instant(values.starts_at, values.timezone);
    if (!title) refuse("title", t("event_edit.need_title"));
    if (topics.length > TOPICS_MAX) refuse("topics", t("event_edit.too_many_topics", { count: TOPICS_MAX }));
    if (topics.some((x) => x.length > TOPIC_MAX)) refuse("topics", t("event_edit.topic_too_long", { count: TOPIC_MAX }));
    const timeChanged = !editing || values.starts_at !== local || values.timezone !== zone;
    if (Number.isNaN(ms)) refuse("starts_at", t("event_edit.need_time"));
    if (timeChanged && ms <= Date.now()) refuse("starts_at", t("event_edit.in_past"));
    if (timeChanged && ms > Date.now() + AHEAD_MAX_MS) refuse("starts_at", t("event_edit.too_far"));
    const set = (key, value, before) => {
      if (!editing || JSON.stringify(value) !== JSON.stringify(before)) body[key] = value;
    };
    set("title", title, event?.title);
    set("description", values.description.trim(), event?.description);
    set("topics", topics, event?.topics);
    set("room_type", values.room_type, event?.room_type);
    set("languages", readLanguages(form).languages ?? null, event?.languages ?? null);
    if (timeChanged) Object.assign(body, { starts_at: new Date(ms).toISOString(), timezone: values.timezone });
    if (creator) {
      const names = splitList(values.hosts ?? "").map((x) => x.replace(/^@/, "")).filter((x) => x !== ctx.me.username);
      if (names.length > COHOSTS_MAX) refuse("hosts", t("event_edit.too_many_cohosts", { count: COHOSTS_MAX }));
      if (names.join() !== cohosts.map((u) => u.username).join()) body.hosts = await userIds(names);
    }
    const tz = `?tz=${encodeURIComponent(browserZone())}`;
    let saved;
    try {
      saved = editing ? await patch(`/events/${encodeURIComponent(id)}${tz}`, body) : await post(`/events${tz}`, body);
    } catch (error) {
      if (error instanceof ApiError && error.data?.field && !error.data.errors) error.data.errors = [{ loc: [error.data.field] }];
      throw error;
    }
    ctx.toast(editing ? t("app.saved") : t("event_edit.scheduled"));
    ctx.navigate(`/events/${encodeURIComponent(saved.id)}`, { replace: true });
  });
}

/** Throw what handleForm shows: our message, and the field to focus. */
function refuse(name, message) {
  throw new ApiError(422, { code: "invalid_input", message, data: { errors: [{ loc: [name] }] } });
}

function splitList(text) {
  return [...new Set(text.split(",").map((x) => x.trim()).filter(Boolean))];
}

async function userIds(usernames) {
  const ids = [];
  for (const name of usernames) {
    try {
      ids.push((await get(`/users/by-username/${encodeURIComponent(name)}`)).id);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) refuse("hosts", t("event_edit.unknown_user", { name }));
      throw error;
    }
  }
  return ids;
}

// --- time zones ----------------------------------------------------------------------------------------------------

function zoneOptions(selected) {
  let zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  zones = [...new Set([...zones, "UTC", selected, browserZone()])].sort();
  const now = new Date();
  return zones.map((zone) => {
    let offset = "";
    try {
      offset = new Intl.DateTimeFormat("en", { timeZone: zone, timeZoneName: "shortOffset" }).format(now).split(" ").pop();
    } catch {
      /* a zone this browser does not know: no offset shown */
    }
    return h("option", { value: zone, selected: zone === selected }, `${zone.replaceAll("_", " ")}${offset ? ` (${offset})` : ""}`);
  });
}

/** The wall-clock "YYYY-MM-DDTHH:MM" of an instant in `zone`. */
function wallTime(ms, zone) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}`;
}

/** The instant (ms) at which the clocks of `zone` show `local` ("YYYY-MM-DDTHH:MM"); NaN when it cannot be read. */
function instant(local, zone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local || "");
  if (!match) return NaN;
  const [y, mo, d, hh, mm] = match.slice(1).map(Number);
  const wall = Date.UTC(y, mo - 1, d, hh, mm);
  const offset = (ms) => {
    const [date, time] = wallTime(ms, zone).split("T");
    const [a, b, c] = date.split("-").map(Number);
    const [e, f] = time.split(":").map(Number);
    return Date.UTC(a, b - 1, c, e, f) - Math.floor(ms / 60000) * 60000;
  };
  try {
    let ms = wall - offset(wall);
    ms = wall - offset(ms); // once more, for times near a daylight-saving change
    return ms;
  } catch {
    return NaN;
  }
}

/** The next whole hour at least an hour from now, in the browser's zone. */
function defaultStart() {
  const d = new Date(Date.now() + 3600000);
  d.setMinutes(0, 0, 0);
  d.setHours(d.getHours() + 1);
  return wallTime(d.getTime(), browserZone());
}
