// A room's sound from the broadcast tier: for big audiences, listeners read one long HTTP response from a broadcast
// node (records of Opus packets, stream_records.js) instead of holding a WebRTC connection. fetch() reads it
// (stream_connection.js), WebCodecs decodes it (stream_decoder.js) and an AudioWorklet plays it through a small
// adaptive jitter buffer (stream_worklet.js). The sound goes out through the page's own <audio> element, as the WebRTC
// path's does, so its volume, mute and the app's "tap to listen" keep working.
//
// Events: "hello" {roomId, chunkMs}; "playing" / "blocked" (as RoomAudio's: blocked waits for a tap and `play()`);
// "notice" {code, message} then "ended" (the node ended the stream on purpose: removed, room_ended, on_stage, ...);
// "refused" {status, code, message} then "ended" (the node said no: a used or expired ticket, a full node, ...);
// "stalled" {reason} (the stream broke or went quiet: the caller calls `start()` again with a fresh ticket; the audio
// graph is kept, so no new gesture is needed). `stop()` is for good: it closes the audio graph too. `switchTo(url)`
// moves to another stream (an interpretation channel) make-before-break: the new one is read while the old one plays.

import { Connection } from "./stream_connection.js";
import { SAMPLE_RATE } from "./stream_decoder.js";

const WORKLET = new URL("./stream_worklet.js", import.meta.url);
const PROCESSOR = "salon-stream";
const RESUME_WAIT_MS = 250; // AudioContext.resume() never settles while the browser refuses it

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
    this.pending = null; // the stream being switched to, while the current one still plays (switchTo)
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
    this.dropPending();
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

  /** Move to the stream at `url` (its ticket included) without a gap and without two streams heard at once: it is
   * read while the current one keeps playing, its sound held back, and replaces it once it holds enough to start at
   * once (the worklet fades the old one out over one block and drops the rest of it). Resolves to true once it plays
   * (or when a newer `start`/`switchTo`/`stop` replaced it), false when it failed (refused, broken, ended): the
   * current stream then plays on, and no event is sent for the failure. Without a stream playing, `start(url)`. */
  async switchTo(url) {
    if (this.connection === null || this.node === null) return this.start(url);
    this.dropPending();
    const pending = new Connection(this, url, { held: true });
    this.pending = pending;
    const settled = new Promise((resolve) => {
      pending.settle = resolve;
    });
    // Held until it fills the jitter buffer's target as it stands (the margin is kept across the switch), so that
    // it plays in the block after the old one faded out; asked of the worklet while the stream connects.
    this.stats().then((stats) => pending.holdFor(stats?.targetMs ?? 0));
    if (!(await pending.open())) this.failed(pending);
    return settled;
  }

  /** A held stream has enough sound: it becomes the current one. */
  promote(connection) {
    if (connection !== this.pending || this.node === null) return;
    this.pending = null;
    this.disconnect();
    this.connection = connection;
    this.node.port.postMessage({ type: "reset", keepMargin: true });
    for (const [message, transfer] of connection.release()) this.node.port.postMessage(message, transfer);
    connection.settle(true);
  }

  /** A held stream that ended before it played: closed, the current one plays on. */
  failed(connection) {
    if (connection !== this.pending) return;
    this.pending = null;
    connection.close();
    connection.settle(false);
  }

  dropPending() {
    const pending = this.pending;
    this.pending = null;
    pending?.close();
    pending?.settle(true); // replaced, not failed: whoever replaced it decides what plays
  }

  /** Stop the sound and the stream; no event follows. */
  stop() {
    this.dropPending();
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
    if (connection === this.pending) this.failed(connection);
    if (connection !== this.connection) return;
    this.disconnect();
    this.dispatchEvent(new CustomEvent(type, { detail }));
    if (type !== "stalled") this.dispatchEvent(new CustomEvent("ended"));
  }
}
