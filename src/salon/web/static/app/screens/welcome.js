// Welcome: what Salon is, log in, or ask to join the waitlist (joining is by invitation).

import { post } from "../api.js";
import { h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { field, handleForm } from "./forms.js";
import strings from "./welcome.strings.js";

addStrings(strings);

export function render(main, ctx) {
  const panel = h("div", { id: "welcome-panel" });
  const tabs = [
    ["login", t("welcome.login_tab")],
    ["waitlist", t("welcome.waitlist_tab")],
  ];
  const tabButtons = tabs.map(([id, label]) =>
    h("button", { type: "button", role: "tab", id: `tab-${id}`, "aria-controls": "welcome-panel", onclick: () => show(id) }, label),
  );
  function show(which) {
    for (const button of tabButtons) button.setAttribute("aria-selected", String(button.id === `tab-${which}`));
    panel.setAttribute("aria-labelledby", `tab-${which}`);
    panel.replaceChildren(which === "login" ? loginForm(ctx) : waitlistForm());
  }
  main.append(
    h(
      "section.screen",
      {},
      h(
        "div.hero",
        {},
        h("img.logo", { src: "/static/icon.svg", alt: "" }),
        h("h1", {}, "Salon"),
        h("p", {}, t("welcome.tagline")),
        h("p.muted", {}, t("welcome.invitation_only")),
      ),
      h("div.tabs", { role: "tablist" }, tabButtons),
      h("div", { role: "tabpanel" }, panel),
    ),
  );
  show("login");
}

function loginForm(ctx) {
  const form = h(
    "form",
    { "aria-label": t("welcome.login_tab") },
    field(t("welcome.username"), { name: "username", required: true, autocomplete: "username", autocapitalize: "none" }),
    field(t("welcome.password"), { name: "password", type: "password", required: true, autocomplete: "current-password" }),
    h("p.form-error", { role: "alert" }),
    h("div.actions", {}, h("button.primary", { type: "submit" }, t("welcome.login"))),
  );
  return handleForm(form, async (values) => {
    await post("/auth/login", { username: values.username, password: values.password, mode: "cookie" });
    await ctx.refreshMe();
    const next = ctx.query.get("next");
    ctx.navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
  });
}

function waitlistForm() {
  const done = h("p.banner", { role: "status", hidden: true }, t("welcome.waitlist_done"));
  const form = h(
    "form",
    { "aria-label": t("welcome.waitlist_tab") },
    h("p", {}, t("welcome.waitlist_intro")),
    field(t("welcome.your_name"), { name: "name", required: true, maxlength: 50, autocomplete: "name" }),
    field(t("welcome.contact"), { name: "contact", required: true, maxlength: 200 }, t("welcome.contact_hint")),
    h("p.form-error", { role: "alert" }),
    h("div.actions", {}, h("button.primary", { type: "submit" }, t("welcome.waitlist_submit"))),
  );
  handleForm(form, async (values) => {
    await post("/waitlist", { name: values.name, contact: values.contact });
    form.hidden = true;
    done.hidden = false;
  });
  return h("div", {}, form, done);
}
