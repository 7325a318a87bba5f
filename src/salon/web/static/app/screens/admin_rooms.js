// Admin: every live room (closed and social ones too), newest first, with how many people are in it; an admin
// ends one without joining it.

import { errorMessage, get, post } from "../api.js";
import { h, when } from "../dom.js";
import { confirmDialog } from "../dialogs.js";
import { lang, t } from "../i18n.js";

export async function render(box, ctx) {
  const { rooms } = await get("/admin/rooms");

  async function end(room, li) {
    const ok = await confirmDialog({ title: t("admin.end_title", { title: room.title }), text: t("admin.end_text"), confirm: t("admin.end_room") });
    if (!ok) return;
    try {
      await post(`/rooms/${encodeURIComponent(room.id)}/end`);
      li.remove();
      ctx.toast(t("admin.ended", { title: room.title }));
    } catch (failure) {
      ctx.toast(errorMessage(failure), "error");
    }
  }

  function row(room) {
    const li = h("li", { dataset: { roomId: room.id } });
    li.append(
      h(
        "div.grow",
        {},
        h("a", { href: `/room/${encodeURIComponent(room.id)}` }, h("strong", {}, room.title)),
        h(
          "div.muted.small",
          {},
          t(`admin.type_${room.type}`),
          " · ",
          t("admin.people", { count: room.people }),
          " · ",
          t("admin.started", { date: when(room.created_at, lang(), { timeStyle: "short" }) }),
        ),
      ),
      h("button.danger.small", { type: "button", "aria-label": t("admin.end_label", { title: room.title }), onclick: () => end(room, li) }, t("admin.end_room")),
    );
    return li;
  }

  box.append(
    h("p.muted", {}, t("admin.rooms_intro")),
    rooms.length ? h("ul.list.card.admin-rooms", {}, rooms.map(row)) : h("p.empty", {}, t("admin.no_rooms")),
  );
}
