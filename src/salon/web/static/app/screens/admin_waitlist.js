// Admin: the waitlist, with how to reach each person. Letting someone in makes an invite (it spends one of the
// admin's own invites, like any nomination) and shows its link once; dismissing takes them off the list.

import { errorMessage, get, post } from "../api.js";
import { avatar, h } from "../dom.js";
import { confirmDialog } from "../dialogs.js";
import { t } from "../i18n.js";
import { day, linkBox } from "./invites.js";

export async function render(box, ctx) {
  const waiting = await get("/waitlist");

  async function letIn(entry, li) {
    try {
      const result = await post(`/waitlist/${encodeURIComponent(entry.id)}/nominate`);
      li.replaceChildren(
        h(
          "div.grow.nominated",
          {},
          h("h3", {}, t("admin.let_in_done", { name: entry.name })),
          h("p", {}, t("admin.let_in_hint", { contact: entry.contact || "" })),
          linkBox(result.invite.link, ctx, t("admin.let_in_done", { name: entry.name })),
        ),
      );
      li.classList.add("is-nominated");
    } catch (failure) {
      ctx.toast(errorMessage(failure), "error");
    }
  }

  async function dismiss(entry, li) {
    const ok = await confirmDialog({ title: t("admin.dismiss_title", { name: entry.name }), confirm: t("admin.dismiss") });
    if (!ok) return;
    try {
      await post(`/admin/waitlist/${encodeURIComponent(entry.id)}/dismiss`);
      li.remove();
      ctx.toast(t("admin.dismissed", { name: entry.name }));
    } catch (failure) {
      ctx.toast(errorMessage(failure), "error");
    }
  }

  function row(entry) {
    const li = h("li", { dataset: { entryId: entry.id } });
    li.append(
      avatar({ id: entry.id, display_name: entry.name }, "m"),
      h(
        "div.grow",
        {},
        h("div.name", {}, entry.name),
        entry.contact ? h("div.small.contact", {}, entry.contact) : null,
        h("div.muted.small", {}, t("admin.waiting_since", { date: day(entry.created_at) })),
      ),
      h(
        "div.admin-actions",
        {},
        h("button.primary.small", { type: "button", onclick: () => letIn(entry, li) }, t("admin.let_in")),
        h("button.small", { type: "button", onclick: () => dismiss(entry, li) }, t("admin.dismiss")),
      ),
    );
    return li;
  }

  box.append(
    h("p.muted", {}, t("admin.waitlist_intro"), " ", h("a", { href: "/admin/settings" }, t("admin.waitlist_settings_link"))),
    waiting.entries.length
      ? h("ul.list.card.waitlist", {}, waiting.entries.map(row))
      : h("p.empty", {}, t("admin.waitlist_empty")),
  );
}
