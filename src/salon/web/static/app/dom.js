// Building the page without innerHTML: every piece of text goes in as a text node, so nothing a member types
// (a room title, a bio) can ever become markup.

/** h("button.primary", {onclick, "aria-label": ...}, "text", child, [more]) → an element. */
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A member's picture, or their initials on a colour picked from their id. */
export function avatar(user, size = "m") {
  const label = user.display_name || user.username || "";
  if (user.avatar_url) {
    return h(`img.avatar.avatar-${size}`, { src: user.avatar_url, alt: "", loading: "lazy" });
  }
  const initials = label.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0]).join("").toUpperCase();
  let hue = 0;
  for (const ch of user.id || label) hue = (hue * 31 + ch.charCodeAt(0)) % 360;
  const el = h(`span.avatar.avatar-${size}.avatar-initials`, { "aria-hidden": "true" }, initials || "?");
  el.style.setProperty("--hue", String(hue)); // through the CSSOM: the page's CSP forbids style attributes
  return el;
}

/** Format an ISO time for people, in their language and time zone. */
export function when(iso, lang, opts = { dateStyle: "medium", timeStyle: "short" }) {
  return new Intl.DateTimeFormat(lang, opts).format(new Date(iso));
}
