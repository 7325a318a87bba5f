// The room a person is in, apart from any screen: joining, the room's view from the live connection, the sound
// (listening, or the microphone on stage), and leaving. It lives while the person browses elsewhere in the app —
// the hallway, a profile — so the room keeps playing and a moderator who looks something up does not leave their
// stage; the app bar then shows where they are. Entering another room leaves this one first.

import { get, post } from "./api.js";
import { MicError, RoomAudio } from "./audio.js";
import { t } from "./i18n.js";
import { RoomLanguages } from "./interpretation_audio.js";
import { live } from "./live.js";
import { endedMessage, nameIn, noticesFor } from "./room_notices.js";
import { findMe } from "./room_state.js";
import { speakerMixRefusal } from "./speaker_volumes.js";

const FOLLOW_CHANGES = new Set(["participant_joined", "participant_left", "role_changed"]);

let current = null;
const sessions = new EventTarget(); // "current": the room session changed (or ended)

export const currentRoom = () => current;

export function onCurrentRoomChange(fn) {
  sessions.addEventListener("current", fn);
  return () => sessions.removeEventListener("current", fn);
}

/** The session of this room, joining it first (and leaving another room) when needed. Throws the server's refusal. */
export async function enterRoom(roomId, ui) {
  if (current && current.roomId === roomId && !current.state.gone) return current;
  if (current) await current.leave();
  const session = new RoomSession(roomId, ui);
  await session.join();
  current = session;
  sessions.dispatchEvent(new Event("current"));
  return session;
}

/** Leave whatever room the person is in (logging out, say). */
export async function leaveCurrentRoom() {
  if (current) await current.leave();
}

class RoomSession extends EventTarget {
  /** ui: {announce(text), toast(text, kind), errorMessage(error)} from the app shell. */
  constructor(roomId, ui) {
    super();
    this.roomId = roomId;
    this.ui = ui;
    this.audio = new RoomAudio(roomId, document.getElementById("room-audio"));
    this.state = {
      view: null,
      me: null,
      speaking: new Set(),
      followed: [], // listeners someone on stage follows: the audience's first row
      mediaFor: null,
      gone: false,
      endedWith: null, // why the room is over for this person
      micProblem: null,
      blocked: false,
      invitedBy: null, // who invited me up (their name), while the invitation stands
    };
    this.lastAnnounced = 0;
    this.followedTimer = null;
    this.noticeSink = null; // the room screen's notice stack, while it shows this room
    this.pendingNotices = []; // notices that came before the screen attached (the arrival's)
    this.handlers = {
      room: (e) => this.onRoom(e),
      signal: (e) => this.onSignal(e),
      removed: (e) => e.detail.room_id === roomId && this.end(t("room.removed")),
      online: () => !this.state.gone && this.state.view && this.syncMedia(true), // renegotiate after a loss
      "room-error": (e) => e.detail.room_id === roomId && this.end(this.ui.errorMessage(e.detail.error)),
    };
    this.languages = new RoomLanguages(this); // interpretation channels: the picker, a speaker's channel, a booth
    this.audio.addEventListener("blocked", () => this.set({ blocked: true }));
    this.audio.addEventListener("playing", () => this.state.blocked && this.set({ blocked: false }));
    // Volume per speaker refused (no room for more, or not in a room with channels or a broadcast audience): said
    // out loud, not only in the Sound dialog (one mix instead).
    this.audio.addEventListener("speaker-mix", (e) => {
      const refusal = speakerMixRefusal(e.detail.state);
      if (refusal) this.ui.toast(refusal, "error");
    });
  }

  get title() {
    return this.state.view?.room.title || "";
  }

  set(changes) {
    Object.assign(this.state, changes);
    this.dispatchEvent(new Event("change"));
  }

  async join() {
    await post(`/rooms/${encodeURIComponent(this.roomId)}/join`);
    for (const [name, fn] of Object.entries(this.handlers)) live.addEventListener(name, fn);
    await live.follow(this.roomId);
  }

  /** A room op; a refusal is shown as a toast and answers null. */
  async call(op, data = {}) {
    try {
      return await live.call(op, { room_id: this.roomId, ...data });
    } catch (error) {
      this.ui.toast(this.ui.errorMessage(error), "error");
      return null;
    }
  }

  async leave() {
    if (this.state.gone) return;
    this.finish(null);
    await this.audio.stop();
    await post(`/rooms/${encodeURIComponent(this.roomId)}/leave`).catch(() => {});
  }

  /** The room is over for this person (ended, removed, refused): stop everything, say why. */
  end(message) {
    if (this.state.gone) return;
    const onScreen = this.onScreen();
    this.finish(message);
    this.audio.stop(false);
    if (!onScreen) this.ui.toast(message); // the room screen says it itself
  }

  finish(message) {
    clearTimeout(this.followedTimer);
    for (const [name, fn] of Object.entries(this.handlers)) live.removeEventListener(name, fn);
    live.unfollow(this.roomId);
    this.languages.stop();
    this.set({ gone: true, endedWith: message });
    if (current === this) {
      current = null;
      sessions.dispatchEvent(new Event("current"));
    }
  }

  // --- the view ----------------------------------------------------------------------------------------------

  onRoom(event) {
    if (event.detail.room_id !== this.roomId) return;
    const { view, event: frame } = event.detail;
    const before = this.state.me;
    const views = [view, this.state.view];
    const me = findMe(view, live.userId);
    if (view.room.ended_at) {
      this.state.view = view;
      this.end(endedMessage(frame?.name === "room_ended" ? frame : null, views, false));
      return;
    }
    if (frame?.name === "participant_left" && frame.data.user_id === live.userId && frame.data.reason === "removed") {
      this.end(endedMessage(frame, views, true)); // before the "removed" frame that follows, to say who did it
      return;
    }
    if (before && me) this.announceChange(before, me);
    if (!frame || FOLLOW_CHANGES.has(frame.name)) this.refreshFollowed();
    let invitedBy = me?.invited_up ? this.state.invitedBy : null;
    if (frame?.name === "stage_invited" && frame.data.participant.user.id === live.userId) invitedBy = nameIn(frame.data.by, ...views);
    this.set({ view, me, invitedBy });
    this.notify(noticesFor(before, me, frame, views));
    this.syncMedia();
  }

  /** Hand notices to the room screen; kept until it attaches when it is opening, toasts when it is not shown. */
  notify(notices) {
    if (!notices.show.length && !notices.hide.length) return;
    if (this.noticeSink) this.noticeSink(notices);
    else if (this.onScreen()) this.pendingNotices.push(notices);
    else for (const notice of notices.show) this.ui.toast(notice.text);
  }

  attachNotices(sink) {
    this.noticeSink = sink;
    for (const notices of this.pendingNotices.splice(0)) sink(notices);
  }

  detachNotices() {
    this.noticeSink = null;
  }

  onScreen() {
    return document.querySelector(`.room[data-room-id="${CSS.escape(this.roomId)}"]`) !== null;
  }

  announceChange(before, after) {
    const say = (key) => this.ui.announce(t(key));
    if (before.role === "listener" && after.role !== "listener") say("room.you_are_on_stage");
    if (before.role !== "listener" && after.role === "listener") say("room.you_are_in_audience");
    if (!before.invited_up && after.invited_up) say("room.you_are_invited");
    if (!before.muted && after.muted && after.role !== "listener") say("room.you_were_muted");
  }

  /** Who the speakers follow changes only when people come, go, or move between stage and audience. */
  refreshFollowed() {
    clearTimeout(this.followedTimer);
    this.followedTimer = setTimeout(async () => {
      try {
        const { user_ids } = await get(`/rooms/${encodeURIComponent(this.roomId)}/followed-by-speakers`);
        if (!this.state.gone) this.set({ followed: user_ids });
      } catch {
        /* the plain order is fine */
      }
    }, 400);
  }

  onSignal(event) {
    const frame = event.detail;
    if (frame.room_id !== this.roomId) return;
    if (frame.name === "speakers") {
      const now = new Set(frame.data.user_ids);
      const started = [...now].filter((id) => !this.state.speaking.has(id));
      this.state.speaking = now;
      this.dispatchEvent(new Event("speakers"));
      if (started.length && Date.now() - this.lastAnnounced > 3000) {
        const names = started.map((id) => this.state.view?.stage.find((p) => p.user.id === id)?.user.display_name);
        if (names.some(Boolean)) {
          this.lastAnnounced = Date.now();
          this.ui.announce(t("room.now_speaking", { names: names.filter(Boolean).join(", ") }));
        }
      }
    } else if (frame.name === "speaker_tracks") {
      this.audio.setSpeakerTracks(frame.data.tracks);
    } else if (frame.name === "speaker_mix_ended") {
      this.audio.speakerMixEnded();
    } else if (frame.name === "media_reset") {
      this.syncMedia(true);
    }
  }

  // --- sound follows the person's place ------------------------------------------------------------------------

  async syncMedia(force = false) {
    const { state, audio } = this;
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
        this.set({ micProblem: null });
      } else if (want === "listen") {
        if (state.micProblem) this.set({ micProblem: null }); // back in the audience: no microphone to fix
        await audio.listen();
      } else {
        await audio.stop();
      }
    } catch (error) {
      if (error instanceof MicError) {
        state.mediaFor = "listen"; // on stage without a microphone: still hear the room
        this.set({ micProblem: error.kind });
        await audio.listen().catch(() => {});
      } else if (!state.gone) {
        state.mediaFor = null;
        this.ui.toast(this.ui.errorMessage(error), "error");
      }
    }
  }
}
