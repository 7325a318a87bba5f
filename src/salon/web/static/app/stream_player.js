// A room's sound from the broadcast tier: for big audiences, listeners read one long HTTP response from a broadcast
// node (records of Opus packets, stream_records.js) instead of holding a WebRTC connection. fetch() reads it,
// WebCodecs decodes it (stream_decoder.js) and an AudioWorklet plays it through a small adaptive jitter buffer
// (stream_worklet.js). The sound goes out through the page's own <audio> element, as the WebRTC path's does, so
// its volume, mute and the app's "tap to listen" keep working.
//
// Events: "hello" {roomId, chunkMs}; "playing" / "blocked" (as RoomAudio's: blocked waits for a tap and `play()`);
// "notice" {code, message} then "ended" (the node ended the stream on purpose: removed, room_ended, on_stage, ...);
// "refused" {status, code, message} then "ended" (the node said no: a used or expired ticket, a full node, ...);
// "stalled" {reason} (the stream broke or went quiet: the caller calls `start()` again with a fresh ticket; the audio
// graph is kept, so no new gesture is needed). `stop()` is for good: it closes the audio graph too.

import { OpusPipeline, SAMPLE_RATE } from "./stream_decoder.js";
import { KIND_AUDIO, KIND_HELLO, KIND_NOTICE, RecordReader, jsonPayload } from "./stream_records.js";

const CONTENT_TYPE = "application/vnd.salon.opus-stream";
const WORKLET = new URL("./stream_worklet.js", import.meta.url);
const PROCESSOR = "salon-stream";
// A stream that sends nothing for max(1 s, 3 chunks) is dead: the node writes every chunk, silence included.
const MIN_STALL_MS = 1000;
const STALL_CHUNKS = 3;
const CONNECT_TIMEOUT_MS = 10000; // before the first byte: a new connection may need a TLS handshake far away
const CHECK_EVERY_MS = 250;
const RESUME_WAIT_MS = 250; // AudioContext.resume() never settles while the browser refuses it
const MAX_CHUNK_MS = 1000;
// The node's chunk changes with its audience (the hello only says what it was at the start), so the jitter buffer
// is told the chunk as it arrives: the median wait between the node's writes. Pieces of the body closer together
// than BURST_MS are one write that TCP split.
const BURST_MS = 8;
const WAITS_KEPT = 15;
const WAITS_NEEDED = 8;
const CHUNK_CHANGE_MS = 5;

export class StreamPlayer extends EventTarget {
  /** `player`: the <audio> element the sound goes out through. */
  constructor(player) {
    super();
    this.player = player;
    this.context = null;
    this.ready = null; // resolves to true once the worklet is loaded and the graph is built, false if it failed
    this.failure = null;
    this.node = null;
    this.destination = null;
    this.connection = null;
    this.statsWaiting = new Map(); // id → resolve
    this.statsId = 0;
  }

  /** Whether this browser can play the broadcast tier (cheap and synchronous; `probe()` also asks the decoder). */
  static supported() {
    return (
      window.isSecureContext === true &&
      "AudioDecoder" in window &&
      "EncodedAudioChunk" in window &&
      "AudioWorkletNode" in window
    );
  }

  /** `supported()`, and the decoder takes Opus at 48 kHz in mono and in stereo. */
  static async probe() {
    if (!StreamPlayer.supported()) return false;
    try {
      const answers = await Promise.all(
        [1, 2].map((numberOfChannels) =>
          AudioDecoder.isConfigSupported({ codec: "opus", sampleRate: SAMPLE_RATE, numberOfChannels }),
        ),
      );
      return answers.every((answer) => answer.supported);
    } catch {
      return false;
    }
  }

  /** Play the stream at `url` (its ticket included), replacing any stream playing now. True once the node
   * accepted it; false if it refused or could not be reached (the events say which). */
  async start(url) {
    this.disconnect();
    const connection = new Connection(this, url);
    this.connection = connection;
    this.build(); // synchronously, while the tap that started us still counts as a gesture
    this.resume();
    const built = await this.ready;
    if (connection !== this.connection) return false;
    if (!built) {
      const failure = this.failure;
      this.stop();
      throw failure; // not the stream's fault: the page cannot play it (a policy refusing the worklet, say)
    }
    this.node.port.postMessage({ type: "reset" });
    return connection.open();
  }

  /** Stop the sound and the stream; no event follows. */
  stop() {
    this.disconnect();
    if (this.context === null) return;
    if (this.node !== null) {
      this.node.port.onmessage = null;
      this.node.disconnect();
    }
    if (this.player.srcObject === this.destination?.stream) this.player.srcObject = null;
    this.context.close().catch(() => {});
    this.context = null;
    this.ready = null;
    this.node = null;
    this.destination = null;
    for (const resolve of this.statsWaiting.values()) resolve(null);
    this.statsWaiting.clear();
  }

  /** Start (or restart) the sound; browsers allow it after the person interacted with the page, else "blocked". */
  async resume() {
    const context = this.context;
    if (context === null) return false;
    const resumed = context.resume().catch(() => {});
    if (!(await this.ready) || context !== this.context) return false;
    if (this.player.srcObject !== this.destination.stream) this.player.srcObject = this.destination.stream;
    let played = true;
    try {
      await this.player.play();
    } catch {
      played = false;
    }
    await Promise.race([resumed, new Promise((resolve) => setTimeout(resolve, RESUME_WAIT_MS))]);
    if (context !== this.context) return false;
    const running = played && context.state === "running";
    this.dispatchEvent(new CustomEvent(running ? "playing" : "blocked"));
    return running;
  }

  /** RoomAudio's name for `resume()`: the room's "tap to listen" button calls it on either. */
  play() {
    return this.resume();
  }

  /** What the jitter buffer and the stream say now (null once stopped): buffered/target ms, underruns, losses. */
  async stats() {
    if (this.ready === null || !(await this.ready) || this.node === null) return null;
    this.statsId += 1;
    const id = this.statsId;
    const buffer = await new Promise((resolve) => {
      this.statsWaiting.set(id, resolve);
      this.node.port.postMessage({ type: "stats", id });
    });
    if (buffer === null) return null;
    const connection = this.connection;
    if (connection === null) return { ...buffer, stream: null };
    const { chunkMs, arriving, pipeline } = connection;
    return { ...buffer, stream: { chunkMs, arrivingMs: arriving, ...pipeline.counts } };
  }

  /** The audio graph, made once and kept across streams: context → worklet → a MediaStream for the <audio>. */
  build() {
    if (this.context !== null) return;
    const context = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
    this.context = context;
    this.failure = null;
    this.ready = context.audioWorklet.addModule(WORKLET).then(
      () => this.connectGraph(context),
      (error) => {
        this.failure = error;
        return false;
      },
    );
  }

  connectGraph(context) {
    if (context !== this.context) return false;
    this.node = new AudioWorkletNode(context, PROCESSOR, {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [2],
    });
    this.node.port.onmessage = (event) => this.answered(event.data);
    this.destination = context.createMediaStreamDestination();
    this.node.connect(this.destination);
    return true;
  }

  answered(message) {
    if (message.type !== "stats") return;
    const { type, id, ...numbers } = message;
    this.statsWaiting.get(id)?.(numbers);
    this.statsWaiting.delete(id);
  }

  /** The current stream ends here (what is buffered still plays out); the graph stays for the next one. */
  disconnect() {
    const connection = this.connection;
    this.connection = null;
    connection?.close();
  }

  /** Called by the current connection only. */
  post(message, transfer = []) {
    this.node?.port.postMessage(message, transfer);
  }

  ended(connection, type, detail) {
    if (connection !== this.connection) return;
    this.disconnect();
    this.dispatchEvent(new CustomEvent(type, { detail }));
    if (type !== "stalled") this.dispatchEvent(new CustomEvent("ended"));
  }
}

/** One HTTP response from the node: its reading, decoding and watchdog. */
class Connection {
  constructor(player, url) {
    this.player = player;
    this.url = url;
    this.abort = new AbortController();
    this.records = new RecordReader();
    this.pipeline = new OpusPipeline({
      pcm: (planes) => player.post({ type: "pcm", planes }, planes.map((plane) => plane.buffer)),
      gap: (frames) => player.post({ type: "gap", frames }),
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
    this.player.post({ type: "config", chunkMs });
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
