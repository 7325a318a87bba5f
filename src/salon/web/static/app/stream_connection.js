// One HTTP response from a broadcast node, for the broadcast tier's player (stream_player.js, which owns the audio
// graph): the fetch, the records read from it (stream_records.js), their decoding (stream_decoder.js) and the
// watchdog that calls a silent stream stalled. Its PCM goes to the player's worklet, or is held back while the
// player switches to it (make-before-break: `held`, then `release()` once the player promotes it).

import { OpusPipeline, SAMPLE_RATE } from "./stream_decoder.js";
import { KIND_AUDIO, KIND_HELLO, KIND_NOTICE, RecordReader, jsonPayload } from "./stream_records.js";

const CONTENT_TYPE = "application/vnd.salon.opus-stream";
// A stream that sends nothing for max(1 s, 3 chunks) is dead: the node writes every chunk, silence included.
const MIN_STALL_MS = 1000;
const STALL_CHUNKS = 3;
const CONNECT_TIMEOUT_MS = 10000; // before the first byte: a new connection may need a TLS handshake far away
const CHECK_EVERY_MS = 250;
const MAX_CHUNK_MS = 1000;
// The node's chunk changes with its audience (the hello only says what it was at the start), so the jitter buffer
// is told the chunk as it arrives: the median wait between the node's writes. Pieces of the body closer together
// than BURST_MS are one write that TCP split.
const BURST_MS = 8;
const WAITS_KEPT = 15;
const WAITS_NEEDED = 8;
const CHUNK_CHANGE_MS = 5;
// A stream switched to takes over once it holds this much beyond a chunk: the worklet's smallest margin, so that it
// starts playing in the block after the old one faded out (stream_worklet.js: target = chunk + margin).
const SWITCH_MARGIN_MS = 20;

/** One HTTP response from the node: its reading, decoding and watchdog. */
export class Connection {
  /** `held`: its messages to the worklet wait (a switch's new stream) until the player promotes it, which it asks
   * for once it holds what `holdFor` says, and at least a chunk and the smallest margin. */
  constructor(player, url, { held = false } = {}) {
    this.player = player;
    this.url = url;
    this.abort = new AbortController();
    this.records = new RecordReader();
    this.held = held ? [] : null; // [message, transfer] pairs kept back while held
    this.heldFrames = 0;
    this.holdMs = null; // unknown yet: not promoted before `holdFor`
    this.settle = () => {};
    this.pipeline = new OpusPipeline({
      pcm: (planes) => this.post({ type: "pcm", planes }, planes.map((plane) => plane.buffer), planes[0].length),
      gap: (frames) => this.post({ type: "gap", frames }, [], frames),
    });
    this.chunkMs = null; // the hello's
    this.arriving = null; // the chunk as measured, once enough writes came
    this.told = null; // the chunk the jitter buffer was last told
    this.waits = [];
    this.lastByteAt = performance.now();
    this.receiving = false; // a byte of the body arrived: from then on the stall rule applies
    this.watchdog = null;
    this.closed = false;
  }

  /** To the worklet, or kept back while held; a held stream with a chunk and a margin of sound asks to play. */
  post(message, transfer = [], frames = 0) {
    if (this.held === null) {
      this.player.post(message, transfer);
      return;
    }
    this.held.push([message, transfer]);
    this.heldFrames += frames;
    this.promoteWhenFull();
  }

  /** How much sound to hold before playing (the jitter buffer's target when the switch began). */
  holdFor(ms) {
    this.holdMs = ms;
    this.promoteWhenFull();
  }

  promoteWhenFull() {
    if (this.held === null || this.holdMs === null || this.closed) return;
    const chunkMs = this.arriving ?? this.chunkMs ?? 0;
    const holdMs = Math.max(this.holdMs, chunkMs + SWITCH_MARGIN_MS);
    if (this.heldFrames >= (holdMs * SAMPLE_RATE) / 1000) this.player.promote(this);
  }

  /** Promoted: what was kept back, in order; from now on messages go straight to the worklet. */
  release() {
    const held = this.held ?? [];
    this.held = null;
    return held;
  }

  /** Connect; true once the node accepted the stream, which is then read in the background. */
  async open() {
    this.watchdog = setInterval(() => this.check(), CHECK_EVERY_MS);
    let response;
    try {
      response = await fetch(this.url, {
        signal: this.abort.signal,
        cache: "no-store",
        credentials: "omit", // the ticket is the credential; the node is another origin
      });
    } catch {
      this.end("stalled", { reason: "network" });
      return false;
    }
    if (this.closed) return false;
    if (!response.ok) {
      await this.refused(response);
      return false;
    }
    if (response.headers.get("Content-Type") !== CONTENT_TYPE || response.body === null) {
      this.end("stalled", { reason: "bad_response" });
      return false;
    }
    this.read(response.body.getReader());
    return true;
  }

  /** A refusal in the {code, message} shape is the node's word; anything else (a proxy's error page) may pass. */
  async refused(response) {
    const body = await response.json().catch(() => null);
    if (this.closed) return;
    if (body !== null && typeof body.code === "string") {
      this.end("refused", { status: response.status, code: body.code, message: String(body.message ?? "") });
    } else {
      this.end("stalled", { reason: `http_${response.status}` });
    }
  }

  async read(reader) {
    for (;;) {
      let piece;
      try {
        piece = await reader.read();
      } catch {
        break; // the connection failed
      }
      if (this.closed) return;
      if (piece.done) break;
      this.arrived(performance.now());
      try {
        for (const record of this.records.push(piece.value)) {
          this.take(record);
          if (this.closed) return;
        }
      } catch (error) {
        console.error("broadcast stream:", error);
        this.end("stalled", { reason: "bad_stream" });
        return;
      }
    }
    if (!this.closed) this.end("stalled", { reason: "closed" }); // the node ends streams with a notice: not the node
  }

  arrived(now) {
    const wait = now - this.lastByteAt;
    const first = !this.receiving;
    this.lastByteAt = now;
    this.receiving = true;
    if (first || wait < BURST_MS) return;
    this.waits.push(wait);
    if (this.waits.length > WAITS_KEPT) this.waits.shift();
    if (this.waits.length < WAITS_NEEDED) return;
    const sorted = [...this.waits].sort((a, b) => a - b);
    this.arriving = Math.round(sorted[sorted.length >> 1]);
    this.tell(this.arriving);
  }

  /** Tell the jitter buffer the chunk, if it changed enough to matter. */
  tell(chunkMs) {
    if (this.told !== null && Math.abs(chunkMs - this.told) < CHUNK_CHANGE_MS) return;
    this.told = chunkMs;
    this.post({ type: "config", chunkMs });
  }

  take(record) {
    if (record.kind === KIND_AUDIO) {
      this.pipeline.push(record.seq, record.timestamp, record.payload);
    } else if (record.kind === KIND_HELLO) {
      const hello = jsonPayload(record.payload);
      const chunkMs = hello?.chunk_ms;
      if (Number.isInteger(chunkMs) && chunkMs > 0 && chunkMs <= MAX_CHUNK_MS) {
        this.chunkMs = chunkMs;
        if (this.arriving === null) this.tell(chunkMs);
      }
      const detail = { roomId: hello?.room_id ?? null, chunkMs: this.chunkMs };
      this.player.dispatchEvent(new CustomEvent("hello", { detail }));
    } else if (record.kind === KIND_NOTICE) {
      const notice = jsonPayload(record.payload);
      const code = typeof notice?.code === "string" ? notice.code : "unknown";
      this.end("notice", { code, message: String(notice?.message ?? "") });
    }
    // Other kinds are for newer players: their length lets us step over them.
  }

  check() {
    const chunkMs = this.arriving ?? this.chunkMs ?? 0;
    const limit = this.receiving ? Math.max(MIN_STALL_MS, STALL_CHUNKS * chunkMs) : CONNECT_TIMEOUT_MS;
    if (performance.now() - this.lastByteAt > limit) this.end("stalled", { reason: "timeout" });
  }

  end(type, detail) {
    this.player.ended(this, type, detail);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.abort.abort();
    this.pipeline.close();
  }
}
