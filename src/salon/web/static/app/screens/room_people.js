// The room's people: the stage as a grid of faces (a ring lights while someone speaks; mute, moderator and
// interpreter marks),
// the audience below, the raised hands for moderators, and the menu a tap on a person opens (what you may do to
// them; the server decides in the end).

import { avatar, h } from "../dom.js";
import { icon } from "../icons.js";
import { t } from "../i18n.js";
import { handQueue } from "../room_state.js";

/** One person's tile; `interpreter`: their mark when they interpret a channel (room_languages.interpreterMark). */
export function personTile(p, { speaking, onOpen, interpreter = null }) {
  const u = p.user;
  let corner = null;
  if (p.role !== "listener" && p.muted) {
    const title = p.mute_locked ? t("room.muted_locked") : t("room.muted");
    corner = h("span.mark", { title }, icon(p.mute_locked ? "lock" : "micOff", { size: 13 }));
  } else if (p.hand_raised_at) {
    corner = h("span.mark", { title: t("room.hand_raised") }, icon("hand", { size: 13 }));
  }
  const state = [
    p.role === "moderator" ? t("room.moderator") : null,
    interpreter?.label,
    p.role !== "listener" && p.muted ? t("room.muted") : null,
    p.hand_raised_at ? t("room.hand_raised") : null,
    speaking ? t("room.speaking") : null,
  ].filter(Boolean);
  const firstName = (u.display_name || u.username).split(/\s+/)[0];
  return h(
    "li.person",
    { class: speaking ? "speaking" : "", dataset: { userId: u.id, role: p.role } },
    h(
      "button.person-button",
      { type: "button", "aria-label": [u.display_name, ...state].join(", "), onclick: () => onOpen(p) },
      h("span.face", {}, avatar(u, p.role === "listener" ? "m" : "l"), corner, interpreter?.corner),
      h(
        "span.name",
        { "aria-hidden": "true" },
        p.role === "moderator" ? h("span.mod-star", { title: t("room.moderator") }, icon("star", { size: 12, filled: true })) : null,
        firstName,
      ),
      interpreter?.badge,
    ),
  );
}

/** What moderators see: raised hands in order, each with "Invite up". */
export function handsSection(view, { onInviteUp }) {
  const queue = handQueue(view);
  if (!queue.length) return null;
  return h(
    "section.hands.card",
    { "aria-label": t("room.raised_hands") },
    h("h2", {}, t("room.raised_hands_count", { count: queue.length })),
    h(
      "ul.list",
      {},
      queue.map((p) =>
        h(
          "li",
          { dataset: { userId: p.user.id } },
          avatar(p.user, "s"),
          h("span.grow", {}, p.user.display_name),
          p.invited_up
            ? h("span.muted", {}, t("room.invited"))
            : h("button", { type: "button", onclick: () => onInviteUp(p), "aria-label": t("room.invite_up_name", { name: p.user.display_name }) }, t("room.invite_up")),
        ),
      ),
    ),
  );
}

/**
 * The actions on a person, as [label, handler, {danger}] — only those that make sense for the viewer's role and
 * the person's place; the server checks each again. The room's creator (`creatorId`) keeps their place: nobody else
 * moves them down, demotes or removes them.
 */
export function personActions(p, me, act, creatorId) {
  const actions = [];
  const iAmMod = me?.role === "moderator";
  const isMe = me && p.user.id === me.user.id;
  const isCreator = p.user.id === creatorId;
  if (iAmMod && !isMe) {
    if (p.role === "listener" && !p.invited_up) actions.push([t("room.invite_up"), () => act("invite_up", p)]);
    if (p.role !== "listener" && !p.muted) actions.push([t("room.mute"), () => act("mute", p)]);
    if (p.role !== "listener" && !p.mute_locked) actions.push([t("room.mute_lock"), () => act("mute_lock", p)]);
    if (p.mute_locked) actions.push([t("room.unlock_mute"), () => act("unlock_mute", p)]);
    if (p.role !== "listener" && !isCreator) actions.push([t("room.move_to_audience"), () => act("move_to_audience", p)]);
    if (p.role === "speaker") actions.push([t("room.make_moderator"), () => act("make_moderator", p)]);
    if (p.role === "moderator" && !isCreator) actions.push([t("room.unmake_moderator"), () => act("unmake_moderator", p)]);
    if (!isCreator) actions.push([t("room.remove"), () => act("remove", p), { danger: true }]);
  }
  if (isMe && p.role === "moderator") actions.push([t("room.step_down"), () => act("move_to_audience", p)]);
  return actions;
}
