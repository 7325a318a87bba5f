// Every string the app shows, in English and French. Each screen keeps its strings beside it (`*.strings.js`,
// `{en: {...}, fr: {...}}`) and registers them here; a test checks both languages hold the same keys and that every
// key the code asks for exists.

const catalogs = { en: {}, fr: {} };
export const LANGUAGES = ["en", "fr"];
const STORAGE_KEY = "salon.lang";
let current = "en";
const listeners = new Set();

export function addStrings(strings) {
  for (const lang of LANGUAGES) Object.assign(catalogs[lang], strings[lang]);
}

/** The language: the one picked with the switch, else the browser's first one we have, else English. */
export function detectLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

export function lang() {
  return current;
}

export function setLanguage(next, remember = true) {
  if (!LANGUAGES.includes(next)) return;
  current = next;
  document.documentElement.lang = next;
  if (remember) localStorage.setItem(STORAGE_KEY, next);
  for (const fn of listeners) fn(next);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** t("hallway.listeners", {count: 3}) — `{name}` placeholders; a `count` picks `key.one` / `key.other`. */
export function t(key, vars = {}) {
  const catalog = catalogs[current];
  let text = catalog[key];
  if (text === undefined && typeof vars.count === "number") {
    const form = new Intl.PluralRules(current).select(vars.count);
    text = catalog[`${key}.${form}`] ?? catalog[`${key}.other`];
  }
  if (text === undefined) {
    console.warn("missing string", key);
    text = key;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => {
    const value = vars[name];
    if (value === undefined) return `{${name}}`;
    return typeof value === "number" ? new Intl.NumberFormat(current).format(value) : String(value);
  });
}
