// Sign up from an invite link: the link fills the code; we check it first so a dead link says so at once.

import { get, post } from "../api.js";
import { avatar, h } from "../dom.js";
import { addStrings, t } from "../i18n.js";
import { field, handleForm } from "./forms.js";
import strings from "./signup.strings.js";

addStrings(strings);

export async function render(main, ctx) {
  const [code] = ctx.params;
  const screen = h("section.screen", {}, h("h1", {}, t("signup.title")), h("p.muted", {}, t("app.loading")));
  main.append(screen);
  const check = await get(`/invites/check/${encodeURIComponent(code)}`);
  screen.lastChild.remove();
  if (ctx.me) {
    screen.append(h("p.banner", {}, t("signup.already_member", { name: ctx.me.display_name })), h("a.button", { href: "/" }, t("app.home")));
    return;
  }
  if (!check.valid) {
    screen.append(h("p.banner.warn", { role: "alert" }, t("signup.invalid")), h("a", { href: "/welcome" }, t("signup.to_welcome")));
    return;
  }
  const inviter = check.invited_by;
  const form = h(
    "form",
    {},
    inviter
      ? h(
          "div.invited-by",
          { "data-testid": "invited-by" },
          avatar(inviter, "l"),
          h("p", {}, t("signup.invited_by", { name: inviter.display_name }), h("span.muted", {}, ` @${inviter.username}`)),
        )
      : null,
    h("p", {}, t("signup.valid")),
    field(t("signup.username"), {
      name: "username",
      required: true,
      minlength: 3,
      maxlength: 20,
      pattern: "[A-Za-z0-9_]+",
      autocomplete: "username",
      autocapitalize: "none",
    }, t("signup.username_hint")),
    field(t("signup.display_name"), { name: "display_name", required: true, maxlength: 50, autocomplete: "name" }),
    field(t("signup.password"), { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" }, t("signup.password_hint")),
    h("p.form-error", { role: "alert" }),
    h("div.actions", {}, h("button.primary", { type: "submit" }, t("signup.submit"))),
  );
  screen.append(form);
  handleForm(form, async (values) => {
    await post("/auth/signup", { invite_code: code, mode: "cookie", ...values });
    await ctx.refreshMe();
    ctx.toast(t("signup.welcome", { name: ctx.me.display_name }));
    ctx.navigate("/start", { replace: true }); // getting started: photo, topics, people, how rooms work
  });
}
