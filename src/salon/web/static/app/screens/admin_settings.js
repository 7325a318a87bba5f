// Admin: the instance settings that are safe to change while it runs (docs/ARCHITECTURE.md, decisions): how many
// invites a new member starts with, and whether people without an invite may ask to join.

import { get, patch } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { handleForm } from "./forms.js";

export async function render(box, ctx) {
  const current = await get("/admin/settings");
  const invites = h("input", { type: "number", name: "invites_per_member", min: 0, max: 1000, required: true, value: current.invites_per_member, inputmode: "numeric" });
  const open = h("input", { type: "checkbox", name: "waitlist_open", checked: current.waitlist_open });
  const form = h(
    "form.card.settings-card.admin-settings",
    {},
    h("label", {}, t("admin.setting_invites"), h("span.hint", {}, t("admin.setting_invites_hint")), invites),
    h("label.choice", {}, open, h("span", {}, t("admin.setting_waitlist"), h("span.hint", {}, t("admin.setting_waitlist_hint")))),
    h("div.actions", {}, h("button.primary", { type: "submit" }, t("app.save"))),
  );
  handleForm(form, async () => {
    const saved = await patch("/admin/settings", { invites_per_member: Number(invites.value), waitlist_open: open.checked });
    invites.value = saved.invites_per_member;
    open.checked = saved.waitlist_open;
    ctx.toast(t("app.saved"));
  });
  box.append(h("p.muted", {}, t("admin.settings_intro")), form);
}
