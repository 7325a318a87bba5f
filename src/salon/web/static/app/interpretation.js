// Interpretation channels on the client: the languages a room may declare (the domain's closed list,
// domain/interpretation.py LANGUAGES), their names in the interface language, the listener's choice remembered on
// this device, and what a room's `interpretation` (snapshot + `interpretation_changed`) says about a channel.

import { addStrings, lang } from "./i18n.js";
import strings from "./interpretation.strings.js";

addStrings(strings);

/** The BCP 47 tags a room may declare, as the server lists them; each with its own name (the fallback). */
export const LANGUAGE_TAGS = {
  ar: "العربية",
  de: "Deutsch",
  en: "English",
  es: "Español",
  fa: "فارسی",
  fr: "Français",
  he: "עברית",
  hi: "हिन्दी",
  it: "Italiano",
  ja: "日本語",
  ko: "한국어",
  nl: "Nederlands",
  pl: "Polski",
  pt: "Português",
  ru: "Русский",
  sv: "Svenska",
  tr: "Türkçe",
  uk: "Українська",
  zh: "中文",
};
export const MAX_CHANNELS = 4;
export const DUCKING_RANGE_DB = [-40, -6];
export const DEFAULT_DUCKING_DB = -15;

const PICKED_KEY = "salon.language"; // the channel last picked ("" = the Original)

/** A language's name in the interface language ("Russian", "russe" → "Russe"), else its own name. */
export function languageName(tag) {
  try {
    const name = new Intl.DisplayNames([lang()], { type: "language" }).of(tag);
    if (name && name !== tag) return name.charAt(0).toLocaleUpperCase(lang()) + name.slice(1);
  } catch {
    /* an old browser: the endonym */
  }
  return LANGUAGE_TAGS[tag] || tag;
}

/** The tags sorted by their names in the interface language, for pickers. */
export function sortedTags() {
  return Object.keys(LANGUAGE_TAGS).sort((a, b) => languageName(a).localeCompare(languageName(b), lang()));
}

/** "English · Russian, French" for a card's or a header's `{floor, channels}`; null when none declared. */
export function languagesLine(languages) {
  if (!languages?.floor) return null;
  const floor = languageName(languages.floor);
  if (!languages.channels?.length) return floor;
  return `${floor} · ${languages.channels.map(languageName).join(", ")}`;
}

/** The channel this device last picked (null: the Original). */
export function rememberedLanguage() {
  return localStorage.getItem(PICKED_KEY) || null;
}

export function rememberLanguage(tag) {
  localStorage.setItem(PICKED_KEY, tag || "");
}

/** The channels of a room's interpretation (`view.interpretation`), in order. */
export const channelsOf = (interpretation) => (interpretation?.channels || []).map((c) => c.language);

/** The booth of one channel, or null. */
export const boothOf = (interpretation, tag) => (interpretation?.channels || []).find((c) => c.language === tag) || null;

/** The channel a member interprets, or null. */
export function interpreting(interpretation, userId) {
  return interpreterRole(interpretation, userId)?.language || null;
}

/** A member's place in the room's booths: `{language, live}` (live: holding the booth's floor now), or null. */
export function interpreterRole(interpretation, userId) {
  const booth = (interpretation?.channels || []).find((c) => c.interpreters.includes(userId));
  return booth ? { language: booth.language, live: booth.live === userId } : null;
}

/** As languagesLine, from a room view's interpretation. */
export function interpretationLine(interpretation) {
  return interpretation ? languagesLine({ floor: interpretation.floor, channels: channelsOf(interpretation) }) : null;
}
