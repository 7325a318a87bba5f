// The live connection: one WebSocket to /api/v1/ws for the whole app. It answers `call(op, data)` with the
// server's reply (or rejects with an ApiError), keeps each followed room's view current from its snapshot and
// events, and, when the network drops, reconnects by itself and resubscribes from the last `seq` it applied, so
// nothing is missed. Its state ("connecting", "online", "reconnecting", "offline") is shown by the app bar.

import { ApiError } from "./api.js";
import { applyEvent } from "./room_state.js";

const CLOSE_NOT_AUTHENTICATED = 4401;
const CLOSE_SESSION_ENDED = 4001;
const CALL_TIMEOUT_MS = 15000;
const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
// A connection can die without closing (a phone changing networks, a NAT forgetting us): when nothing arrived for
// HEARTBEAT_MS we ping, and a ping unanswered for PING_TIMEOUT_MS means it is gone.
const HEARTBEAT_MS = 15000;
const PING_TIMEOUT_MS = 5000;

export class Live extends EventTarget {
  constructor() {
    super();
    this.ws = null;
    this.state = "offline";
    this.userId = null;
    this.nextRef = 1;
    this.pending = new Map(); // ref → {resolve, reject, timer}
    this.rooms = new Map(); // room_id → {view, seq}
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.heartbeat = null;
    this.lastFrameAt = 0;
    // The browser knows when the device lost its network: say so at once and come back as soon as it returns,
    // rather than waiting for the socket to time out.
    window.addEventListener("offline", () => this.drop("offline"));
    window.addEventListener("online", () => {
      if (this.stopped || this.state === "online") return;
      clearTimeout(this.retryTimer);
      this.attempt = 1;
      if (!this.ws) this.open();
    });
  }

  start() {
    this.stopped = false;
    if (!this.ws) this.open();
    if (!this.heartbeat) this.heartbeat = setInterval(() => this.checkAlive(), HEARTBEAT_MS / 3);
  }

  checkAlive() {
    if (this.state !== "online" || Date.now() - this.lastFrameAt < HEARTBEAT_MS) return;
    const ws = this.ws;
    this.lastFrameAt = Date.now(); // one ping at a time
    const timer = setTimeout(() => {
      if (ws === this.ws) this.drop("no answer");
    }, PING_TIMEOUT_MS);
    this.call("ping").then(() => clearTimeout(timer), () => {});
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.rooms.clear();
    if (this.ws) this.ws.close(1000, "bye");
    this.ws = null;
    this.setState("offline");
  }

  /** Give up on the current socket now (a dead one may take minutes to report its close). */
  drop(reason) {
    const ws = this.ws;
    if (!ws) return;
    ws.close(4000, reason);
    this.closed(ws, { code: 4000 });
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.ws = ws;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    ws.onmessage = (message) => {
      this.lastFrameAt = Date.now();
      this.receive(JSON.parse(message.data));
    };
    ws.onclose = (event) => this.closed(ws, event);
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    ws.onmessage = null;
    for (const [, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new ApiError(0, { code: "network", message: "" }));
    }
    this.pending.clear();
    if (this.stopped) return;
    if (event.code === CLOSE_NOT_AUTHENTICATED || event.code === CLOSE_SESSION_ENDED) {
      this.stopped = true;
      this.setState("offline");
      this.dispatchEvent(new CustomEvent("logged-out"));
      return;
    }
    this.setState("reconnecting");
    if (!navigator.onLine) return; // the "online" event brings us back
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** Send one op; resolves with the reply's data. */
  call(op, data = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.state !== "online") {
      return Promise.reject(new ApiError(0, { code: "network", message: "" }));
    }
    const ref = this.nextRef++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new ApiError(0, { code: "timeout", message: "" }));
      }, CALL_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ op, ref, data }));
    });
  }

  /** Follow a room: its view arrives as "room" events (detail: {room_id, view}). */
  async follow(roomId) {
    if (!this.rooms.has(roomId)) this.rooms.set(roomId, { view: null, seq: null });
    if (this.state === "online") await this.subscribe(roomId);
  }

  unfollow(roomId) {
    this.rooms.delete(roomId);
    if (this.state === "online") this.call("unsubscribe", { room_id: roomId }).catch(() => {});
  }

  view(roomId) {
    return this.rooms.get(roomId)?.view || null;
  }

  async subscribe(roomId, fresh = false) {
    const entry = this.rooms.get(roomId);
    if (!entry) return;
    const lastSeq = fresh || entry.view === null ? null : entry.view.seq;
    try {
      await this.call("subscribe", { room_id: roomId, last_seq: lastSeq });
    } catch (error) {
      this.dispatchEvent(new CustomEvent("room-error", { detail: { room_id: roomId, error } }));
    }
  }

  receive(frame) {
    switch (frame.type) {
      case "hello":
        this.userId = frame.user_id;
        this.attempt = 0;
        this.setState("online");
        for (const roomId of this.rooms.keys()) this.subscribe(roomId);
        this.dispatchEvent(new CustomEvent("online"));
        break;
      case "reply":
      case "error": {
        const waiter = this.pending.get(frame.ref);
        if (!waiter) break;
        this.pending.delete(frame.ref);
        clearTimeout(waiter.timer);
        if (frame.type === "reply") waiter.resolve(frame.data);
        else waiter.reject(new ApiError(400, frame.error));
        break;
      }
      case "snapshot":
        this.setView(frame.room_id, frame.data, null);
        break;
      case "event": {
        const entry = this.rooms.get(frame.room_id);
        if (!entry || entry.view === null) break;
        if (frame.seq <= entry.view.seq) break; // already applied (a replay overlapping the live stream)
        if (frame.seq !== entry.view.seq + 1) {
          this.subscribe(frame.room_id); // a gap: ask for what is missing
          break;
        }
        this.setView(frame.room_id, applyEvent(entry.view, frame.seq, frame.name, frame.data), frame);
        break;
      }
      case "resync":
        break; // a snapshot follows
      case "signal":
        this.dispatchEvent(new CustomEvent("signal", { detail: frame }));
        break;
      case "removed":
        this.rooms.delete(frame.room_id);
        this.dispatchEvent(new CustomEvent("removed", { detail: frame }));
        break;
      case "user_event":
        this.dispatchEvent(new CustomEvent("user-event", { detail: frame }));
        break;
      case "hallway": // rooms that changed in the open hallway (screens/hallway.js)
        this.dispatchEvent(new CustomEvent("hallway", { detail: frame }));
        break;
      default:
        break;
    }
  }

  setView(roomId, view, event) {
    const entry = this.rooms.get(roomId);
    if (!entry) return;
    entry.view = view;
    this.dispatchEvent(new CustomEvent("room", { detail: { room_id: roomId, view, event } }));
  }
}

export const live = new Live();
