// A live room's screen: what the room session (room_session.js) knows, drawn — the stage, the audience, what the
// person may do (raise a hand, accept an invitation up, mute, leave quietly, share, ping someone) and, for
// moderators, the hand queue, a menu on each person and the room's settings. Leaving the screen does not leave the
// room: the app bar keeps it one tap away.

import { errorMessage, get } from "../api.js";
import { TiersWatch } from "../audience_tiers.js";
import { confirmDialog } from "../dialogs.js";
import { fill, h } from "../dom.js";
import { icon } from "../icons.js";
import { addStrings, t } from "../i18n.js";
import { NoticeStack } from "../room_notices.js";
import { enterRoom } from "../room_session.js";
import { moderationLogDialog, pingDialog, shareRoom } from "./room_dialogs.js";
import { soundDialog, speakerVolumeControl } from "./room_sound.js";
import { boothPanel } from "./booth.js";
import { interpreterActions, interpreterMark, languagePicker, languagesDialog, languagesHeader } from "./room_languages.js";
import { handsSection, personActions, personTile } from "./room_people.js";
import strings from "./room.strings.js";

addStrings(strings);

export async function render(main, ctx) {
  const [roomId] = ctx.params;
  const body = h("div", {}, h("p.loading", {}, t("app.loading")));
  // The bar holds the notices (room_notices.js) above the controls, so a notice never covers them; the screen's
  // bottom padding follows the bar's height, so none covers what one reads either.
  const controls = h("div.room-controls", { role: "toolbar", "aria-label": t("room.controls") });
  const bar = h("div.room-bar");
  const dialogs = h("div");
  const barSize = new ResizeObserver(() => document.documentElement.style.setProperty("--room-bar-h", `${bar.offsetHeight}px`));
  barSize.observe(bar);
  main.append(h("section.screen.room", { dataset: { roomId } }, body, dialogs, bar));

  let session;
  try {
    session = await enterRoom(roomId, { announce: ctx.announce, toast: ctx.toast, errorMessage });
  } catch (error) {
    barSize.disconnect();
    showEnded(errorMessage(error));
    return null;
  }
  const { state, audio } = session;
  const call = (op, data) => session.call(op, data);
  const syncMedia = (force) => session.syncMedia(force);
  const notices = new NoticeStack((action) => call(action.op, action.data));
  bar.append(notices.el, controls);
  notices.addEventListener("change", () => !state.gone && drawBar());
  session.attachNotices(({ show, hide }) => {
    for (const id of hide) notices.dismiss(id);
    for (const notice of show) notices.show(notice);
  });

  // How the audience hears the room, for its moderators only, while this screen shows it (audience_tiers.js).
  let tiers = null;
  const tiersWatch = new TiersWatch(
    () => get(`/rooms/${encodeURIComponent(roomId)}/audience`),
    (latest) => {
      tiers = latest;
      draw();
    },
  );
  let watching = false;
  let countSeen = null;

  /** Start on becoming a moderator, stop on ceasing to be one; ask again when the audience changes. */
  function watchTiers(iAmMod, listenerCount) {
    const [was, seen] = [watching, countSeen];
    [watching, countSeen] = [iAmMod, listenerCount]; // first: stopping redraws, which comes back here
    if (iAmMod && !was) tiersWatch.start();
    else if (!iAmMod && was) tiersWatch.stop();
    else if (iAmMod && listenerCount !== seen) tiersWatch.poke();
  }

  function showEnded(message) {
    bar.replaceChildren();
    bar.hidden = true;
    fill(
      body,
      h("div.banner.warn", { role: "alert" }, h("p", {}, message), h("div.actions", {}, h("a.button", { href: "/" }, t("room.to_hallway")))),
    );
  }

  function onSpeakers() {
    for (const li of body.querySelectorAll(".stage .person")) li.classList.toggle("speaking", state.speaking.has(li.dataset.userId));
  }

  // --- drawing -----------------------------------------------------------------------------------------------

  function draw() {
    if (state.gone) {
      watchTiers(false, null);
      if (state.endedWith) showEnded(state.endedWith);
      return;
    }
    if (!state.view) return;
    const { view, me } = state;
    const room = view.room;
    const iAmMod = me?.role === "moderator";
    const open = (p) => personMenu(p);
    const audienceCount = view.listener_count - view.audience.length;
    watchTiers(iAmMod, view.listener_count);
    const onStage = Boolean(me && me.role !== "listener");
    fill(
      body,
      // The title, topics and description, set apart from the stage below by a clear gap and a rule.
      h(
        "div.room-intro",
        {},
        h(
          "div.room-head",
          {},
          h("h1", {}, room.title),
          h("button.round", { type: "button", "aria-label": t("room.sound"), title: t("room.sound"), "data-testid": "sound-button", onclick: openSound }, icon("volume")),
          h("button.round", { type: "button", "aria-label": t("room.share"), title: t("room.share"), onclick: () => shareRoom(roomId, room.title, ctx) }, icon("share")),
        ),
        room.topics.length ? h("ul.topics", { "aria-label": t("room.topics") }, room.topics.map((x) => h("li.topic", {}, x))) : null,
        room.description ? h("p.muted", {}, room.description) : null,
        languagesHeader(view),
      ),
      languagePicker(session),
      boothPanel(session, call),
      state.blocked ? h("div.banner", {}, h("button.primary", { type: "button", onclick: () => audio.play() }, icon("play", { filled: true }), t("room.tap_to_listen"))) : null,
      // A microphone problem concerns people on stage only: a listener is shown no microphone control at all.
      state.micProblem && onStage ? h("div.banner.warn", { role: "alert" }, t(`room.mic_${state.micProblem}`), " ", h("button.link-button", { type: "button", onclick: () => syncMedia(true) }, t("room.try_again"))) : null,
      me?.invited_up && me.role === "listener"
        ? h(
            "div.banner",
            { role: "alertdialog", "aria-label": t("room.invited_title") },
            h("p", {}, h("strong", {}, state.invitedBy ? t("notice.invited_by", { name: state.invitedBy }) : t("room.invited_title")), " ", t("room.invited_text")),
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
      h("ul.stage", { "aria-label": t("room.stage") }, view.stage.map((p) => personTile(p, { speaking: state.speaking.has(p.user.id), onOpen: open, interpreter: interpreterMark(view.interpretation, p.user.id) }))),
      h("h2", {}, t("room.audience"), " ", h("span.muted", {}, `(${view.listener_count})`)),
      iAmMod && tiers ? tiersLine(tiers) : null,
      audienceRows(view.audience, open),
      audienceCount > 0 ? h("p.muted", {}, t("room.others_listening", { count: audienceCount })) : null,
      view.listener_count === 0 ? h("p.muted", {}, t("room.no_audience")) : null,
    );
    drawBar();
  }

  /** "1,234 listening · 1,200 broadcast · 34 WebRTC", with what it means for those who hover or hear it read. */
  function tiersLine({ listeners, broadcast, webrtc }) {
    const counts = [
      t("room.tiers_listening", { count: listeners }),
      t("room.tiers_broadcast", { count: broadcast }),
      t("room.tiers_webrtc", { count: webrtc }),
    ];
    const explained = t("room.tiers_explained");
    return h("p.muted.audience-tiers", { title: explained }, h("span.visually-hidden", {}, `${explained} `), counts.join(" · "));
  }

  /** "Followed by the speakers" first (in the order they came), then everyone else. */
  function audienceRows(audience, open) {
    const rank = new Map(state.followed.map((id, i) => [id, i]));
    const first = audience.filter((p) => rank.has(p.user.id)).sort((a, b) => rank.get(a.user.id) - rank.get(b.user.id));
    const rest = audience.filter((p) => !rank.has(p.user.id));
    const tiles = (people, label) =>
      people.length ? h("ul.audience", { "aria-label": label }, people.map((p) => personTile(p, { speaking: false, onOpen: open, interpreter: interpreterMark(state.view.interpretation, p.user.id) }))) : null;
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
      // Labelled in words, not only an icon: a hand alone did not say what tapping it does.
      items.push(
        h("button.hand-button", { type: "button", "aria-pressed": String(raised), "data-testid": "hand-button", onclick: () => call(raised ? "lower_hand" : "raise_hand") }, icon("hand"), h("span", {}, raised ? t("room.lower_hand") : t("room.raise_hand"))),
      );
    }
    if (me && me.role !== "listener") {
      const label = me.mute_locked ? t("room.muted_locked") : me.muted ? t("room.unmute") : t("room.mute_me");
      // While "You're muted — tap to talk" shows, the mic button it points at is ringed too.
      items.push(
        h(notices.has("muted") ? "button.round.nudge" : "button.round", { type: "button", "aria-pressed": String(me.muted), "aria-label": label, title: label, disabled: me.mute_locked, onclick: () => call("self_mute", { muted: !me.muted }) }, icon(me.muted ? "micOff" : "mic")),
      );
    }
    controls.replaceChildren(h("div.room-bar-inner", {}, items));
  }

  function openSound() {
    dialogs.replaceChildren(soundDialog({ onStage: () => Boolean(state.me && state.me.role !== "listener"), audio }));
  }

  function showDialog(title, content) {
    const dialog = h("dialog", { "aria-label": title }, h("h2", {}, title), content, h("div.actions", {}, h("button", { type: "button", onclick: () => dialog.close() }, t("app.close"))));
    dialog.addEventListener("close", () => dialog.remove());
    dialogs.replaceChildren(dialog);
    dialog.showModal();
    return dialog;
  }

  function personMenu(p) {
    const actions = [...personActions(p, state.me, act, state.view.room.created_by), ...interpreterActions(p, state.view, state.me, call)];
    let dialog;
    // A listener tapping someone on stage may set their volume (for them alone: speaker_volumes.js).
    const hearsThem = state.me?.role === "listener" && p.role !== "listener" && p.user.id !== state.me.user.id;
    const menu = h(
      "div.menu",
      {},
      hearsThem ? speakerVolumeControl(p, { audio, openSound }) : null,
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
        item(t("lang.menu_item"), () => dialogs.replaceChildren(languagesDialog(session, call))),
        item(t("room.moderation_log"), () => dialogs.replaceChildren(moderationLogDialog(roomId))),
        item(t("room.end"), async () => {
          if (await confirmDialog({ title: t("room.end_confirm"), confirm: t("room.end") })) await call("end_room");
        }, "button.danger"),
      ),
    );
  }

  async function leave() {
    await session.leave();
    ctx.navigate("/");
  }

  session.addEventListener("change", draw);
  session.addEventListener("speakers", onSpeakers);
  session.languages.addEventListener("change", draw);
  draw();
  return () => {
    session.removeEventListener("change", draw);
    session.removeEventListener("speakers", onSpeakers);
    session.languages.removeEventListener("change", draw);
    session.detachNotices();
    notices.clear();
    barSize.disconnect();
    document.documentElement.style.removeProperty("--room-bar-h");
    tiersWatch.stop();
  };
}
