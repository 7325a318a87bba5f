// Volume per speaker, for a listener on WebRTC. Normally the stage reaches a listener as ONE mix (Janus mixes it and
// encodes it once), so one speaker cannot be made louder or quieter. With "Volume per speaker" on (remembered on this
// device), the listener asks for the per-speaker mix instead (media_speaker_mix): one track per stage speaker (mids
// t0, t1, ... as the server has them), and one shared by the speakers beyond those ("others"). Each track goes through a Web Audio GainNode set from
// the volume remembered for that person, and the sum plays through the page's one <audio> element, so the room's
// volume still applies on top. The server says which track carries whom (the reply's `tracks`, then
// `speaker_tracks` signals as people come and go); a track that changes hands takes its new speaker's volume.

import { addStrings, t } from "./i18n.js";
import strings from "./speaker_volumes.strings.js";

addStrings(strings);

const MIX_KEY = "salon.speakerMix";
const VOLUME_KEY = "salon.speakerVolume."; // + a user id
const SHARED_KEY = "salon.speakerVolumeShared"; // the "others" track's, whoever is on it
const RESUME_WAIT_MS = 250; // AudioContext.resume() never settles while the browser refuses it
const RAMP_S = 0.015; // a short ramp: no click when a volume changes, and heard at once

export const SHARED_TRACK = "others";
export const MAX_VOLUME = 1.5; // 150 %: a quiet speaker can be lifted a little

/** "mix" when the switch changes, "volume" when a volume does. */
export const speakerVolumes = new EventTarget();

/** What a listener is told when the server has no room for their per-speaker mix. */
export function speakerMixFullMessage() {
  return t("speaker_mix.full");
}

/** What a listener is told in a room whose interpretation channels or broadcast audience rule the mix out (the
 * server's `speaker_mix_unavailable`, on asking or when a channel or the audience comes after). */
export function speakerMixUnavailableMessage() {
  return t("speaker_mix.unavailable");
}

/** The message for a refused per-speaker mix's state ("full" | "unavailable"), or null for any other state. */
export function speakerMixRefusal(state) {
  if (state === "full") return speakerMixFullMessage();
  if (state === "unavailable") return speakerMixUnavailableMessage();
  return null;
}

/** Whether this device asks for the per-speaker mix when listening. */
export function speakerMixOn() {
  return localStorage.getItem(MIX_KEY) === "1";
}

export function setSpeakerMixOn(on) {
  localStorage.setItem(MIX_KEY, on ? "1" : "0");
  speakerVolumes.dispatchEvent(new Event("mix"));
}

function clamp(value) {
  return Math.min(MAX_VOLUME, Math.max(0, value));
}

function stored(key) {
  const value = Number.parseFloat(localStorage.getItem(key) ?? "");
  return Number.isFinite(value) ? clamp(value) : 1;
}

/** The volume set for a speaker on this device (0–1.5; 0 silences them for this listener only), or for the shared
 * track when `shared`. */
export function speakerVolume(userId, shared = false) {
  return stored(shared ? SHARED_KEY : VOLUME_KEY + userId);
}

export function setSpeakerVolume(userId, value, shared = false) {
  localStorage.setItem(shared ? SHARED_KEY : VOLUME_KEY + userId, String(clamp(value)));
  speakerVolumes.dispatchEvent(new Event("volume"));
}

/** The per-speaker mix of one connection, played through `player`. */
export class SpeakerMixer {
  constructor(player) {
    this.player = player;
    this.context = new AudioContext({ latencyHint: "interactive" });
    this.destination = this.context.createMediaStreamDestination();
    this.tracks = {}; // user id → mid
    this.gains = new Map(); // mid → GainNode
    this.keep = [];
    this.onVolume = () => this.apply();
    speakerVolumes.addEventListener("volume", this.onVolume);
  }

  /** A track of the connection arrived (its transceiver's mid says which). */
  add(mid, track) {
    if (!mid || this.gains.has(mid)) return;
    const stream = new MediaStream([track]);
    // Chromium gives Web Audio only silence from a remote WebRTC track unless a media element plays it too.
    const element = new Audio();
    element.muted = true;
    element.srcObject = stream;
    element.play().catch(() => {});
    const gain = this.context.createGain();
    gain.gain.value = this.volumeOf(mid);
    this.context.createMediaStreamSource(stream).connect(gain);
    gain.connect(this.destination);
    this.gains.set(mid, gain);
    this.keep.push(element);
    if (this.player.srcObject !== this.destination.stream) this.player.srcObject = this.destination.stream;
  }

  /** Which track carries each speaker now (user id → mid). */
  setTracks(tracks) {
    this.tracks = { ...tracks };
    this.apply();
  }

  trackOf(userId) {
    return this.tracks[userId] ?? null;
  }

  /** How many speakers share the "others" track now. */
  sharing() {
    return Object.values(this.tracks).filter((mid) => mid === SHARED_TRACK).length;
  }

  volumeOf(mid) {
    if (mid === SHARED_TRACK) return speakerVolume(null, true);
    const user = Object.keys(this.tracks).find((id) => this.tracks[id] === mid);
    return user ? speakerVolume(user) : 1;
  }

  apply() {
    if (this.context.state === "closed") return;
    for (const [mid, gain] of this.gains) gain.gain.setTargetAtTime(this.volumeOf(mid), this.context.currentTime, RAMP_S);
  }

  /** Start the sound; true when it plays (browsers allow it after the person interacted with the page). */
  async resume() {
    const resumed = this.context.resume().catch(() => {});
    if (this.player.srcObject !== this.destination.stream) this.player.srcObject = this.destination.stream;
    let played = true;
    try {
      await this.player.play();
    } catch {
      played = false;
    }
    await Promise.race([resumed, new Promise((resolve) => setTimeout(resolve, RESUME_WAIT_MS))]);
    return played && this.context.state === "running";
  }

  stop() {
    speakerVolumes.removeEventListener("volume", this.onVolume);
    for (const element of this.keep) element.srcObject = null;
    this.keep = [];
    if (this.player.srcObject === this.destination.stream) this.player.srcObject = null;
    this.context.close().catch(() => {});
  }
}
