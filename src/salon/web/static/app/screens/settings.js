// Settings: my photo, name and bio; the language; music mode for the microphone; my notifications (which, and a
// pause: settings_notifications.js); the members I blocked; logging out here or everywhere.

import { del, errorMessage, get, patch, post, put, query } from "../api.js";
import { musicMode, setMusicMode } from "../audio.js";
import { avatar, h } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, lang, setLanguage, t } from "../i18n.js";
import { field, handleForm } from "./forms.js";
import { confirmDialog } from "../dialogs.js";
import { day } from "./invites.js";
import { notificationsPart } from "./settings_notifications.js";
import strings from "./settings.strings.js";

addStrings(strings);

const BIO_MAX = 300;
const NAME_MAX = 50;

export async function render(main, ctx) {
  const screen = h("section.screen.settings", {}, h("h1", {}, t("settings.title")), h("p.loading", {}, t("app.loading")));
  main.append(screen);
  const me = await get("/me");
  screen.lastChild.remove();
  screen.append(
    card("settings-profile", t("settings.profile"), photoPart(me, ctx), profileForm(me, ctx)),
    card("settings-language", t("app.language"), languagePart()),
    card("settings-sound", t("settings.music"), musicPart(ctx)),
    card("settings-notifications", t("notif_prefs.title"), await notificationsPart(ctx)),
    card("settings-blocked", t("settings.blocked"), await blockedPart(ctx)),
    card("settings-account", t("settings.account"), accountPart(ctx)),
    card("settings-start", t("settings.start"), h("a.button", { href: "/start" }, t("settings.start_again"))),
  );
}

function card(id, title, ...content) {
  return h("section.card.settings-card", { "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

export function photoPart(me, ctx) {
  const preview = h("div.avatar-preview");
  const status = h("p.form-error", { role: "alert" });
  const paint = () => preview.replaceChildren(avatar(me, "xl"));
  const input = h("input", { type: "file", accept: "image/png,image/jpeg,image/webp", hidden: true, onchange: upload });
  const choose = h("button", { type: "button", onclick: () => input.click() }, t("settings.change_photo"));
  const remove = h("button.danger", { type: "button", hidden: !me.avatar_url, onclick: removePhoto }, t("settings.remove_photo"));

  async function upload() {
    const file = input.files[0];
    if (!file) return;
    status.textContent = "";
    const local = URL.createObjectURL(file);
    preview.replaceChildren(avatar({ ...me, avatar_url: local }, "xl"), h("span.muted", { role: "status" }, t("settings.uploading")));
    choose.disabled = true;
    const body = new FormData();
    body.append("file", file);
    try {
      const out = await put("/me/avatar", body);
      me.avatar_url = out.avatar_url;
      ctx.toast(t("settings.photo_saved"));
      await ctx.refreshMe();
    } catch (error) {
      status.textContent =
        error?.code === "payload_too_large" && error.data.max_bytes
          ? t("settings.photo_too_big", { size: megabytes(error.data.max_bytes) })
          : errorMessage(error);
    } finally {
      paint();
      remove.hidden = !me.avatar_url;
      choose.disabled = false;
      input.value = "";
      URL.revokeObjectURL(local);
    }
  }

  async function removePhoto() {
    const ok = await confirmDialog({ title: t("settings.remove_photo_title"), text: t("settings.remove_photo_text"), confirm: t("settings.remove_photo") });
    if (!ok) return;
    try {
      await del("/me/avatar");
      me.avatar_url = null;
      paint();
      remove.hidden = true;
      choose.focus();
      ctx.toast(t("settings.photo_removed"));
      await ctx.refreshMe();
    } catch (error) {
      status.textContent = errorMessage(error);
    }
  }

  paint();
  return h(
    "div.photo-row",
    { role: "group", "aria-label": t("settings.photo") },
    preview,
    h("div.grow", {}, h("div.actions", {}, choose, remove), h("p.muted.small", {}, t("settings.photo_hint")), input, status),
  );
}

function megabytes(bytes) {
  return new Intl.NumberFormat(lang(), { style: "unit", unit: "megabyte", maximumFractionDigits: 1 }).format(bytes / (1024 * 1024));
}

function profileForm(me, ctx) {
  const counter = h("span.char-count.muted.small", { id: "bio-count" });
  const form = h(
    "form",
    {},
    field(t("settings.display_name"), { name: "display_name", required: true, maxlength: NAME_MAX, value: me.display_name, autocomplete: "name" }),
    field(t("settings.bio"), { name: "bio", multiline: true, maxlength: BIO_MAX, rows: 4, "aria-describedby": "bio-count" }, t("settings.bio_hint")),
    counter,
    h("p.form-error", { role: "alert" }),
    h("div.actions", {}, h("button.primary", { type: "submit" }, t("app.save")), h("a.button", { href: `/u/${encodeURIComponent(me.username)}` }, t("settings.view_profile"))),
  );
  const bio = form.elements.namedItem("bio");
  bio.value = me.bio || "";
  const count = () => {
    counter.textContent = t("settings.chars_left", { count: Math.max(0, BIO_MAX - bio.value.length) });
  };
  bio.addEventListener("input", count);
  count();
  return handleForm(form, async (values) => {
    const saved = await patch("/me", { display_name: values.display_name.trim(), bio: values.bio.trim() });
    Object.assign(me, saved);
    ctx.toast(t("app.saved"));
    await ctx.refreshMe();
  });
}

function languagePart() {
  const choices = [
    ["en", "English"],
    ["fr", "Français"],
  ];
  return h(
    "fieldset.language-choice",
    {},
    h("legend.visually-hidden", {}, t("app.language")),
    choices.map(([value, label]) =>
      h(
        "label.choice",
        { lang: value },
        h("input", { type: "radio", name: "language", value, checked: lang() === value, onchange: () => setLanguage(value) }),
        h("span", {}, label),
      ),
    ),
  );
}

function musicPart(ctx) {
  return h(
    "label.choice.music-choice",
    {},
    h("input", {
      type: "checkbox",
      name: "music_mode",
      checked: musicMode(),
      onchange: (event) => {
        setMusicMode(event.target.checked);
        ctx.toast(event.target.checked ? t("settings.music_on") : t("settings.music_off"));
      },
    }),
    h("span", {}, h("strong", {}, t("settings.music_mode")), h("span.hint", {}, t("settings.music_hint"))),
  );
}

async function blockedPart(ctx) {
  const list = h("ul.list.people");
  const empty = h("p.empty", { hidden: true }, t("settings.blocked_none"));
  const status = h("p.form-error", { role: "alert" });
  const more = h("button.more-button", { type: "button", hidden: true }, t("app.more"));
  let cursor = null;

  function row(entry) {
    const { user } = entry;
    const li = h(
      "li",
      { dataset: { userId: user.id } },
      h(
        "a.person-link.grow",
        { href: `/u/${encodeURIComponent(user.username)}` },
        avatar(user, "m"),
        h("span.person-names", {}, h("strong", {}, user.display_name), h("span.muted.small", {}, t("settings.blocked_since", { date: day(entry.since) }))),
      ),
      h(
        "button.small",
        {
          type: "button",
          "aria-label": t("settings.unblock_name", { name: user.display_name }),
          onclick: async (event) => {
            const button = event.currentTarget;
            button.disabled = true;
            try {
              await del(`/users/${encodeURIComponent(user.id)}/block`);
              li.remove();
              empty.hidden = list.children.length > 0;
              ctx.toast(t("settings.unblocked", { name: user.display_name }));
            } catch (error) {
              button.disabled = false;
              status.textContent = errorMessage(error);
            }
          },
        },
        t("settings.unblock"),
      ),
    );
    return li;
  }

  async function page() {
    more.disabled = true;
    try {
      const result = await get(`/me/blocks${query({ limit: 20, cursor })}`);
      list.append(...result.users.map(row));
      cursor = result.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
    } catch (error) {
      status.textContent = errorMessage(error);
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", page);
  await page();
  return h("div", {}, list, empty, status, more);
}

function accountPart(ctx) {
  const status = h("p.form-error", { role: "alert" });
  async function logoutAll() {
    const ok = await confirmDialog({ title: t("settings.logout_all_title"), text: t("settings.logout_all_text"), confirm: t("settings.logout_all") });
    if (!ok) return;
    try {
      const out = await post("/auth/logout-all");
      ctx.toast(t("settings.logged_out_all", { count: out.sessions_ended }));
      // This session ended too: the server closes the live connection and the app returns to the welcome screen by
      // itself. Without a live connection (or if that does not come), log out here.
      if (ctx.live.state !== "online") return ctx.logout();
      const fallback = setTimeout(() => ctx.logout(), 2000);
      ctx.live.addEventListener("logged-out", () => clearTimeout(fallback), { once: true });
    } catch (error) {
      status.textContent = errorMessage(error);
    }
  }
  return h(
    "div",
    {},
    h(
      "div.actions",
      {},
      h("button", { type: "button", onclick: () => ctx.logout() }, icon("leave", { size: 18 }), t("settings.logout")),
      h("button.danger", { type: "button", onclick: logoutAll }, t("settings.logout_all")),
    ),
    h("p.muted.small", {}, t("settings.logout_all_hint")),
    status,
  );
}
