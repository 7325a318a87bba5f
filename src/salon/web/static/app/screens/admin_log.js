// Admin: the instance's log — every action taken in the admin area, and rooms ended by an admin, newest first.

import { get, query } from "../api.js";
import { h, when } from "../dom.js";
import { lang, t } from "../i18n.js";
import { moreButton } from "./admin.js";

export async function render(box) {
  const list = h("ul.list.card.log.admin-log");
  let cursor = null;
  const more = moreButton(() => load());

  async function load() {
    const page = await get(`/admin/log${query({ cursor, limit: 30 })}`);
    for (const entry of page.entries) list.append(row(entry));
    if (!list.children.length) list.append(h("li.empty", {}, t("admin.log_empty")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }

  function row(entry) {
    const vars = {
      actor: entry.actor?.display_name || t("admin.operator"),
      target: entry.target?.display_name || "",
      count: entry.data.count ?? 0,
      name: entry.data.name || "",
      note: entry.data.note || "",
    };
    let text = t(`admin.log_${entry.action}`, vars);
    if (entry.action === "change_settings") {
      const parts = Object.entries(entry.data.changes || {}).map(([key, [, after]]) => `${t(`admin.setting_name_${key}`)}: ${typeof after === "boolean" ? t(after ? "admin.on" : "admin.off") : after}`);
      text += ` (${parts.join(", ")})`;
    }
    return h(
      "li",
      { dataset: { action: entry.action } },
      h("span.muted.small", {}, when(entry.created_at, lang())),
      " ",
      h("span", {}, text),
    );
  }

  box.append(h("p.muted", {}, t("admin.log_intro")), list, more);
  await load();
}
