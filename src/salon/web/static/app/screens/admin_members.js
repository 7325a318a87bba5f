// Admin: members. Search by username or display name (newest first, page by page); each row shows invites left
// and the admin / disabled flags, with the actions: grant invites, disable or enable, make or remove admin.

import { errorMessage, get, post, query } from "../api.js";
import { avatar, h } from "../dom.js";
import { confirmDialog } from "../dialogs.js";
import { icon } from "../icons.js";
import { t } from "../i18n.js";
import { moreButton } from "./admin.js";

export async function render(box, ctx) {
  const input = h("input", {
    type: "search",
    name: "q",
    maxlength: 50,
    placeholder: t("admin.search_placeholder"),
    "aria-label": t("admin.search_label"),
    autocomplete: "off",
  });
  const form = h("form.search-form", { role: "search" }, h("span.search-icon", { "aria-hidden": "true" }, icon("search", { size: 20 })), input);
  const list = h("ul.list.card.admin-members", { "aria-live": "polite" });
  let cursor = null;
  let text = "";
  const more = moreButton(() => load(false));

  async function load(fresh) {
    const page = await get(`/admin/users${query({ q: text, cursor: fresh ? null : cursor, limit: 20 })}`);
    if (fresh) list.replaceChildren();
    for (const member of page.members) list.append(row(member));
    if (fresh && !page.members.length) list.append(h("li.empty", {}, t("admin.no_members")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }

  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      text = input.value.trim();
      load(true).catch((e) => ctx.toast(errorMessage(e), "error"));
    }, 250);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    text = input.value.trim();
    load(true).catch((e) => ctx.toast(errorMessage(e), "error"));
  });

  function row(member) {
    const li = h("li", { dataset: { userId: member.id, username: member.username } });
    paint(li, member);
    return li;
  }

  function paint(li, member) {
    const self = member.id === ctx.me.id;
    const act = async (fn) => {
      try {
        const next = await fn();
        if (next) paint(li, { ...member, ...next });
      } catch (failure) {
        ctx.toast(errorMessage(failure), "error");
      }
    };
    li.classList.toggle("is-disabled", member.disabled);
    li.replaceChildren(
      h(
        "a.person-link.grow",
        { href: `/u/${encodeURIComponent(member.username)}` },
        avatar(member, "m"),
        h("span.person-names", {}, h("strong", {}, member.display_name), h("span.muted.small", {}, `@${member.username}`)),
      ),
      h(
        "div.admin-flags",
        {},
        member.is_admin ? h("span.pill.pill-admin", {}, t("admin.flag_admin")) : null,
        member.disabled ? h("span.pill.pill-disabled", {}, t("admin.flag_disabled")) : null,
        h("span.small.muted.invites-left", {}, t("admin.invites_left", { count: member.invites_left })),
      ),
      h(
        "div.admin-actions",
        {},
        h(
          "button.small",
          { type: "button", "aria-label": t("admin.grant_label", { name: member.display_name }), onclick: () => act(() => grant(member)) },
          icon("plus", { size: 16 }),
          t("admin.grant"),
        ),
        self
          ? null
          : member.disabled
            ? h("button.small", { type: "button", onclick: () => act(() => setDisabled(member, false)) }, t("admin.enable"))
            : h("button.small.danger", { type: "button", onclick: () => act(() => setDisabled(member, true)) }, t("admin.disable")),
        member.is_admin
          ? h("button.small", { type: "button", onclick: () => act(() => setAdmin(member, false)) }, t("admin.remove_admin"))
          : member.disabled
            ? null
            : h("button.small", { type: "button", onclick: () => act(() => setAdmin(member, true)) }, t("admin.make_admin")),
      ),
    );
  }

  async function grant(member) {
    const count = await askCount(member);
    if (!count) return null;
    const result = await post(`/admin/users/${encodeURIComponent(member.id)}/invites`, { count });
    ctx.toast(t("admin.granted", { count, name: member.display_name }));
    return { invites_left: result.invites_left };
  }

  async function setDisabled(member, disabled) {
    const ok = await confirmDialog({
      title: t(disabled ? "admin.disable_title" : "admin.enable_title", { name: member.display_name }),
      text: disabled ? t("admin.disable_text") : "",
      confirm: t(disabled ? "admin.disable" : "admin.enable"),
      danger: disabled,
    });
    if (!ok) return null;
    await post(`/admin/users/${encodeURIComponent(member.id)}/${disabled ? "disable" : "enable"}`);
    ctx.toast(t(disabled ? "admin.disabled_done" : "admin.enabled_done", { name: member.display_name }));
    return { disabled };
  }

  async function setAdmin(member, admin) {
    const ok = await confirmDialog({
      title: t(admin ? "admin.make_admin_title" : "admin.remove_admin_title", { name: member.display_name }),
      text: admin ? t("admin.make_admin_text") : "",
      confirm: t(admin ? "admin.make_admin" : "admin.remove_admin"),
      danger: !admin,
    });
    if (!ok) return null;
    await post(`/admin/users/${encodeURIComponent(member.id)}/admin`, { admin });
    if (member.id === ctx.me.id && !admin) {
      await ctx.refreshMe();
      ctx.navigate("/");
      return null;
    }
    return { is_admin: admin };
  }

  box.append(h("p.muted", {}, t("admin.members_intro")), form, list, more);
  await load(true);
}

/** Ask how many invites to grant: resolves the number, or null when cancelled. */
function askCount(member) {
  return new Promise((resolve) => {
    const input = h("input", { type: "number", name: "count", min: 1, max: 100, value: 2, required: true, inputmode: "numeric" });
    const dialog = h(
      "dialog.confirm-dialog.grant-dialog",
      { "aria-labelledby": "grant-title" },
      h(
        "form",
        { method: "dialog" },
        h("h2", { id: "grant-title" }, t("admin.grant_title", { name: member.display_name })),
        h("label", {}, t("admin.grant_count"), input),
        h(
          "div.actions",
          {},
          h("button.primary", { value: "ok" }, t("admin.grant")),
          h("button", { value: "cancel", formnovalidate: true }, t("app.cancel")),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      const count = Number(input.value);
      dialog.remove();
      resolve(dialog.returnValue === "ok" && count >= 1 && count <= 100 ? count : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.select();
  });
}
