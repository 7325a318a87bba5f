// Admin: reports, newest first. Each shows who reported whom (or which room), why, and the details; an open one
// offers acting on its member (disable) or room (end it), then resolving it with a note for the other admins.

import { errorMessage, get, post, query } from "../api.js";
import { avatar, h, when } from "../dom.js";
import { confirmDialog } from "../dialogs.js";
import { lang, t } from "../i18n.js";
import { moreButton } from "./admin.js";

export async function render(box, ctx) {
  const list = h("ul.list.card.admin-reports");
  let cursor = null;
  const more = moreButton(() => load());

  async function load() {
    const page = await get(`/admin/reports${query({ cursor, limit: 20 })}`);
    for (const report of page.reports) list.append(row(report));
    if (!list.children.length) list.append(h("li.empty", {}, t("admin.no_reports")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }

  function row(report) {
    const li = h("li.report", { dataset: { reportId: report.id } });
    paint(li, report);
    return li;
  }

  function paint(li, report) {
    const target = report.user
      ? h("a.person-link", { href: `/u/${encodeURIComponent(report.user.username)}` }, avatar(report.user, "s"), h("strong", {}, report.user.display_name))
      : h("span", {}, t("admin.report_room", { title: report.room?.title || "" }));
    const head = h(
      "div.report-head",
      {},
      target,
      h("span.pill", {}, t(`admin.reason_${report.reason}`)),
      report.resolved_at ? h("span.pill.pill-used", {}, t("admin.resolved")) : h("span.pill.pill-open", {}, t("admin.open")),
    );
    const meta = h(
      "p.muted.small",
      {},
      t("admin.reported_by", { name: report.reporter.display_name, date: when(report.created_at, lang()) }),
    );
    const details = report.details ? h("p.report-details", {}, report.details) : null;
    li.replaceChildren(h("div.grow", {}, head, meta, details, report.resolved_at ? resolution(report) : actions(li, report)));
  }

  function resolution(report) {
    const by = report.resolved_by?.display_name || t("admin.operator");
    return h(
      "p.report-resolution",
      {},
      t("admin.resolved_by", { name: by, date: when(report.resolved_at, lang()) }),
      report.resolution_note ? h("span.note", {}, " — ", report.resolution_note) : null,
    );
  }

  function actions(li, report) {
    const note = h("textarea", { name: "note", rows: 2, maxlength: 1000, "aria-label": t("admin.note_label"), placeholder: t("admin.note_placeholder") });
    const form = h(
      "form.resolve-form",
      {},
      note,
      h(
        "div.actions",
        {},
        report.user
          ? h("button.danger.small", { type: "button", onclick: () => disable(report) }, t("admin.disable_member", { name: report.user.display_name }))
          : null,
        report.room ? h("button.danger.small", { type: "button", onclick: () => endRoom(report) }, t("admin.end_room")) : null,
        h("button.primary.small", { type: "submit" }, t("admin.resolve")),
      ),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await post(`/admin/reports/${encodeURIComponent(report.id)}/resolve`, { note: note.value });
        ctx.toast(t("admin.resolved_done"));
        paint(li, { ...report, resolved_at: new Date().toISOString(), resolved_by: ctx.me, resolution_note: note.value.trim() });
      } catch (failure) {
        ctx.toast(errorMessage(failure), "error");
      }
    });
    return form;
  }

  async function disable(report) {
    const name = report.user.display_name;
    const ok = await confirmDialog({ title: t("admin.disable_title", { name }), text: t("admin.disable_text"), confirm: t("admin.disable") });
    if (!ok) return;
    try {
      await post(`/admin/users/${encodeURIComponent(report.user.id)}/disable`);
      ctx.toast(t("admin.disabled_done", { name }));
    } catch (failure) {
      ctx.toast(errorMessage(failure), "error");
    }
  }

  async function endRoom(report) {
    const title = report.room.title;
    const ok = await confirmDialog({ title: t("admin.end_title", { title }), text: t("admin.end_text"), confirm: t("admin.end_room") });
    if (!ok) return;
    try {
      await post(`/rooms/${encodeURIComponent(report.room.id)}/end`);
      ctx.toast(t("admin.ended", { title }));
    } catch (failure) {
      ctx.toast(errorMessage(failure), "error");
    }
  }

  box.append(h("p.muted", {}, t("admin.reports_intro")), list, more);
  await load();
}
