// What a member hears and says in a room with interpretation channels, beside the room's own sound (audio.js):
// the listener's pick (on the broadcast tier the channel's own stream, make-before-break; on WebRTC the same
// connection moved by the server: media_pick_language), a stage speaker's
// second connection that carries only the channel's interpreter (they hear the floor on stage already), and an
// interpreter's microphone into their channel and nowhere else (media_interpret). The room session owns one
// `RoomLanguages`; the screens read its state and call `pick`, `openBooth`, `closeBooth`.

import { iceServers, openMicrophone, roomVolume } from "./audio.js";
import { live } from "./live.js";
import { channelsOf, interpreting, rememberLanguage, rememberedLanguage } from "./interpretation.js";

/** A peer connection whose ICE candidates wait until its description went out (as audio.js's `peer`). */
function signalledPeer(servers, sendCandidate) {
  const pc = new RTCPeerConnection({ iceServers: servers });
  const queued = [];
  let ready = false;
  pc.onicecandidate = (event) => {
    const candidate = event.candidate ? event.candidate.toJSON() : null;
    if (ready) sendCandidate(candidate).catch(() => {});
    else queued.push(candidate);
  };
  const sent = () => {
    ready = true;
    for (const candidate of queued.splice(0)) sendCandidate(candidate).catch(() => {});
  };
  return { pc, sent };
}

export class RoomLanguages extends EventTarget {
  constructor(session) {
    super();
    this.session = session;
    this.roomId = session.roomId;
    this.picked = undefined; // the channel heard (null: the Original); undefined until the room's languages are known
    this.ear = null; // {pc, player, language}: a stage speaker hearing a channel
    this.booth = null; // {pc, mic, language}: an interpreter's microphone into their channel
    this.boothState = "off"; // "off" | "connecting" | "on" | "failed"
    this.onChange = () => this.follow();
    session.addEventListener("change", this.onChange);
  }

  get channels() {
    return channelsOf(this.session.state.view?.interpretation);
  }

  /** The channel this member interprets, or null. */
  get mine() {
    return interpreting(this.session.state.view?.interpretation, live.userId);
  }

  changed() {
    this.dispatchEvent(new Event("change"));
  }

  /** Follow the room: its languages, my role, my booth. Called before the session opens sound for a new place. */
  follow() {
    const { state, audio } = this.session;
    if (state.gone || !state.view) return;
    const channels = this.channels;
    if (this.picked === undefined && state.view.interpretation) {
      const remembered = rememberedLanguage();
      this.picked = channels.includes(remembered) ? remembered : null; // the remembered choice, when offered here
    }
    if (this.picked && !channels.includes(this.picked)) this.pick(null, { remember: false }); // the channel went
    const mine = this.mine;
    if (this.booth && this.booth.language !== mine) this.closeBooth();
    if (this.booth?.mic) this.applyBoothMute();
    // An interpreter's microphone is connected as soon as they are one (muted in the media server until they are
    // live), so that "Go live" and "Take over" only change who is live: no second of silence while ICE completes.
    // Not again on its own after a failure: the panel says so and its button tries again.
    if (mine && !this.booth && this.boothState === "off") this.openBooth().catch(() => {});
    const wasWebrtcOnly = audio.webrtcOnly;
    // An interpreter hears the floor over WebRTC, the lowest latency Salon has; every other listener listens as in
    // any room (the broadcast tier when the server and the browser can), a channel picked included.
    audio.webrtcOnly = Boolean(mine);
    const hear = state.me?.role === "listener" && !mine ? this.picked || null : null;
    // Becoming an interpreter on the broadcast tier (or ceasing to be one) opens the sound again the other way;
    // otherwise a change of what to hear (the Original when interpreting) moves the sound as the picker does.
    // (A stream still being asked for has no tier yet: it is asked again too.)
    const listening = audio.kind === "listen" && (audio.pc || audio.stream);
    const tier = audio.webrtcOnly ? "webrtc" : "broadcast";
    if (audio.kind === "listen" && audio.webrtcOnly !== wasWebrtcOnly && audio.tier !== tier) {
      audio.language = hear;
      this.session.syncMedia(true);
    } else if (hear !== audio.language && listening) audio.pickLanguage(hear).catch(() => {});
    else audio.language = hear;
    const onStage = state.mediaFor === "speak";
    if (onStage && this.picked && !mine) this.openEar(this.picked);
    else if (this.ear) this.closeEar(onStage); // moving to the audience: the new listen connection replaces it
  }

  /** The picker: "Original" (null) or a channel; remembered on this device for the next room. */
  async pick(language, { remember = true } = {}) {
    this.picked = language;
    if (remember) rememberLanguage(language);
    this.changed();
    const { state, audio } = this.session;
    if (state.mediaFor === "speak") {
      if (language) await this.openEar(language);
      else this.closeEar();
    } else if (state.mediaFor === "listen" && !this.mine) {
      await audio.pickLanguage(language);
    }
  }

  // --- a stage speaker hearing a channel: its interpreter only, on a second connection ---------------------------

  async openEar(language) {
    if (this.ear?.language === language) return;
    if (this.ear) {
      this.ear.language = language;
      await live.call("media_pick_language", { room_id: this.roomId, language }).catch(() => this.reopenEar(language));
      return;
    }
    await this.reopenEar(language);
  }

  async reopenEar(language) {
    this.closeEar();
    const servers = await iceServers();
    const { pc, sent } = signalledPeer(servers, (candidate) =>
      live.call("media_candidate", { room_id: this.roomId, media: "listen", candidate }),
    );
    const player = new Audio();
    player.volume = roomVolume();
    const ear = { pc, player, language };
    this.ear = ear;
    pc.ontrack = (event) => {
      player.srcObject = event.streams[0] || new MediaStream([event.track]);
      player.play().catch(() => {});
    };
    try {
      const { jsep } = await live.call("media_channel_listen", { room_id: this.roomId, language });
      if (this.ear !== ear) return;
      await pc.setRemoteDescription(jsep);
      await pc.setLocalDescription(await pc.createAnswer());
      const answered = live.call("media_answer", { room_id: this.roomId, jsep: { type: "answer", sdp: pc.localDescription.sdp } });
      sent();
      await answered;
    } catch (error) {
      if (this.ear === ear) this.closeEar();
      this.session.ui.toast(this.session.ui.errorMessage(error), "error");
    }
  }

  closeEar(tellServer = true) {
    const ear = this.ear;
    if (!ear) return;
    this.ear = null;
    ear.pc.close();
    ear.player.srcObject = null;
    if (tellServer && live.state === "online") live.call("media_close", { room_id: this.roomId, media: "listen" }).catch(() => {});
  }

  // --- an interpreter's microphone, into their channel only -----------------------------------------------------

  /** Connect the booth's microphone (muted by the media server until this interpreter is live); true once it is.
   * A connection already made (or being made) for this channel is reused. */
  openBooth() {
    const language = this.mine;
    if (!language) return Promise.resolve(false);
    if (this.booth?.language === language && this.boothState !== "failed") return this.booth.ready;
    this.closeBooth();
    const booth = { pc: null, mic: null, language, taking: false, ready: null };
    this.booth = booth;
    this.boothState = "connecting";
    booth.ready = this.connectBooth(booth);
    this.changed();
    return booth.ready;
  }

  async connectBooth(booth) {
    const { language } = booth;
    try {
      booth.mic = await openMicrophone();
      const servers = await iceServers();
      if (this.booth !== booth) throw new Error("closed");
      const { pc, sent } = signalledPeer(servers, (candidate) =>
        live.call("media_interpret_candidate", { room_id: this.roomId, language, candidate }),
      );
      booth.pc = pc;
      // Connected ahead of need, it may fail long before a tap: then the panel says so and its button tries again.
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed" && this.booth === booth) this.boothFailed(booth, new Error("ice failed"));
      };
      for (const track of booth.mic.getAudioTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [booth.mic] });
      this.applyBoothMute();
      await pc.setLocalDescription(await pc.createOffer());
      const answered = live.call("media_interpret", { room_id: this.roomId, language, jsep: { type: "offer", sdp: pc.localDescription.sdp } });
      sent();
      const { jsep } = await answered;
      if (this.booth !== booth) throw new Error("closed");
      await pc.setRemoteDescription(jsep);
      this.boothState = "on";
      this.changed();
      return true;
    } catch (error) {
      if (this.booth === booth) this.boothFailed(booth, error);
      return false;
    }
  }

  boothFailed(booth, error) {
    this.closeBooth(Boolean(booth.pc));
    this.boothState = "failed"; // not reconnected on its own (follow): a refused microphone would be asked again
    this.boothError = error;
    this.changed();
  }

  /** The microphone sends only while this interpreter is live (the media server mutes the others too), or from the
   * tap that takes the booth: the media server unmutes it when the server agrees, with no event to wait for. */
  applyBoothMute() {
    const booth = (this.session.state.view?.interpretation?.channels || []).find((c) => c.language === this.booth?.language);
    const on = booth?.live === live.userId || Boolean(this.booth?.taking);
    for (const track of this.booth?.mic?.getAudioTracks() || []) track.enabled = on;
  }

  /** Go live / Take over: the connected microphone sends from the tap while `take` (the op) runs. */
  async takeBooth(take) {
    const booth = this.booth;
    if (!booth) return take();
    booth.taking = true;
    this.applyBoothMute();
    try {
      return await take();
    } finally {
      booth.taking = false;
      this.applyBoothMute();
    }
  }

  closeBooth(tellServer = true) {
    const booth = this.booth;
    if (!booth) return;
    this.booth = null;
    this.boothState = "off";
    booth.pc?.close();
    for (const track of booth.mic?.getTracks() || []) track.stop();
    if (tellServer && booth.pc && live.state === "online") {
      live.call("media_interpret_close", { room_id: this.roomId, language: booth.language }).catch(() => {});
    }
    this.changed();
  }

  /** The session ended: close what this module opened. */
  stop() {
    this.session.removeEventListener("change", this.onChange);
    this.closeEar();
    this.closeBooth();
  }
}
