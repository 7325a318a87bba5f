// The waitlist: people who asked to join (names and dates; admins also see their contact). Nominating one spends
// one of my invites and gives me a link to pass on to them, shown once with Copy/Share.

import { errorMessage, get, post } from "../api.js";
import { avatar, fill, h } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, t } from "../i18n.js";
import { confirmDialog } from "../dialogs.js";
import { day, linkBox, quota } from "./invites.js";
import strings from "./waitlist.strings.js";

addStrings(strings);

export async function render(main, ctx) {
  const screen = h("section.screen", {}, h("h1", {}, t("waitlist.title")), h("p.loading", {}, t("app.loading")));
  main.append(screen);
  const [waiting, me] = await Promise.all([get("/waitlist"), get("/me")]);
  let left = me.invites_left ?? 0;

  const figure = h("div.quota-inline");
  const noneLeft = h("p.banner.warn", {}, t("waitlist.no_invites"));
  function paintQuota() {
    figure.replaceChildren(quota(left), h("a.button", { href: "/invites" }, t("waitlist.my_invites")));
    noneLeft.hidden = left > 0 || !waiting.entries.length;
  }

  async function nominate(entry, li) {
    const ok = await confirmDialog({
      title: t("waitlist.confirm_title", { name: entry.name }),
      text: t("waitlist.confirm_text"),
      confirm: t("waitlist.nominate"),
      danger: false,
    });
    if (!ok) return;
    const button = li.querySelector("button");
    button.disabled = true;
    try {
      const result = await post(`/waitlist/${encodeURIComponent(entry.id)}/nominate`);
      if (typeof result.invite.invites_left === "number") left = result.invite.invites_left;
      paintQuota();
      const box = linkBox(result.invite.link, ctx, t("waitlist.link_label", { name: entry.name }));
      li.replaceChildren(
        h(
          "div.grow.nominated",
          {},
          h("h3", {}, t("waitlist.nominated", { name: entry.name })),
          h("p", {}, t("waitlist.send_hint", { name: entry.name })),
          box,
          h("p.muted.small", {}, t("invites.expires", { date: day(result.invite.expires_at) })),
        ),
      );
      li.classList.add("is-nominated");
      box.querySelector("button").focus();
    } catch (failure) {
      button.disabled = false;
      ctx.toast(errorMessage(failure), "error");
    }
  }

  function row(entry) {
    const li = h(
      "li",
      { dataset: { entryId: entry.id } },
      avatar({ id: entry.id, display_name: entry.name }, "m"),
      h(
        "div.grow",
        {},
        h("div.name", {}, entry.name),
        entry.contact ? h("div.small.contact", {}, entry.contact) : null,
        h("div.muted.small", {}, t("waitlist.waiting_since", { date: day(entry.created_at) })),
      ),
    );
    li.append(
      h(
        "button.primary.small",
        { type: "button", "aria-label": t("waitlist.nominate_label", { name: entry.name }), onclick: () => nominate(entry, li) },
        icon("userPlus", { size: 18 }),
        t("waitlist.nominate"),
      ),
    );
    return li;
  }

  paintQuota();
  fill(
    screen,
    h("h1", {}, t("waitlist.title")),
    h("p", {}, t("waitlist.intro")),
    ctx.me.is_admin ? h("p.muted", {}, t("waitlist.admin_note")) : null,
    h("div.card", {}, figure),
    noneLeft,
    waiting.entries.length
      ? h("ul.list.card.waitlist", {}, waiting.entries.map(row))
      : h("p.empty", {}, t("waitlist.empty")),
  );
}
