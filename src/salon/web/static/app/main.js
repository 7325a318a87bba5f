// The app shell: who is logged in, the app bar (search, notifications with a live badge, me), the
// "reconnecting" banner, and the router that shows one screen at a time. Screens are ES modules loaded on demand:
// each exports `render(main, ctx)` and may return a function that cleans up when the screen is left.

import { ApiError, errorMessage, get, post, setCsrfToken } from "./api.js";
import { avatar, fill, h } from "./dom.js";
import { icon } from "./icons.js";
import { addStrings, detectLanguage, lang, onLanguageChange, setLanguage, t } from "./i18n.js";
import { live } from "./live.js";
import strings from "./main.strings.js";
import { currentRoom, leaveCurrentRoom, onCurrentRoomChange } from "./room_session.js";

addStrings(strings);

const ROUTES = [
  [/^\/$/, "hallway", { auth: true }],
  [/^\/welcome$/, "welcome", { auth: false }],
  [/^\/invite\/([^/]+)$/, "signup", { auth: false }],
  [/^\/room\/([^/]+)$/, "room", { auth: true }],
  [/^\/search$/, "search", { auth: true }],
  [/^\/u\/([^/]+)$/, "profile", { auth: true }],
  [/^\/invites$/, "invites", { auth: true }],
  [/^\/waitlist$/, "waitlist", { auth: true }],
  [/^\/events$/, "events", { auth: true }],
  [/^\/events\/new$/, "event_edit", { auth: true }],
  [/^\/events\/([^/]+)\/edit$/, "event_edit", { auth: true }],
  [/^\/events\/([^/]+)$/, "event", { auth: true }],
  [/^\/notifications$/, "notifications", { auth: true }],
  [/^\/settings$/, "settings", { auth: true }],
  [/^\/start$/, "start", { auth: true }],
  [/^\/admin(?:\/([a-z]+))?$/, "admin", { auth: true }],
];

const ctx = {
  me: null,
  live,
  navigate,
  toast,
  announce,
  refreshMe,
  logout,
};

let cleanup = null;
let renderCount = 0;

async function refreshMe() {
  try {
    const session = await get("/auth/session");
    ctx.me = session.user;
    setCsrfToken(session.csrf_token);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    ctx.me = null;
    setCsrfToken(null);
  }
  renderBar();
  return ctx.me;
}

async function logout() {
  await leaveCurrentRoom();
  await post("/auth/logout").catch(() => {});
  ctx.me = null;
  setCsrfToken(null);
  live.stop();
  navigate("/welcome");
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", path);
  else history.pushState({}, "", path);
  route();
}

/** A short message (also read out by screen readers), placed by salon.css where it covers no control and little
 * text: above the room's bar or the "in the room" bar on a phone, in the corner beside the column on a wide screen.
 * It has a close button; it goes by itself after a while (errors stay longer), at most 3 at once. */
function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const close = () => item.remove();
  const item = h(
    `div.toast.toast-${kind}`,
    { role: kind === "error" ? "alert" : "status" },
    h("span.toast-text", {}, message),
    h("button.toast-close", { type: "button", "aria-label": t("app.dismiss"), title: t("app.dismiss"), onclick: close }, icon("close", { size: 18 })),
  );
  box.append(item);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(close, kind === "error" ? 10000 : 6000);
}

/** Say something to screen readers without showing it (who started speaking, say). */
function announce(message) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

async function route() {
  const path = location.pathname;
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  const main = document.getElementById("main");
  if (cleanup) {
    const done = cleanup;
    cleanup = null;
    await Promise.resolve(done()).catch(() => {});
  }
  if (!found) {
    fill(main, h("section.screen", {}, h("h1", {}, t("app.not_found")), h("a", { href: "/" }, t("app.home"))));
    return;
  }
  const [pattern, screen, options] = found;
  renderNowInRoom();
  if (options.auth && !ctx.me) {
    navigate(`/welcome?next=${encodeURIComponent(path + location.search)}`, { replace: true });
    return;
  }
  if (!options.auth && ctx.me && screen === "welcome") {
    navigate("/", { replace: true });
    return;
  }
  if (ctx.me) live.start();
  const params = path.match(pattern).slice(1).map(decodeURIComponent);
  const mine = ++renderCount;
  document.body.dataset.screen = screen;
  renderBar();
  const module = await import(`./screens/${screen}.js`);
  if (mine !== renderCount) return; // the person already went somewhere else
  fill(main);
  try {
    // A view of the shared ctx (so `ctx.me` stays current after refreshMe) plus this route's own params.
    const screenCtx = Object.assign(Object.create(ctx), { params, query: new URLSearchParams(location.search) });
    cleanup = (await module.render(main, screenCtx)) || null;
  } catch (error) {
    console.error(error);
    fill(main, h("section.screen", {}, h("p.error", { role: "alert" }, errorMessage(error))));
  }
  main.focus({ preventScroll: true });
}

// --- the app bar -------------------------------------------------------------------------------------------------

let unread = 0;

function renderBar() {
  const bar = document.getElementById("bar");
  const me = ctx.me;
  const link = (href, label, content, extra = {}) =>
    h("a.bar-button", { href, "aria-label": label, title: label, ...extra }, content);
  fill(
    bar,
    h("a.brand", { href: "/", "aria-label": t("app.home"), title: t("app.home") }, "Salon"),
    h(
      "nav.bar-actions",
      { "aria-label": t("app.main_nav") },
      me
        ? [
            link("/search", t("app.search"), icon("search")),
            link("/events", t("app.events"), icon("calendar")),
            link("/invites", t("app.invites"), icon("mail")),
            link(
              "/notifications",
              unread ? t("app.notifications_unread", { count: unread }) : t("app.notifications"),
              [
                icon("bell"),
                unread ? h("span.badge", { "data-testid": "unread-badge" }, String(unread > 99 ? "99+" : unread)) : null,
              ],
            ),
            me.is_admin ? link("/admin", t("app.admin"), icon("shield"), { "data-testid": "admin-entry" }) : null,
            link("/settings", t("app.settings"), icon("settings"), { "data-testid": "settings-entry" }),
            link(`/u/${encodeURIComponent(me.username)}`, t("app.my_profile"), avatar(me, "s")),
          ]
        : [languageSwitch()],
    ),
  );
}

export function languageSwitch() {
  const other = lang() === "en" ? "fr" : "en";
  return h(
    "button.link-button",
    { type: "button", lang: other, onclick: () => setLanguage(other) },
    other === "fr" ? "Français" : "English",
  );
}

async function refreshUnread() {
  if (!ctx.me) return;
  try {
    const page = await get("/notifications?limit=1");
    setUnread(page.unread_count);
  } catch {
    /* shown next time */
  }
}

export function setUnread(count) {
  unread = count;
  renderBar();
}
ctx.setUnread = setUnread;

// While notifications are paused the server pushes nothing, so nothing would tell this page when the pause is over:
// a timer re-reads the count then (what arrived during the pause shows on the badge without a reload).
let pauseEndTimer = null;

export function watchPauseEnd(pausedUntil) {
  clearTimeout(pauseEndTimer);
  pauseEndTimer = null;
  const left = pausedUntil ? new Date(pausedUntil).getTime() - Date.now() : 0;
  if (left > 0) pauseEndTimer = setTimeout(refreshUnread, left + 500); // a pause is at most 7 days: fits a timer
}
ctx.watchPauseEnd = watchPauseEnd;

async function watchMyPause() {
  if (!ctx.me) return;
  try {
    watchPauseEnd((await get("/me/notification-settings")).paused_until);
  } catch {
    /* no timer: the badge catches up at the next notification or reconnection */
  }
}

// --- the room one is in, while looking at something else ------------------------------------------------------------

let watched = null;

function renderNowInRoom() {
  const box = document.getElementById("now-in-room");
  const session = currentRoom();
  if (watched !== session) {
    watched?.removeEventListener("change", renderNowInRoom);
    session?.addEventListener("change", renderNowInRoom);
    watched = session;
  }
  const here = session && location.pathname === `/room/${encodeURIComponent(session.roomId)}`;
  box.hidden = !session || here;
  document.body.classList.toggle("has-now-in-room", !box.hidden);
  if (box.hidden) return fill(box);
  fill(
    box,
    h(
      "div.now-in-room-inner",
      { role: "region", "aria-label": t("app.now_in_room") },
      icon(session.state.me && session.state.me.role !== "listener" ? "mic" : "volume", { size: 18 }),
      h("a.grow", { href: `/room/${encodeURIComponent(session.roomId)}` }, h("span.muted", {}, t("app.now_in_room"), " "), session.title),
      h(
        "button.danger",
        {
          type: "button",
          onclick: async () => {
            await session.leave();
            toast(t("app.left_room"));
          },
        },
        icon("leave", { size: 18 }),
        t("app.leave_room"),
      ),
    ),
  );
}

function connectionBanner(state) {
  const banner = document.getElementById("connection");
  const show = state === "reconnecting";
  banner.hidden = !show;
  fill(banner, show ? t("app.reconnecting") : "");
  document.body.classList.toggle("is-reconnecting", show);
}

// --- start -------------------------------------------------------------------------------------------------------

async function boot() {
  setLanguage(detectLanguage(), false);
  onLanguageChange(() => {
    renderBar();
    route();
  });
  live.addEventListener("state", (event) => connectionBanner(event.detail));
  onCurrentRoomChange(renderNowInRoom);
  live.addEventListener("online", refreshUnread);
  live.addEventListener("logged-out", () => {
    ctx.me = null;
    navigate("/welcome", { replace: true });
  });
  live.addEventListener("user-event", (event) => {
    const frame = event.detail;
    if (frame.name === "notification") {
      setUnread(unread + 1);
      const note = frame.data;
      if (note.kind === "followed_you") {
        // The counts on ctx.me decide what the hallway suggests to someone with nobody around them yet.
        refreshMe()
          .then(() => document.dispatchEvent(new Event("salon:me-changed")))
          .catch(() => {});
      }
      if (note.kind === "pinged") {
        toast(t("app.pinged_toast", { name: note.data.by?.display_name || "", title: note.data.title || "" }));
      }
    } else if (frame.name === "notifications_read") {
      setUnread(frame.data.unread_count);
    }
  });
  document.addEventListener("click", (event) => {
    const a = event.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download") || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", route);
  await refreshMe().catch(() => {});
  watchMyPause();
  await route();
}

boot();
