// A room's sound in the browser. Listeners receive the room's mix (media_listen: the server sends an offer);
// people on stage publish their microphone and hear the others minus themselves (media_speak: we send the offer).
// All signalling goes through Salon's WebSocket: the browser never talks to the media server's API. The microphone
// is asked for only when going on stage. After a network loss or a media server restart the app calls `renew()`.

import { live } from "./live.js";

const MUSIC_MODE_KEY = "salon.musicMode";

/** Music mode: no echo cancellation, noise suppression or gain control (for instruments; needs headphones). */
export function musicMode() {
  return localStorage.getItem(MUSIC_MODE_KEY) === "1";
}

export function setMusicMode(on) {
  localStorage.setItem(MUSIC_MODE_KEY, on ? "1" : "0");
}

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
  }

  /** Hear the room's mix. */
  async listen() {
    const gen = await this.reset("listen");
    const { pc, sent } = this.peer("listen");
    const { jsep } = await live.call("media_listen", { room_id: this.roomId });
    if (gen !== this.generation) return;
    await pc.setRemoteDescription(jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    const answered = live.call("media_answer", { room_id: this.roomId, jsep: { type: "answer", sdp: pc.localDescription.sdp } });
    sent();
    await answered;
  }

  /** Go on air: open the microphone (asking for it now, not before), publish it, hear the others. */
  async speak() {
    const mic = this.mic && this.mic.getAudioTracks()[0]?.readyState === "live" ? this.mic : await openMicrophone();
    this.mic = mic;
    this.applyMute();
    const gen = await this.reset("speak");
    const { pc, sent } = this.peer("speak");
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
  peer(kind) {
    const pc = new RTCPeerConnection({ iceServers: [] });
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
    try {
      await this.player.play();
      this.dispatchEvent(new CustomEvent("playing"));
    } catch {
      this.dispatchEvent(new CustomEvent("blocked"));
    }
  }
}
