// A live room: join on arrival (a tap on the hallway is the gesture that lets the browser play sound), follow the
// room's view over the live connection, play the room (listeners) or publish the microphone (stage), and offer what
// the person may do: raise a hand, accept an invitation up, mute, leave quietly, share, ping someone; moderators
// also get the hand queue, a menu on each person and the moderation log.

import { get, post } from "../api.js";
import { MicError, RoomAudio } from "../audio.js";
import { fill, h } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, t } from "../i18n.js";
import { confirmDialog } from "../dialogs.js";
import { errorMessage } from "../main.js";
import { findMe } from "../room_state.js";
import { moderationLogDialog, pingDialog, shareRoom } from "./room_dialogs.js";
import { handsSection, personActions, personTile } from "./room_people.js";
import strings from "./room.strings.js";

addStrings(strings);

export async function render(main, ctx) {
  const [roomId] = ctx.params;
  const { live } = ctx;
  const player = h("audio", { autoplay: true, hidden: true, "data-testid": "room-audio" });
  const body = h("div", {}, h("p.loading", {}, t("app.loading")));
  const bar = h("div.room-bar", { role: "toolbar", "aria-label": t("room.controls") });
  const notices = h("div", { "aria-live": "polite" });
  const dialogs = h("div");
  main.append(h("section.screen.room", { dataset: { roomId } }, notices, body, dialogs, player, bar));

  const audio = new RoomAudio(roomId, player);
  const state = {
    view: null,
    me: null,
    speaking: new Set(),
    followed: [], // listeners someone on stage follows: the audience's first row
    mediaFor: null,
    gone: false,
    micProblem: null,
    blocked: false,
  };

  // Who the speakers follow changes only when people come, go, or move between stage and audience.
  let followedTimer = null;
  function refreshFollowed() {
    clearTimeout(followedTimer);
    followedTimer = setTimeout(async () => {
      try {
        state.followed = (await get(`/rooms/${encodeURIComponent(roomId)}/followed-by-speakers`)).user_ids;
        draw();
      } catch {
        /* the plain order is fine */
      }
    }, 400);
  }
  const FOLLOW_CHANGES = new Set(["participant_joined", "participant_left", "role_changed"]);

  async function call(op, data = {}) {
    try {
      return await live.call(op, { room_id: roomId, ...data });
    } catch (error) {
      ctx.toast(errorMessage(error), "error");
      return null;
    }
  }

  // --- sound follows the person's place --------------------------------------------------------------------

  async function syncMedia(force = false) {
    if (state.gone || !state.view || live.state !== "online") return;
    const want = state.me ? (state.me.role === "listener" ? "listen" : "speak") : null;
    if (!force && want === state.mediaFor) {
      if (state.me) audio.setMuted(state.me.muted);
      return;
    }
    state.mediaFor = want;
    try {
      if (want === "speak") {
        audio.setMuted(state.me.muted);
        await audio.speak();
        state.micProblem = null;
      } else if (want === "listen") {
        await audio.listen();
      } else {
        await audio.stop();
      }
    } catch (error) {
      if (error instanceof MicError) {
        state.micProblem = error.kind; // on stage without a microphone: still hear the room
        state.mediaFor = "listen";
        await audio.listen().catch(() => {});
      } else {
        state.mediaFor = null;
        ctx.toast(errorMessage(error), "error");
      }
    }
    draw();
  }

  audio.addEventListener("blocked", () => {
    state.blocked = true;
    draw();
  });
  audio.addEventListener("playing", () => {
    if (state.blocked) {
      state.blocked = false;
      draw();
    }
  });

  // --- live updates ------------------------------------------------------------------------------------------

  function onRoom(event) {
    if (event.detail.room_id !== roomId) return;
    const view = event.detail.view;
    const wasMe = state.me;
    state.view = view;
    state.me = findMe(view, live.userId);
    if (view.room.ended_at) return end(t("room.ended"));
    if (wasMe && state.me) announceChange(wasMe, state.me);
    if (!event.detail.event || FOLLOW_CHANGES.has(event.detail.event.name)) refreshFollowed();
    draw();
    syncMedia();
  }

  function announceChange(before, after) {
    if (before.role === "listener" && after.role !== "listener") ctx.announce(t("room.you_are_on_stage"));
    if (before.role !== "listener" && after.role === "listener") ctx.announce(t("room.you_are_in_audience"));
    if (!before.invited_up && after.invited_up) ctx.announce(t("room.you_are_invited"));
    if (!before.muted && after.muted && after.role !== "listener") ctx.announce(t("room.you_were_muted"));
  }

  let lastAnnounced = 0;
  function onSignal(event) {
    const frame = event.detail;
    if (frame.room_id !== roomId && frame.room_id !== "*") return;
    if (frame.name === "speakers") {
      const now = new Set(frame.data.user_ids);
      const started = [...now].filter((id) => !state.speaking.has(id));
      state.speaking = now;
      for (const li of body.querySelectorAll(".stage .person")) li.classList.toggle("speaking", now.has(li.dataset.userId));
      if (started.length && Date.now() - lastAnnounced > 3000) {
        const names = started.map((id) => state.view?.stage.find((p) => p.user.id === id)?.user.display_name).filter(Boolean);
        if (names.length) {
          lastAnnounced = Date.now();
          ctx.announce(t("room.now_speaking", { names: names.join(", ") }));
        }
      }
    } else if (frame.name === "media_reset") {
      syncMedia(true);
    }
  }

  function onRemoved(event) {
    if (event.detail.room_id === roomId) end(t("room.removed"));
  }

  function onOnline() {
    if (!state.gone && state.view) syncMedia(true); // back from a network loss: renegotiate the sound
  }

  function onRoomError(event) {
    if (event.detail.room_id === roomId) end(errorMessage(event.detail.error));
  }

  function end(message) {
    state.gone = true;
    audio.stop(false);
    live.unfollow(roomId);
    bar.replaceChildren();
    bar.hidden = true;
    body.replaceChildren(
      h("div.banner.warn", { role: "alert" }, h("p", {}, message), h("div.actions", {}, h("a.button", { href: "/" }, t("room.to_hallway")))),
    );
  }

  // --- drawing -----------------------------------------------------------------------------------------------

  function draw() {
    if (state.gone || !state.view) return;
    const { view, me } = state;
    const room = view.room;
    const iAmMod = me?.role === "moderator";
    const open = (p) => personMenu(p);
    const audienceCount = view.listener_count - view.audience.length;
    fill(
      body,
      h(
        "div.room-head",
        {},
        h("h1", {}, room.title),
        h("button.round", { type: "button", "aria-label": t("room.share"), title: t("room.share"), onclick: () => shareRoom(roomId, room.title, ctx) }, icon("share")),
      ),
      room.topics.length ? h("ul.topics", { "aria-label": t("room.topics") }, room.topics.map((x) => h("li.topic", {}, x))) : null,
      room.description ? h("p.muted", {}, room.description) : null,
      state.blocked ? h("div.banner", {}, h("button.primary", { type: "button", onclick: () => audio.play() }, icon("play", { filled: true }), t("room.tap_to_listen"))) : null,
      state.micProblem ? h("div.banner.warn", { role: "alert" }, t(`room.mic_${state.micProblem}`), " ", h("button.link-button", { type: "button", onclick: () => syncMedia(true) }, t("room.try_again"))) : null,
      me?.invited_up && me.role === "listener"
        ? h(
            "div.banner",
            { role: "alertdialog", "aria-label": t("room.invited_title") },
            h("p", {}, h("strong", {}, t("room.invited_title")), " ", t("room.invited_text")),
            h(
              "div.actions",
              {},
              h("button.primary", { type: "button", onclick: () => call("accept_invite") }, t("room.accept")),
              h("button", { type: "button", onclick: () => call("decline_invite") }, t("room.decline")),
            ),
          )
        : null,
      iAmMod ? handsSection(view, { onInviteUp: (p) => call("invite_up", { user_id: p.user.id }) }) : null,
      h("h2.visually-hidden", {}, t("room.stage")),
      h("ul.stage", { "aria-label": t("room.stage") }, view.stage.map((p) => personTile(p, { speaking: state.speaking.has(p.user.id), onOpen: open }))),
      h("h2", {}, t("room.audience"), " ", h("span.muted", {}, `(${view.listener_count})`)),
      audienceRows(view.audience, open),
      audienceCount > 0 ? h("p.muted", {}, t("room.others_listening", { count: audienceCount })) : null,
      view.listener_count === 0 ? h("p.muted", {}, t("room.no_audience")) : null,
    );
    drawBar();
  }

  /** "Followed by the speakers" first (in the order they came), then everyone else. */
  function audienceRows(audience, open) {
    const rank = new Map(state.followed.map((id, i) => [id, i]));
    const first = audience.filter((p) => rank.has(p.user.id)).sort((a, b) => rank.get(a.user.id) - rank.get(b.user.id));
    const rest = audience.filter((p) => !rank.has(p.user.id));
    const tiles = (people, label) =>
      people.length ? h("ul.audience", { "aria-label": label }, people.map((p) => personTile(p, { speaking: false, onOpen: open }))) : null;
    return [
      first.length ? h("h3.muted", {}, t("room.followed_by_speakers")) : null,
      tiles(first, t("room.followed_by_speakers")),
      first.length && rest.length ? h("h3.muted", {}, t("room.others_in_room")) : null,
      tiles(rest, t("room.audience")),
    ];
  }

  function drawBar() {
    const { view, me } = state;
    const items = [
      h("button.danger", { type: "button", onclick: leave }, icon("leave"), t("room.leave")),
      h("span.spacer"),
      h("button.round", { type: "button", "aria-label": t("room.ping"), title: t("room.ping"), onclick: () => dialogs.replaceChildren(pingDialog(roomId, ctx)) }, icon("userPlus")),
    ];
    if (me?.role === "moderator") {
      items.push(h("button.round", { type: "button", "aria-label": t("room.more"), title: t("room.more"), onclick: roomMenu }, icon("more")));
    }
    if (me && me.role === "listener" && view.room.hands_enabled) {
      const raised = Boolean(me.hand_raised_at);
      items.push(
        h("button.round", { type: "button", "aria-pressed": String(raised), "aria-label": raised ? t("room.lower_hand") : t("room.raise_hand"), title: raised ? t("room.lower_hand") : t("room.raise_hand"), onclick: () => call(raised ? "lower_hand" : "raise_hand") }, icon("hand")),
      );
    }
    if (me && me.role !== "listener") {
      const label = me.mute_locked ? t("room.muted_locked") : me.muted ? t("room.unmute") : t("room.mute_me");
      items.push(
        h("button.round", { type: "button", "aria-pressed": String(me.muted), "aria-label": label, title: label, disabled: me.mute_locked, onclick: () => call("self_mute", { muted: !me.muted }) }, icon(me.muted ? "micOff" : "mic")),
      );
    }
    bar.replaceChildren(h("div.room-bar-inner", {}, items));
  }

  function showDialog(title, content) {
    const dialog = h("dialog", { "aria-label": title }, h("h2", {}, title), content, h("div.actions", {}, h("button", { type: "button", onclick: () => dialog.close() }, t("app.close"))));
    dialog.addEventListener("close", () => dialog.remove());
    dialogs.replaceChildren(dialog);
    dialog.showModal();
    return dialog;
  }

  function personMenu(p) {
    const actions = personActions(p, state.me, act);
    let dialog;
    const menu = h(
      "div.menu",
      {},
      h("a.button", { href: `/u/${encodeURIComponent(p.user.username)}` }, t("room.view_profile")),
      actions.map(([label, run, opts]) =>
        h(opts?.danger ? "button.danger" : "button", { type: "button", onclick: async () => { dialog.close(); await run(); } }, label),
      ),
    );
    dialog = showDialog(p.user.display_name, menu);
  }

  async function act(what, p) {
    const user_id = p.user.id;
    const ops = {
      invite_up: ["invite_up", {}],
      mute: ["mute", { lock: false }],
      mute_lock: ["mute", { lock: true }],
      unlock_mute: ["unlock_mute", {}],
      move_to_audience: ["move_to_audience", {}],
      make_moderator: ["set_moderator", { make: true }],
      unmake_moderator: ["set_moderator", { make: false }],
      remove: ["remove", {}],
    };
    if (what === "remove") {
      const sure = await confirmDialog({ title: t("room.remove_confirm", { name: p.user.display_name }), confirm: t("room.remove") });
      if (!sure) return;
    }
    const [op, extra] = ops[what];
    await call(op, { user_id, ...extra });
  }

  function roomMenu() {
    const room = state.view.room;
    let dialog;
    const item = (label, run, cls = "button") => h(cls, { type: "button", onclick: async () => { dialog.close(); await run(); } }, label);
    dialog = showDialog(
      t("room.more"),
      h(
        "div.menu",
        {},
        item(room.hands_enabled ? t("room.hands_off") : t("room.hands_on"), () => call("set_hands_enabled", { enabled: !room.hands_enabled })),
        item(t("room.moderation_log"), () => dialogs.replaceChildren(moderationLogDialog(roomId))),
        item(t("room.end"), async () => {
          if (await confirmDialog({ title: t("room.end_confirm"), confirm: t("room.end") })) await call("end_room");
        }, "button.danger"),
      ),
    );
  }

  async function leave() {
    state.gone = true;
    await audio.stop();
    await post(`/rooms/${encodeURIComponent(roomId)}/leave`).catch(() => {});
    ctx.navigate("/");
  }

  // --- start -------------------------------------------------------------------------------------------------

  live.addEventListener("room", onRoom);
  live.addEventListener("signal", onSignal);
  live.addEventListener("removed", onRemoved);
  live.addEventListener("online", onOnline);
  live.addEventListener("room-error", onRoomError);
  const cleanup = async () => {
    clearTimeout(followedTimer);
    live.removeEventListener("room", onRoom);
    live.removeEventListener("signal", onSignal);
    live.removeEventListener("removed", onRemoved);
    live.removeEventListener("online", onOnline);
    live.removeEventListener("room-error", onRoomError);
    if (!state.gone) {
      state.gone = true;
      await audio.stop();
      live.unfollow(roomId);
      await post(`/rooms/${encodeURIComponent(roomId)}/leave`).catch(() => {});
    }
  };
  try {
    await post(`/rooms/${encodeURIComponent(roomId)}/join`);
  } catch (error) {
    end(errorMessage(error));
    return cleanup;
  }
  await live.follow(roomId);
  return cleanup;
}
