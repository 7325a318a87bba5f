// A room's languages on its screen: the languages line under the title, the listener's picker ("Original" or a
// channel) with what it means right now, the moderators' "Languages" dialog (floor, channels, ducking) and their
// "Interpreter for …" actions on a person's sheet. The sound itself is interpretation_audio.js's.

import { h } from "../dom.js";
import { icon } from "../icons.js";
import { t } from "../i18n.js";
import {
  DEFAULT_DUCKING_DB,
  DUCKING_RANGE_DB,
  MAX_CHANNELS,
  boothOf,
  channelsOf,
  interpreterRole,
  interpreting,
  interpretationLine,
  languageName,
  sortedTags,
} from "../interpretation.js";

/** "English · Russian, French" under the room's title; null for a room without languages. */
export function languagesHeader(view) {
  const line = interpretationLine(view.interpretation);
  return line ? h("p.room-languages", {}, h("span.visually-hidden", {}, `${t("lang.languages")}: `), line) : null;
}

/**
 * Who interprets, on their tile (stage and audience): the words for the tile's accessible name ("Interpreter ·
 * Russian, live") and the small badge shown under the name; null for someone who interprets nothing.
 */
export function interpreterMark(interpretation, userId) {
  const role = interpreterRole(interpretation, userId);
  if (!role) return null;
  const language = languageName(role.language);
  const label = t("lang.tile_interpreter", { language });
  const liveNow = t("lang.tile_live");
  // A headset on the face and the language under the name ("live" under it while live): the word "Interpreter" is in
  // the title and the accessible name, since it does not fit an audience tile's 72 px at a readable size.
  const badge = h(
    "span.interp-badge",
    { class: role.live ? "live" : "", title: label, "aria-hidden": "true", dataset: { testid: "interpreter-badge", live: String(role.live) } },
    h("span", {}, language),
    role.live ? h("span", {}, liveNow) : null,
  );
  const corner = h("span.mark.interp-mark", { title: label, "aria-hidden": "true" }, icon("headset", { size: 13 }));
  return { label: role.live ? `${label}, ${liveNow}` : label, badge, corner };
}

/** The picker, for anyone in a room with channels who does not interpret (interpreters hear the Original). */
export function languagePicker(session) {
  const { view, me } = session.state;
  const interpretation = view.interpretation;
  const channels = channelsOf(interpretation);
  if (!channels.length || !me || interpreting(interpretation, me.user.id)) return null;
  const picked = session.languages.picked || "";
  const select = h(
    "select",
    { id: "language-picker", name: "language", "data-testid": "language-picker", onchange: (event) => session.languages.pick(event.target.value || null) },
    h("option", { value: "", selected: picked === "" }, t("lang.original", { language: languageName(interpretation.floor) })),
    channels.map((tag) => h("option", { value: tag, selected: picked === tag }, languageName(tag))),
  );
  const booth = picked ? boothOf(interpretation, picked) : null;
  const onStage = me.role !== "listener";
  let status = null;
  if (booth && !booth.live) status = t(onStage ? "lang.nobody_live_stage" : "lang.nobody_live");
  else if (booth) status = t(onStage ? "lang.hearing_interpreter_stage" : "lang.hearing_interpreter", { language: languageName(picked) });
  return h(
    "div.language-picker",
    {},
    h("label", { for: "language-picker" }, t("lang.hear")),
    select,
    h("p.muted.language-status", { role: "status", "data-testid": "language-status" }, status || ""),
  );
}

/** The moderators' dialog: the floor language, up to four channels, how far the floor is ducked under a voice. */
export function languagesDialog(session, call) {
  const current = session.state.view.interpretation;
  const floorNow = current?.floor || "";
  const chosen = new Set(channelsOf(current));
  const error = h("p.form-error", { role: "alert" });
  const floor = h(
    "select",
    { name: "floor", id: "languages-floor" },
    h("option", { value: "", selected: !floorNow }, t("lang.no_languages")),
    sortedTags().map((tag) => h("option", { value: tag, selected: tag === floorNow }, languageName(tag))),
  );
  const boxes = sortedTags().map((tag) =>
    h("label.choice", {}, h("input", { type: "checkbox", name: "channels", value: tag, checked: chosen.has(tag) }), h("span", {}, languageName(tag))),
  );
  const ducking = h("input", {
    type: "number",
    name: "ducking_db",
    id: "languages-ducking",
    min: DUCKING_RANGE_DB[0],
    max: DUCKING_RANGE_DB[1],
    step: 1,
    value: String(current?.ducking_db ?? DEFAULT_DUCKING_DB),
  });
  const form = h(
    "form.languages-form",
    { method: "dialog" },
    h("h2", {}, t("lang.dialog_title")),
    h("p.muted", {}, t("lang.dialog_help")),
    h("label", { for: "languages-floor" }, t("lang.floor")),
    floor,
    h("fieldset.language-channels", {}, h("legend", {}, t("lang.channels", { max: MAX_CHANNELS })), boxes),
    h("label", { for: "languages-ducking" }, t("lang.ducking"), h("span.hint", {}, t("lang.ducking_hint"))),
    ducking,
    error,
    h(
      "div.actions",
      {},
      h("button.primary", { type: "submit" }, t("lang.save")),
      h("button", { type: "button", onclick: () => dialog.close() }, t("app.cancel")),
    ),
  );
  const dialog = h("dialog.languages-dialog", { "aria-label": t("lang.dialog_title") }, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const tag = floor.value || null;
    const channels = tag ? [...form.querySelectorAll("input[name=channels]:checked")].map((b) => b.value).filter((c) => c !== tag) : [];
    if (channels.length > MAX_CHANNELS) {
      error.textContent = t("lang.too_many", { max: MAX_CHANNELS });
      return;
    }
    const done = await call("set_languages", { floor: tag, channels, ducking_db: Number(ducking.value) });
    if (done) dialog.close();
  });
  dialog.addEventListener("close", () => dialog.remove());
  queueMicrotask(() => dialog.showModal());
  return dialog;
}

/** A moderator's actions on a person for the room's channels: [label, run]. */
export function interpreterActions(p, view, me, call) {
  const interpretation = view.interpretation;
  if (me?.role !== "moderator" || !interpretation) return [];
  const theirs = interpreting(interpretation, p.user.id);
  const user_id = p.user.id;
  if (theirs) {
    return [[t("lang.remove_interpreter", { language: languageName(theirs) }), () => call("remove_interpreter", { language: theirs, user_id })]];
  }
  return channelsOf(interpretation)
    .filter((tag) => boothOf(interpretation, tag).interpreters.length < 2)
    .map((tag) => [t("lang.make_interpreter", { language: languageName(tag) }), () => call("assign_interpreter", { language: tag, user_id })]);
}
