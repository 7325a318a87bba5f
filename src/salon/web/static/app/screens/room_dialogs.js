// The room's dialogs: share the room's link, ping someone into the room, and the moderation log.

import { errorMessage, get, post, query } from "../api.js";
import { avatar, h, when } from "../dom.js";
import { lang, t } from "../i18n.js";
import { copyText } from "../dialogs.js";

export async function shareRoom(roomId, title, ctx) {
  const url = `${location.origin}/room/${encodeURIComponent(roomId)}`;
  if (navigator.share) {
    try {
      await navigator.share({ title, url });
      return;
    } catch {
      /* closed or not allowed: copy instead */
    }
  }
  ctx.toast((await copyText(url)) ? t("room.link_copied") : url);
}

function modal(title, ...content) {
  const dialog = h(
    "dialog",
    { "aria-label": title },
    h("h2", {}, title),
    ...content,
    h("div.actions", {}, h("button", { type: "button", onclick: () => dialog.close() }, t("app.close"))),
  );
  dialog.addEventListener("close", () => dialog.remove());
  queueMicrotask(() => dialog.showModal());
  return dialog;
}

/** Ping: the people I follow, or anyone found by name; a ping tells them to come (and lets them into a closed room
 * when a moderator sends it). */
export function pingDialog(roomId, ctx) {
  const results = h("ul.list", { "aria-live": "polite" });
  const input = h("input", { type: "search", name: "q", autocomplete: "off", "aria-label": t("room.ping_search") , placeholder: t("room.ping_search") });
  const status = h("p.form-error", { role: "alert" });
  const row = (user) =>
    h(
      "li",
      { dataset: { userId: user.id } },
      avatar(user, "s"),
      h("span.grow", {}, user.display_name, " ", h("span.muted", {}, `@${user.username}`)),
      h(
        "button",
        {
          type: "button",
          "aria-label": t("room.ping_name", { name: user.display_name }),
          onclick: async (event) => {
            status.textContent = "";
            try {
              await post(`/rooms/${encodeURIComponent(roomId)}/ping`, { user_id: user.id });
              event.target.disabled = true;
              event.target.textContent = t("room.pinged");
            } catch (error) {
              status.textContent = errorMessage(error);
            }
          },
        },
        t("room.ping_button"),
      ),
    );
  async function show(q) {
    try {
      const users = q
        ? (await get(`/search${query({ q })}`)).members
        : (await get(`/users/${encodeURIComponent(ctx.me.id)}/following${query({ limit: 50 })}`)).users.map((e) => e.user);
      results.replaceChildren(...(users.length ? users.filter((u) => u.id !== ctx.me.id).map(row) : [h("li.muted", {}, t("room.ping_nobody"))]));
    } catch (error) {
      status.textContent = errorMessage(error);
    }
  }
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => show(input.value.trim()), 300);
  });
  show("");
  return modal(t("room.ping_title"), h("p.muted", {}, t("room.ping_help")), input, status, results);
}

export function moderationLogDialog(roomId) {
  const list = h("ul.list.log", {}, h("li.muted", {}, t("app.loading")));
  get(`/rooms/${encodeURIComponent(roomId)}/moderation-log${query({ limit: 100 })}`)
    .then((page) => {
      const entries = page.entries || [];
      list.replaceChildren(
        ...(entries.length
          ? entries.map((e) =>
              h(
                "li",
                {},
                h("span.muted", {}, when(e.created_at, lang(), { timeStyle: "short" })),
                " ",
                t(`room.log_${e.action}`, {
                  actor: e.actor ? e.actor.display_name : t("room.log_system"),
                  target: e.target ? e.target.display_name : "",
                }),
              ),
            )
          : [h("li.muted", {}, t("room.log_empty"))]),
      );
    })
    .catch((error) => list.replaceChildren(h("li.error", {}, errorMessage(error))));
  return modal(t("room.moderation_log"), list);
}
