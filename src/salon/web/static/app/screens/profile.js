// A member's profile: who they are, their followers and whom they follow (lists open below, a page at a time), and
// what one can do — follow or unfollow, block or unblock, report — or, on one's own profile, the ways to one's
// settings, invites and the waitlist.

import { ApiError, del, errorMessage, get, post, put, query } from "../api.js";
import { avatar, fill, h, when } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, lang, t } from "../i18n.js";
import { field, handleForm } from "./forms.js";
import { confirmDialog } from "../dialogs.js";
import { topicTags } from "../topics.js";
import strings from "./profile.strings.js";

addStrings(strings);

const PAGE = 20;
const REASONS = {
  spam: () => t("profile.reason_spam"),
  harassment: () => t("profile.reason_harassment"),
  hate: () => t("profile.reason_hate"),
  sexual_content: () => t("profile.reason_sexual_content"),
  violence: () => t("profile.reason_violence"),
  impersonation: () => t("profile.reason_impersonation"),
  other: () => t("profile.reason_other"),
};

export async function render(main, ctx) {
  const [username] = ctx.params;
  const screen = h("section.screen.profile", {}, h("p.loading", {}, t("app.loading")));
  main.append(screen);
  async function load(focus = null) {
    let profile;
    try {
      profile = await get(`/users/by-username/${encodeURIComponent(username)}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      fill(screen, h("h1", {}, t("profile.not_found")), h("p.muted", {}, t("profile.not_found_hint")), h("a.button", { href: "/search" }, t("app.search")));
      return;
    }
    fill(screen, view(profile, ctx, load));
    if (focus) screen.querySelector(focus)?.focus();
  }
  await load();
}

/** Follow / Following: a button that flips the follow and reports the new relation to `onChange`. */
export function followButton(user, following, ctx, onChange = () => {}) {
  const button = h("button.follow-button", { type: "button" });
  const paint = () => {
    button.classList.toggle("primary", !following);
    button.classList.toggle("is-following", following);
    button.replaceChildren(
      ...(following
        ? [t("profile.following"), h("span.visually-hidden", {}, ` ${user.display_name} ${t("profile.unfollow_hint")}`)]
        : [t("profile.follow"), h("span.visually-hidden", {}, ` ${user.display_name}`)]),
    );
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const path = `/users/${encodeURIComponent(user.id)}/follow`;
      const relation = following ? await del(path) : await put(path);
      following = relation.followed_by_you;
      paint();
      onChange(relation);
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
    } finally {
      button.disabled = false;
    }
  });
  paint();
  return button;
}

function view(p, ctx, reload) {
  const isMe = p.id === ctx.me.id;
  const name = p.display_name;
  const stats = h("div.stats");
  const panel = h("section.people-panel", { id: "people-panel", hidden: true });
  let open = null;

  const statButtons = {};
  for (const kind of ["followers", "following"]) {
    statButtons[kind] = h("button.stat", { type: "button", "aria-controls": "people-panel", onclick: () => toggle(kind) });
    stats.append(statButtons[kind]);
  }
  function paintStats() {
    const counts = { followers: p.followers_count, following: p.following_count };
    const words = {
      followers: t("profile.followers_word", { count: p.followers_count }),
      following: t("profile.following_word", { count: p.following_count }),
    };
    for (const [kind, button] of Object.entries(statButtons)) {
      button.setAttribute("aria-expanded", String(open === kind));
      button.replaceChildren(h("strong", {}, new Intl.NumberFormat(lang()).format(counts[kind])), " ", words[kind]);
    }
  }

  async function toggle(kind) {
    open = open === kind ? null : kind;
    paintStats();
    if (!open) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    const list = h("ul.list.card.people");
    const status = h("p.form-error", { role: "alert" });
    const more = h("button.more-button", { type: "button", hidden: true }, t("app.more"));
    const titleKey = kind === "followers" ? t("profile.followers_title", { name }) : t("profile.following_title", { name });
    panel.replaceChildren(h("h2", {}, titleKey), list, status, more);
    let cursor = null;
    async function page() {
      more.disabled = true;
      try {
        const result = await get(`/users/${encodeURIComponent(p.id)}/${kind}${query({ limit: PAGE, cursor })}`);
        if (open !== kind) return;
        list.append(...result.users.map((entry) => personRow(entry, ctx, isMe ? countMine : undefined)));
        if (!list.children.length) {
          list.replaceWith(h("p.empty", {}, kind === "followers" ? t("profile.nobody_followers") : t("profile.nobody_following")));
        }
        cursor = result.next_cursor;
        more.hidden = !cursor;
      } catch (error) {
        status.textContent = errorMessage(error);
      } finally {
        more.disabled = false;
      }
    }
    more.addEventListener("click", page);
    await page();
  }

  function countMine(relation) {
    p.following_count = Math.max(0, p.following_count + (relation.followed_by_you ? 1 : -1));
    paintStats();
  }

  async function block() {
    const ok = await confirmDialog({ title: t("profile.block_title", { name }), text: t("profile.block_text"), confirm: t("profile.block") });
    if (!ok) return;
    try {
      await put(`/users/${encodeURIComponent(p.id)}/block`);
      ctx.toast(t("profile.blocked_toast", { name }));
      await reload(".blocked-banner button");
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
    }
  }

  async function unblock() {
    try {
      await del(`/users/${encodeURIComponent(p.id)}/block`);
      ctx.toast(t("profile.unblocked_toast", { name }));
      await reload(".profile-actions .follow-button");
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
    }
  }

  function menu() {
    const item = (label, run, kind = "") => h("button", { class: kind, type: "button", onclick: () => { dialog.close(); run(); } }, label);
    const dialog = h(
      "dialog.menu-dialog",
      { "aria-label": t("profile.more_actions", { name }) },
      h("h2", {}, name),
      h(
        "div.menu",
        {},
        p.blocked_by_you ? item(t("profile.unblock"), unblock) : item(t("profile.block"), block, "danger"),
        item(t("profile.report"), () => reportDialog(p, ctx)),
      ),
      h("div.actions", {}, h("button", { type: "button", onclick: () => dialog.close() }, t("app.close"))),
    );
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  const actions = isMe
    ? selfActions(p, ctx)
    : h(
        "div.actions.profile-actions",
        {},
        p.blocked_by_you
          ? null
          : followButton(p, Boolean(p.followed_by_you), ctx, (relation) => {
              p.followers_count = relation.followers_count;
              paintStats();
            }),
        h("button.more-actions", { type: "button", "aria-haspopup": "dialog", "aria-label": t("profile.more_actions", { name }), onclick: menu }, icon("more")),
      );

  paintStats();
  const known = p.known_followers;
  const pills = [
    p.is_admin ? h("span.pill.pill-admin", {}, t("profile.admin")) : null,
    p.follows_you ? h("span.pill.pill-follows", {}, t("profile.follows_you")) : null,
  ];
  return [
    h(
      "div.profile-head",
      {},
      avatar(p, "xl"),
      h("div.grow", {}, h("h1", {}, name), h("p.handle", {}, h("span.muted", {}, `@${p.username}`), pills)),
    ),
    p.disabled ? h("p.banner.warn", { role: "status" }, t("profile.disabled")) : null,
    p.blocked_by_you
      ? h(
          "div.banner.warn.blocked-banner",
          {},
          h("p", {}, t("profile.you_blocked", { name })),
          h("div.actions", {}, h("button", { type: "button", onclick: unblock }, t("profile.unblock"))),
        )
      : null,
    p.bio ? h("p.bio", {}, p.bio) : isMe ? h("p.bio.muted", {}, t("profile.no_bio")) : null,
    known && known.count > 0 ? knownLine(known) : null,
    topicTags(p.topics, t("profile.topics")),
    h(
      "ul.profile-meta",
      {},
      h("li", {}, t("profile.joined", { date: when(p.created_at, lang(), { month: "long", year: "numeric" }) })),
      p.invited_by ? h("li", { "data-testid": "invited-by" }, t("profile.invited_by"), " ", personLink(p.invited_by)) : null,
    ),
    stats,
    actions,
    panel,
  ];
}

function selfActions(p, ctx) {
  const shortcut = (href, iconName, label, extra = null) =>
    h("li", {}, h("a.shortcut", { href }, icon(iconName), h("span.grow", {}, label), extra));
  const left = typeof p.invites_left === "number" ? h("span.pill", {}, t("profile.left", { count: p.invites_left })) : null;
  return [
    h(
      "div.actions.profile-actions",
      {},
      h("a.button.primary", { href: "/settings" }, t("profile.edit")),
      h("button", { type: "button", onclick: () => ctx.logout() }, icon("leave", { size: 18 }), t("profile.logout")),
    ),
    h(
      "nav.card.shortcuts",
      { "aria-label": t("profile.shortcuts") },
      h("ul.list", {}, shortcut("/invites", "mail", t("profile.my_invites"), left), shortcut("/waitlist", "userPlus", t("profile.waitlist"))),
    ),
  ];
}

function knownLine(known) {
  const names = known.users.slice(0, 2).map((u) => u.display_name).join(", ");
  const rest = known.count - Math.min(known.users.length, 2);
  return h(
    "p.known",
    {},
    h("span.faces", { "aria-hidden": "true" }, known.users.slice(0, 3).map((u) => avatar(u, "s"))),
    h("span", {}, rest > 0 ? t("profile.known_by_more", { names, count: rest }) : t("profile.known_by", { names })),
  );
}

function personLink(user) {
  return h("a.person-link", { href: `/u/${encodeURIComponent(user.username)}` }, avatar(user, "s"), user.display_name);
}

function personRow(entry, ctx, onChange) {
  const { user } = entry;
  return h(
    "li",
    { dataset: { userId: user.id } },
    h(
      "a.person-link.grow",
      { href: `/u/${encodeURIComponent(user.username)}` },
      avatar(user, "m"),
      h("span.person-names", {}, h("strong", {}, user.display_name), h("span.muted", {}, `@${user.username}`)),
    ),
    user.id === ctx.me.id ? null : followButton(user, entry.followed_by_you, ctx, onChange),
  );
}

function reportDialog(p, ctx) {
  const name = p.display_name;
  const form = h(
    "form",
    {},
    h("h2", { id: "report-title" }, t("profile.report_title", { name })),
    h("p.muted", {}, t("profile.report_intro", { name })),
    h(
      "fieldset",
      {},
      h("legend", {}, t("profile.reason")),
      Object.entries(REASONS).map(([value, label], i) =>
        h("label.choice", {}, h("input", { type: "radio", name: "reason", value, required: i === 0 }), h("span", {}, label())),
      ),
    ),
    field(t("profile.note"), { name: "details", multiline: true, maxlength: 1000, rows: 3 }, t("profile.note_hint")),
    h("p.form-error", { role: "alert" }),
    h(
      "div.actions",
      {},
      h("button.primary", { type: "submit" }, t("profile.send_report")),
      h("button", { type: "button", onclick: () => dialog.close() }, t("app.cancel")),
    ),
  );
  const dialog = h("dialog.report-dialog", { "aria-labelledby": "report-title" }, form);
  handleForm(form, async (values) => {
    await post("/reports", { user_id: p.id, reason: values.reason, details: (values.details || "").trim() });
    dialog.close();
    ctx.toast(t("profile.report_sent"));
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
