// My invites: how many are left, create one (its link is shown once, with Copy and Share), and the invites I made
// with what became of them (open ones can be revoked, which gives the invite back). Also exports two small pieces
// the other people screens share: a confirmation dialog and a link box with Copy/Share.

import { del, errorMessage, get, post } from "../api.js";
import { avatar, h, when } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, lang, t } from "../i18n.js";
import { confirmDialog, copyText } from "../dialogs.js";
import strings from "./invites.strings.js";

addStrings(strings);

/** A read-only link with Copy (clipboard, else the text gets selected) and Share (where the device can). */
export function linkBox(link, ctx, label = t("invites.link_label")) {
  const input = h("input.link-input", {
    type: "text",
    readOnly: true,
    value: link,
    "aria-label": label,
    spellcheck: "false",
    onfocus: (event) => event.target.select(),
  });
  const copy = h(
    "button.primary",
    {
      type: "button",
      onclick: async () => {
        if (await copyText(link)) {
          ctx.toast(t("invites.copied"));
        } else {
          input.focus();
          input.select();
          ctx.toast(t("invites.copy_manually"));
        }
      },
    },
    t("invites.copy"),
  );
  const share = navigator.share
    ? h(
        "button",
        {
          type: "button",
          onclick: async () => {
            try {
              await navigator.share({ title: "Salon", text: t("invites.share_text"), url: link });
            } catch (error) {
              if (error?.name !== "AbortError") copy.click();
            }
          },
        },
        icon("share", { size: 18 }),
        t("invites.share"),
      )
    : null;
  return h("div.link-box", {}, input, h("div.link-actions", {}, copy, share));
}

export const day = (iso) => when(iso, lang(), { dateStyle: "medium" });

/** The big "N invites left" figure. */
export function quota(count) {
  return h(
    "p.big-number",
    {},
    h("strong", {}, new Intl.NumberFormat(lang()).format(count)),
    h("span", {}, t("invites.left_label", { count })),
  );
}

export async function render(main, ctx) {
  const screen = h("section.screen", {}, h("h1", {}, t("invites.title")), h("p.loading", {}, t("app.loading")));
  main.append(screen);
  let mine = await get("/invites");
  screen.lastChild.remove();

  const figure = h("div");
  const noneLeft = ctx.me.is_admin
    ? h("p.muted", {}, t("invites.none_left_admin"), " ", h("a", { href: "/admin" }, t("invites.admin_link")))
    : h("p.muted", {}, t("invites.none_left"));
  const error = h("p.form-error", { role: "alert" });
  const fresh = h("div");
  const list = h("div");
  let freshId = null;
  const create = h("button.primary", { type: "button", onclick: createInvite }, icon("plus", { size: 18 }), t("invites.create"));

  function paintQuota() {
    figure.replaceChildren(quota(mine.invites_left));
    noneLeft.hidden = mine.invites_left > 0;
  }

  async function createInvite() {
    error.textContent = "";
    create.disabled = true;
    try {
      const invite = await post("/invites");
      if (typeof invite.invites_left === "number") mine = { ...mine, invites_left: invite.invites_left };
      paintQuota();
      freshId = invite.id;
      const box = linkBox(invite.link, ctx);
      fresh.replaceChildren(
        h(
          "section.banner.new-invite",
          { "aria-labelledby": "new-invite-title" },
          h("h2", { id: "new-invite-title" }, t("invites.new_title")),
          h("p", {}, t("invites.new_hint")),
          box,
          h("p.muted", {}, t("invites.expires", { date: day(invite.expires_at) })),
        ),
      );
      box.querySelector("button").focus();
      await reload();
    } catch (failure) {
      error.textContent = errorMessage(failure);
    } finally {
      create.disabled = false;
    }
  }

  async function reload() {
    mine = await get("/invites");
    paintQuota();
    paintList();
  }

  async function revoke(invite) {
    const ok = await confirmDialog({
      title: t("invites.revoke_title"),
      text: t("invites.revoke_text"),
      confirm: t("invites.revoke"),
    });
    if (!ok) return;
    try {
      await del(`/invites/${encodeURIComponent(invite.id)}`);
      ctx.toast(t("invites.revoked"));
      if (invite.id === freshId) fresh.replaceChildren();
      await reload();
      list.querySelector("h2")?.focus();
    } catch (failure) {
      ctx.toast(errorMessage(failure), "error");
    }
  }

  function paintList() {
    list.replaceChildren(
      h("h2", { tabindex: "-1" }, t("invites.list_title")),
      mine.invites.length
        ? h("ul.list.card.invite-list", {}, mine.invites.map((invite) => inviteRow(invite, revoke)))
        : h("p.empty", {}, t("invites.none_yet")),
    );
  }

  paintQuota();
  paintList();
  screen.append(
    h("div.card.quota-card", {}, figure, h("p", {}, t("invites.explain")), noneLeft, h("div.actions", {}, create), error),
    fresh,
    list,
    h("p.muted.waitlist-hint", {}, t("invites.waitlist_hint"), " ", h("a", { href: "/waitlist" }, t("invites.waitlist_link"))),
  );
}

function statusLabel(status) {
  const labels = {
    open: () => t("invites.status_open"),
    used: () => t("invites.status_used"),
    revoked: () => t("invites.status_revoked"),
    expired: () => t("invites.status_expired"),
  };
  return (labels[status] || labels.expired)();
}

function inviteRow(invite, revoke) {
  const created = t("invites.created", { date: day(invite.created_at) });
  let main;
  let sub = created;
  if (invite.status === "used" && invite.used_by) {
    const user = invite.used_by;
    main = h("a.person-link", { href: `/u/${encodeURIComponent(user.username)}` }, avatar(user, "s"), h("span", {}, t("invites.used_by", { name: user.display_name })));
    sub = invite.used_at ? t("invites.used_on", { date: day(invite.used_at) }) : created;
  } else if (invite.status === "open") {
    main = h("span", {}, t("invites.expires", { date: day(invite.expires_at) }));
  } else if (invite.status === "expired") {
    main = h("span", {}, t("invites.expired_on", { date: day(invite.expires_at) }));
  } else {
    main = h("span", {}, created);
    sub = null;
  }
  return h(
    "li",
    { dataset: { inviteId: invite.id, status: invite.status } },
    h(`span.pill.pill-${invite.status}`, {}, statusLabel(invite.status)),
    h("div.grow", {}, h("div", {}, main), sub ? h("div.muted.small", {}, sub) : null),
    invite.status === "open"
      ? h(
          "button.danger.small",
          { type: "button", "aria-label": t("invites.revoke_label", { date: day(invite.created_at) }), onclick: () => revoke(invite) },
          t("invites.revoke"),
        )
      : null,
  );
}
