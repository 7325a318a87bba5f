// A room's sound in the browser. Listeners hear the room's mix on the broadcast tier when this browser can decode
// Opus itself (media_stream: a ticket for one HTTP stream, played by stream_player.js), else through WebRTC
// (media_listen: the server sends an offer); people on stage publish their microphone and hear the others minus
// themselves (media_speak: we send the offer). A listener who turned on "Volume per speaker" hears the per-speaker
// mix through WebRTC instead (media_speaker_mix, speaker_volumes.js), back to the one mix when it is turned off or
// the room has no room for more of them. All signalling goes through Salon's WebSocket: the browser never
// talks to the media server's API. The microphone is asked for only when going on stage. After a network loss or a
// media server restart the app calls `renew()`.

import { get } from "./api.js";
import { live } from "./live.js";
import { SpeakerMixer, speakerMixOn, speakerVolumes } from "./speaker_volumes.js";
import { StreamPlayer } from "./stream_player.js";

/* The STUN and TURN servers for our peer connections (GET /media/ice-servers): TURN credentials are per member and
 * time-limited, so they are fetched again a minute before they expire; none (direct ICE only) if the call fails. */
let ice = { servers: [], validUntil: 0 };
export async function iceServers() {
  const now = Date.now() / 1000;
  if (now < ice.validUntil) return ice.servers;
  try {
    const { ice_servers: servers, expires_at: expiresAt } = await get("/media/ice-servers");
    ice = { servers, validUntil: expiresAt ? expiresAt - 60 : now + 600 };
  } catch {
    ice = { servers: [], validUntil: now + 30 };
  }
  return ice.servers;
}

// A broadcast stream that broke is opened again with a fresh ticket, after a growing pause; past this many tries in
// a row the listener falls back to WebRTC.
const STREAM_RETRIES = 4;
const STREAM_RETRY_MS = [250, 1000, 2000, 4000];
// Notices after which a new stream would only be refused or is not wanted: the room session follows the room's
// events (removed, ended, on stage) and decides what to open next.
const FINAL_NOTICES = new Set(["removed", "room_ended", "on_stage", "replaced"]);
// The server's refusals of the per-speaker mix that the person is told about (anything else: "failed").
const REFUSALS = { speaker_mix_full: "full", speaker_mix_unavailable: "unavailable" };

const MUSIC_MODE_KEY = "salon.musicMode";
const VOLUME_KEY = "salon.volume";

/** Music mode: no echo cancellation, noise suppression or gain control (for instruments; needs headphones). Voice
 * processing shapes a voice well, but it treats a steady sound as noise (a test tone lost ~19 dB to it). */
export function musicMode() {
  return localStorage.getItem(MUSIC_MODE_KEY) === "1";
}

/** Remember the choice; a microphone that is open now is opened again with it (RoomAudio.applyProcessing). */
export function setMusicMode(on) {
  localStorage.setItem(MUSIC_MODE_KEY, on ? "1" : "0");
  rooms.dispatchEvent(new Event("processing"));
}

/** The room's volume, 0–1, on this device (the whole room: one mix reaches the browser, see ARCHITECTURE.md). */
export function roomVolume() {
  const stored = Number.parseFloat(localStorage.getItem(VOLUME_KEY) ?? "");
  return Number.isFinite(stored) ? Math.min(1, Math.max(0, stored)) : 1;
}

export function setRoomVolume(value) {
  const volume = Math.min(1, Math.max(0, value));
  localStorage.setItem(VOLUME_KEY, String(volume));
  const player = document.getElementById("room-audio");
  if (player) player.volume = volume; // both tiers play through this one element (stream_player.js too)
}

// The open rooms' audio hears a change of music mode through this.
const rooms = new EventTarget();

export class MicError extends Error {
  /** kind: "denied" | "missing" | "busy" | "unsupported" */
  constructor(kind, cause) {
    super(kind);
    this.kind = kind;
    this.cause = cause;
  }
}

export async function openMicrophone() {
  if (!navigator.mediaDevices?.getUserMedia) throw new MicError("unsupported");
  const processing = !musicMode();
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: processing, noiseSuppression: processing, autoGainControl: processing },
      video: false,
    });
  } catch (error) {
    const kind =
      error.name === "NotAllowedError" || error.name === "SecurityError"
        ? "denied"
        : error.name === "NotFoundError" || error.name === "OverconstrainedError"
          ? "missing"
          : error.name === "NotReadableError"
            ? "busy"
            : "unsupported";
    throw new MicError(kind, error);
  }
}

export class RoomAudio extends EventTarget {
  /** `player`: the <audio> element that plays what we receive. */
  constructor(roomId, player) {
    super();
    this.roomId = roomId;
    this.player = player;
    this.pc = null;
    this.kind = null; // "listen" | "speak" | null
    this.mic = null;
    this.muted = true;
    this.generation = 0;
    this.stream = null; // the StreamPlayer while listening on the broadcast tier
    this.tier = null; // "broadcast" | "webrtc" while listening
    this.streamFailures = 0;
    // Interpretation (interpretation_audio.js sets these): the channel heard (null: the Original), and whether this
    // member must hear the room over WebRTC (an interpreter: the lowest latency Salon has).
    this.language = null;
    this.webrtcOnly = false;
    this.mixer = null; // the SpeakerMixer while hearing the per-speaker mix
    // "on" | "full" (the server had no room for it: one mix instead) | "unavailable" (not in a room with channels or
    // a broadcast audience: one mix) | "failed" (refused otherwise: one mix) | null
    this.speakerMix = null;
    this.player.volume = roomVolume();
    this.onProcessing = () => this.applyProcessing().catch(() => {});
    rooms.addEventListener("processing", this.onProcessing);
    // The switch changed: a listener connects again the chosen way (the per-speaker mix, or back to the one mix).
    this.onSpeakerMix = () => this.kind === "listen" && this.listen().catch(() => {});
    speakerVolumes.addEventListener("mix", this.onSpeakerMix);
  }

  /** Music mode changed: a microphone on air is opened again with the new processing and swapped into the same
   * connection (replaceTrack: no renegotiation, the server sees nothing). Chromium does not change processing on a
   * live track through applyConstraints, so a new track is the way that works everywhere. */
  async applyProcessing() {
    if (this.kind !== "speak" || !this.mic || !this.pc) return;
    const sender = this.pc.getSenders().find((s) => s.track?.kind === "audio");
    if (!sender) return;
    const fresh = await openMicrophone();
    if (this.kind !== "speak" || !this.pc || !this.pc.getSenders().includes(sender)) {
      for (const track of fresh.getTracks()) track.stop();
      return;
    }
    const old = this.mic;
    this.mic = fresh;
    this.applyMute();
    await sender.replaceTrack(fresh.getAudioTracks()[0]);
    for (const track of old.getTracks()) track.stop();
  }

  /** Hear the room's mix: on the broadcast tier when this browser and the server can, else through WebRTC. */
  async listen() {
    const gen = await this.reset("listen");
    // The per-speaker mix carries the Original: a language channel comes first.
    if (speakerMixOn() && !this.language) {
      if (await this.listenSpeakerMix(gen)) return;
      if (gen !== this.generation) return;
    }
    if (!this.webrtcOnly && StreamPlayer.supported() && this.streamFailures < STREAM_RETRIES) {
      if (await this.listenBroadcast(gen)) return;
      if (gen !== this.generation) return;
    }
    await this.listenWebRTC(gen);
  }

  /** A ticket for the stream of what this listener hears: the Original, or the channel picked. */
  streamGrant() {
    return this.language
      ? live.call("media_channel_stream", { room_id: this.roomId, language: this.language })
      : live.call("media_stream", { room_id: this.roomId });
  }

  /** The broadcast tier: a ticket from the server, one stream from a broadcast node. False when this server or
   * node cannot take us (no broadcast tier, full, refused): the caller falls back to WebRTC. */
  async listenBroadcast(gen) {
    let grant;
    try {
      grant = await this.streamGrant();
    } catch (error) {
      if (error?.code === "media_unavailable" && error?.data?.tier === "broadcast") this.streamFailures = STREAM_RETRIES;
      return false;
    }
    if (gen !== this.generation) return true;
    const stream = new StreamPlayer(this.player);
    this.stream = stream;
    this.tier = "broadcast";
    const mine = () => stream === this.stream && gen === this.generation;
    stream.addEventListener("playing", () => mine() && this.dispatchEvent(new CustomEvent("playing")));
    stream.addEventListener("blocked", () => mine() && this.dispatchEvent(new CustomEvent("blocked")));
    stream.addEventListener("hello", () => {
      if (mine()) this.streamFailures = 0;
    });
    stream.addEventListener("stalled", () => mine() && this.retryStream(gen));
    stream.addEventListener("notice", (event) => {
      if (mine() && !FINAL_NOTICES.has(event.detail?.code)) this.retryStream(gen);
    });
    let started = false;
    try {
      started = await stream.start(grant.url);
    } catch {
      started = false; // the page cannot play it (the worklet refused): WebRTC will
      this.streamFailures = STREAM_RETRIES;
    }
    if (!started && mine()) {
      stream.stop();
      this.stream = null;
      this.tier = null;
      this.streamFailures += 1;
      return false;
    }
    return true;
  }

  /** The stream broke or the node dropped us (too slow, shutting down): a fresh ticket after a pause. */
  retryStream(gen) {
    this.streamFailures += 1;
    const wait = STREAM_RETRY_MS[Math.min(this.streamFailures, STREAM_RETRY_MS.length) - 1];
    setTimeout(() => {
      if (gen === this.generation && this.kind === "listen") this.listen().catch(() => {});
    }, wait);
  }

  async listenWebRTC(gen) {
    this.tier = "webrtc";
    const servers = await iceServers();
    if (gen !== this.generation) return;
    const { pc, sent } = this.peer("listen", servers);
    const { jsep } = this.language
      ? await live.call("media_channel_listen", { room_id: this.roomId, language: this.language })
      : await live.call("media_listen", { room_id: this.roomId });
    if (gen !== this.generation) return;
    await pc.setRemoteDescription(jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    const answered = live.call("media_answer", { room_id: this.roomId, jsep: { type: "answer", sdp: pc.localDescription.sdp } });
    sent();
    await answered;
  }

  /** The language picker: on the broadcast tier the channel's stream (or the Original's) replaces the one playing,
   * make-before-break; a WebRTC listen connection is moved to it by the server, without renegotiating; any other
   * way of listening is opened again. */
  async pickLanguage(language) {
    this.language = language;
    if (this.kind !== "listen") return;
    // The per-speaker mix is a connection of its own (a track per speaker, the Original only): leaving it for a
    // channel, or coming back to it, is a new connection rather than a switch.
    const remix = speakerMixOn() && (this.mixer !== null || language === null);
    if (!remix && this.tier === "broadcast" && this.stream) {
      if (await this.switchStream(language)) return;
    } else if (!remix && this.tier === "webrtc" && this.pc?.connectionState === "connected") {
      try {
        await live.call("media_pick_language", { room_id: this.roomId, language });
        return;
      } catch {
        /* no answered connection to move: a new one */
      }
    }
    await this.listen();
  }

  /** On the broadcast tier a channel is a stream of its own: a new ticket, and the new stream opened while the old
   * one plays (StreamPlayer.switchTo). False when it could not be had, for the caller to listen again from scratch
   * (with the retries and the WebRTC fallback of any stream); true too when a newer pick or reset took over. */
  async switchStream(language) {
    const { generation, stream } = this;
    const current = () => generation === this.generation && stream === this.stream && language === this.language;
    let grant;
    try {
      grant = await this.streamGrant();
    } catch {
      return !current();
    }
    if (!current()) return true;
    return (await stream.switchTo(grant.url)) || !current();
  }

  /** The per-speaker mix (WebRTC only: the broadcast tier carries the one mix). False when the server refused it
   * (full: `speakerMix` says so), for the caller to fall back to the one mix. */
  async listenSpeakerMix(gen) {
    this.tier = "webrtc";
    const servers = await iceServers();
    if (gen !== this.generation) return true;
    const { pc, sent } = this.peer("listen", servers);
    const mixer = new SpeakerMixer(this.player);
    this.mixer = mixer;
    pc.ontrack = (event) => {
      if (mixer !== this.mixer) return;
      mixer.add(event.transceiver?.mid, event.track);
      this.play();
    };
    let reply;
    try {
      reply = await live.call("media_speaker_mix", { room_id: this.roomId });
    } catch (error) {
      if (gen !== this.generation) return true;
      pc.close();
      this.pc = null;
      mixer.stop();
      this.mixer = null;
      this.setSpeakerMix(REFUSALS[error?.code] || "failed");
      return false;
    }
    if (gen !== this.generation) return true;
    mixer.setTracks(reply.tracks);
    this.setSpeakerMix("on");
    await pc.setRemoteDescription(reply.jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    const answered = live.call("media_answer", { room_id: this.roomId, jsep: { type: "answer", sdp: pc.localDescription.sdp } });
    sent();
    await answered;
    return true;
  }

  setSpeakerMix(state) {
    this.speakerMix = state;
    this.dispatchEvent(new CustomEvent("speaker-mix", { detail: { state } }));
  }

  /** The server took the room's per-speaker mix down (the room's `speaker_mix_ended` signal: a channel or a
   * broadcast audience came, and our connection to the mix was cut): listen again, which asks for the mix, is told
   * `speaker_mix_unavailable` and goes on with the one mix. Nothing to do for anyone not on the mix. */
  speakerMixEnded() {
    if (this.kind === "listen" && this.mixer) this.listen().catch(() => {});
  }

  /** Which track carries each speaker now (the room's `speaker_tracks` signal). */
  setSpeakerTracks(tracks) {
    if (this.mixer) this.mixer.setTracks(tracks);
    this.dispatchEvent(new CustomEvent("speaker-tracks"));
  }

  /** Go on air: open the microphone (asking for it now, not before), publish it, hear the others. */
  async speak() {
    const mic = this.mic && this.mic.getAudioTracks()[0]?.readyState === "live" ? this.mic : await openMicrophone();
    this.mic = mic;
    this.applyMute();
    const servers = await iceServers();
    const gen = await this.reset("speak");
    const { pc, sent } = this.peer("speak", servers);
    for (const track of mic.getAudioTracks()) pc.addTransceiver(track, { direction: "sendrecv", streams: [mic] });
    await pc.setLocalDescription(await pc.createOffer());
    const answered = live.call("media_speak", {
      room_id: this.roomId,
      jsep: { type: "offer", sdp: pc.localDescription.sdp },
    });
    sent();
    const { jsep } = await answered;
    if (gen !== this.generation) return;
    await pc.setRemoteDescription(jsep);
  }

  /** Our own mute, applied to the microphone track too (the server mutes us in the mix as well). */
  setMuted(muted) {
    this.muted = muted;
    this.applyMute();
  }

  applyMute() {
    for (const track of this.mic?.getAudioTracks() || []) track.enabled = !this.muted;
  }

  /** Connect again the same way (after a reconnect or a media server restart). */
  async renew() {
    if (this.kind === "speak") await this.speak();
    else if (this.kind === "listen") await this.listen();
  }

  /** Stop everything; `tellServer` false when the server already dropped us. */
  async stop(tellServer = true) {
    rooms.removeEventListener("processing", this.onProcessing);
    speakerVolumes.removeEventListener("mix", this.onSpeakerMix);
    await this.reset(null, tellServer);
    if (this.mic) for (const track of this.mic.getTracks()) track.stop();
    this.mic = null;
    this.player.srcObject = null;
  }

  async reset(kind, tellServer = true) {
    this.generation += 1;
    const old = this.pc;
    const oldKind = this.kind;
    this.pc = null;
    this.kind = kind;
    this.tier = null;
    if (this.stream) {
      this.stream.stop(); // the node sees the connection close; nothing to tell the server
      this.stream = null;
    }
    if (this.mixer) {
      this.mixer.stop();
      this.mixer = null;
    }
    if (this.speakerMix !== null) this.setSpeakerMix(null);
    if (old) {
      old.close();
      if (tellServer && live.state === "online") {
        await live.call("media_close", { room_id: this.roomId, media: oldKind }).catch(() => {});
      }
    }
    if (kind !== "speak" && this.mic) {
      for (const track of this.mic.getTracks()) track.stop();
      this.mic = null;
    }
    return this.generation;
  }

  /** A new connection; its ICE candidates wait until `sent()` says the description they belong to went out
   * (the server has no connection to add them to before it; the WebSocket keeps our messages in order). */
  peer(kind, iceServers) {
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    const queued = [];
    let ready = false;
    const send = (candidate) =>
      live.call("media_candidate", { room_id: this.roomId, media: kind, candidate }).catch(() => {});
    pc.onicecandidate = (event) => {
      if (pc !== this.pc) return;
      const candidate = event.candidate ? event.candidate.toJSON() : null;
      if (ready) send(candidate);
      else queued.push(candidate);
    };
    pc.ontrack = (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      this.player.srcObject = stream;
      this.play();
    };
    const sent = () => {
      ready = true;
      for (const candidate of queued.splice(0)) send(candidate);
    };
    return { pc, sent };
  }

  /** Start playback; browsers allow it after the person interacted with the page, else we ask for a tap. */
  async play() {
    if (this.stream) return this.stream.resume();
    if (this.mixer) {
      const playing = await this.mixer.resume();
      this.dispatchEvent(new CustomEvent(playing ? "playing" : "blocked"));
      return;
    }
    try {
      await this.player.play();
      this.dispatchEvent(new CustomEvent("playing"));
    } catch {
      this.dispatchEvent(new CustomEvent("blocked"));
    }
  }
}
