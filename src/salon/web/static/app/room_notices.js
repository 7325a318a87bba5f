// What happens to you in a room, said where you see it: a moderator muted you, moved you, made you a moderator;
// you arrived on stage muted; your hand is up; an invitation to speak lapsed; someone declined yours. Two parts:
// `noticesFor` (which notices one change of the room's view calls for: pure, from the view before and after and
// the event that made it — events name who did it in `data.by`) and `NoticeStack`, the small component the room
// screen shows them in: a stack just above the room's controls (never over them; the screen's bottom padding
// grows with it so nothing one reads is covered), each notice with a close button, `role="status"`, replaced by
// a newer notice of the same kind, and gone after a few seconds unless it is important. Leaving or ending a room
// is said by the room screen itself (it replaces the room).

import { h } from "./dom.js";
import { icon } from "./icons.js";
import { addStrings, t } from "./i18n.js";
import strings from "./room_notices.strings.js";

addStrings(strings);

export const AUTO_HIDE_MS = 8000;
const MAX_SHOWN = 3;

/** The display name of a member, from the view after the change or the one before (a moderator who just left). */
export function nameIn(userId, ...views) {
  for (const view of views) {
    const p = view && [...view.stage, ...view.audience].find((x) => x.user.id === userId);
    if (p) return p.user.display_name || p.user.username;
  }
  return null;
}

/** "the moderator who did it", by name when the event says who and we know them. */
function actor(event, views) {
  const by = event?.data?.by;
  return (by && nameIn(by, ...views)) || null;
}

// Acts as the mic button does ("Talk", so it is not a second control named like the mic button itself).
const unmute = () => ({ label: t("notice.talk"), icon: "mic", op: "self_mute", data: { muted: false } });

function mutedPrompt(me) {
  if (me.mute_locked) return { id: "mute", text: t("notice.muted_locked"), important: true };
  return { id: "muted", text: t("notice.you_are_muted"), important: true, action: unmute() };
}

/**
 * The notices one change of the room calls for, and those it makes stale.
 * before/after: my card before and after (null: not in the room); event: the frame that made the change (null for
 * a snapshot); views: [after, before]. Returns {show: [{id, text, important, action?}], hide: [id]}.
 */
export function noticesFor(before, after, event, views) {
  const show = [];
  const hide = [];
  if (!after || after.role === "listener" || !after.muted) hide.push("muted");
  if (!after || !after.hand_raised_at) hide.push("hand");
  if (after?.invited_up) hide.push("invite"); // a new invitation: "the last one expired" is stale
  if (!after) return { show, hide };
  const onStage = (p) => p && p.role !== "listener";
  if (!event) {
    // Arriving (the first snapshot): on stage means muted — the creator and anyone invited up before joining.
    if (!before && onStage(after) && after.muted) show.push(mutedPrompt(after));
    return { show, hide };
  }
  const who = actor(event, views);
  const subject = event.data?.participant?.user;
  const mine = subject?.id === after.user.id;
  const iModerate = after.role === "moderator";
  const someone = subject ? subject.display_name || subject.username : "";
  switch (event.name) {
    case "mute_changed":
      if (!mine || !before || !event.data.by) break;
      if (after.mute_locked && !before.mute_locked) {
        show.push({ id: "mute", text: who ? t("notice.muted_locked_by", { name: who }) : t("notice.muted_locked"), important: true });
      } else if (after.muted && !before.muted) {
        show.push({ id: "mute", text: who ? t("notice.muted_by", { name: who }) : t("notice.muted"), action: unmute() });
      } else if (before.mute_locked && !after.mute_locked) {
        hide.push("mute");
        show.push({ id: "mute", text: who ? t("notice.unlocked_by", { name: who }) : t("notice.unlocked"), action: unmute() });
      }
      break;
    case "role_changed":
      if (!mine || !before) break;
      if (!onStage(before) && onStage(after)) {
        show.push(mutedPrompt(after));
      } else if (onStage(before) && !onStage(after)) {
        hide.push("mute");
        if (event.data.by) show.push({ id: "role", text: who ? t("notice.moved_down_by", { name: who }) : t("notice.moved_down") });
      } else if (before.role === "speaker" && after.role === "moderator") {
        show.push({ id: "role", text: who ? t("notice.made_moderator_by", { name: who }) : t("notice.made_moderator") });
      } else if (before.role === "moderator" && after.role === "speaker" && event.data.by) {
        show.push({ id: "role", text: who ? t("notice.unmade_moderator_by", { name: who }) : t("notice.unmade_moderator") });
      }
      break;
    case "hand_raised":
      if (mine) show.push({ id: "hand", text: t("notice.hand_raised"), action: { label: t("notice.lower_hand"), icon: "hand", op: "lower_hand", data: {} } });
      break;
    case "stage_invite_expired":
      if (mine) show.push({ id: "invite", text: t("notice.invite_expired") });
      else if (iModerate) show.push({ id: `invite-${subject.id}`, text: t("notice.invite_expired_for", { name: someone }) });
      break;
    case "stage_invite_declined":
      if (!mine && iModerate) show.push({ id: `invite-${subject.id}`, text: t("notice.declined", { name: someone }) });
      break;
    default:
      break;
  }
  return { show, hide };
}

/** How a room session says a room is over for this person, naming who ended it or removed them when known. */
export function endedMessage(event, views, removed) {
  const who = actor(event, views);
  if (removed) return who ? t("notice.removed_by", { name: who }) : t("notice.removed");
  return who ? t("notice.ended_by", { name: who }) : t("notice.ended");
}

export class NoticeStack extends EventTarget {
  /** run(action): what an action button does (a room op). */
  constructor(run) {
    super();
    this.run = run;
    this.el = h("div.room-notices");
    this.shown = new Map(); // id → {node, timer, important}
  }

  has(id) {
    return this.shown.has(id);
  }

  show({ id, text, important = false, action = null }) {
    const node = h(
      `div.notice${important ? ".notice-important" : ""}`,
      { role: "status", dataset: { notice: id } },
      h("p.notice-text", {}, text),
      action
        ? h(
            "button.notice-action",
            {
              type: "button",
              onclick: () => {
                this.dismiss(id);
                this.run(action);
              },
            },
            action.icon ? icon(action.icon, { size: 18 }) : null,
            action.label,
          )
        : null,
      h("button.notice-close", { type: "button", "aria-label": t("notice.dismiss"), title: t("notice.dismiss"), onclick: () => this.dismiss(id) }, icon("close", { size: 18 })),
    );
    const old = this.shown.get(id);
    if (old) {
      clearTimeout(old.timer);
      old.node.replaceWith(node);
    } else {
      this.el.append(node);
    }
    const timer = important ? null : setTimeout(() => this.dismiss(id), AUTO_HIDE_MS);
    this.shown.set(id, { node, timer, important });
    while (this.shown.size > MAX_SHOWN) {
      // The oldest passing notice gives way first; important ones only to more important news.
      const entries = [...this.shown];
      const [oldest] = entries.find(([, n]) => !n.important) || entries[0];
      this.dismiss(oldest);
    }
    this.dispatchEvent(new Event("change"));
  }

  dismiss(id) {
    const entry = this.shown.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.node.remove();
    this.shown.delete(id);
    this.dispatchEvent(new Event("change"));
  }

  clear() {
    for (const id of [...this.shown.keys()]) this.dismiss(id);
  }
}
