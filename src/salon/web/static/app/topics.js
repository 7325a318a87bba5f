// Topics of interest: the server's fixed slugs (GET /me/topics lists them) shown with their label in the reader's
// language; a slug this client does not know yet is shown as it is.

import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";
import strings from "./topics.strings.js";

addStrings(strings);
const KNOWN = new Set(Object.keys(strings.en).map((key) => key.slice("topic.".length)));

export function topicLabel(slug) {
  return KNOWN.has(slug) ? t(`topic.${slug}`) : slug;
}

/** A member's topics as a list of tags (nothing when they picked none). */
export function topicTags(topics, label) {
  if (!topics?.length) return null;
  return h("ul.topics.member-topics", { "aria-label": label }, topics.map((slug) => h("li.topic", {}, topicLabel(slug))));
}
