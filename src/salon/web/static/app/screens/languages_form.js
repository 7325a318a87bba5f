// The languages part of a form that opens a room (or schedules one): the floor language and up to four
// interpretation channels, folded away since most rooms declare none.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { MAX_CHANNELS, languageName, sortedTags } from "../interpretation.js";

/** `current`: the `{floor, channels}` already declared (an event being edited), opened when there are some. */
export function languageFields(current = null) {
  const channels = new Set(current?.channels || []);
  return h(
    "details.languages-fields",
    { open: Boolean(current?.floor) },
    h("summary", {}, t("lang.room_languages")),
    h(
      "label",
      {},
      t("lang.floor"),
      h("select", { name: "floor" }, h("option", { value: "" }, t("lang.no_languages")), sortedTags().map((tag) => h("option", { value: tag, selected: tag === current?.floor }, languageName(tag)))),
    ),
    h(
      "fieldset.language-channels",
      {},
      h("legend", {}, t("lang.channels", { max: MAX_CHANNELS })),
      sortedTags().map((tag) => h("label.choice", {}, h("input", { type: "checkbox", name: "channels", value: tag, checked: channels.has(tag) }), h("span", {}, languageName(tag)))),
    ),
  );
}

/** `{languages: {floor, channels}}` for the request body, or nothing when no floor language was picked. */
export function readLanguages(form) {
  const floor = form.elements.namedItem("floor")?.value;
  if (!floor) return {};
  const channels = [...form.querySelectorAll("input[name=channels]:checked")].map((b) => b.value).filter((c) => c !== floor);
  return { languages: { floor, channels } };
}
