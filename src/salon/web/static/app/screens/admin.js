// The admin area: running the instance from the browser. One screen with a tab per concern (members, waitlist,
// reports, live rooms, settings, the log); each tab is its own module (admin_<tab>.js) exporting
// `render(box, ctx)`. Only admins see the entry in the app bar; the server refuses everyone else whatever the
// browser shows, so a non-admin who types the address gets the server's refusal.

import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import strings from "./admin.strings.js";

addStrings(strings);

export const TABS = ["members", "waitlist", "reports", "rooms", "settings", "log"];

export async function render(main, ctx) {
  const tab = TABS.includes(ctx.params[0]) ? ctx.params[0] : "members";
  const box = h("div.admin-body");
  const nav = h(
    "nav.tabs.admin-tabs",
    { "aria-label": t("admin.sections") },
    TABS.map((name) =>
      h(
        "a",
        {
          href: name === "members" ? "/admin" : `/admin/${name}`,
          "aria-current": name === tab ? "page" : null,
          dataset: { testid: `admin-tab-${name}` },
        },
        t(`admin.tab_${name}`),
      ),
    ),
  );
  main.append(h("section.screen.admin", {}, h("h1", {}, t("admin.title")), nav, box));
  if (!ctx.me?.is_admin) {
    box.append(h("p.banner.warn", { role: "alert" }, t("admin.not_admin")));
    return;
  }
  const module = await import(`./admin_${tab}.js`);
  return module.render(box, ctx);
}

/** A "Show more" button that loads the next page while there is one. */
export function moreButton(load) {
  const button = h("button.more-button", { type: "button", hidden: true }, t("app.more"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await load();
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
