// The broadcast player's jitter buffer, on the audio rendering thread (an AudioWorkletProcessor, "salon-stream").
// The node writes a room's audio in chunks (20 to 120 ms of it at once, more under load), so PCM arrives in
// bursts with holes between them. Playback waits until the buffer holds a target delay: one chunk (as the main
// thread measures it) plus a safety margin, so that just before the next burst the buffer still holds the margin.
// An underrun (the buffer running dry) fades out, plays silence, grows the margin and waits for the target again;
// after a long calm the margin decays. When the buffer's low point stays above the margin for a while (after a burst
// of late data, or once the margin has decayed) it shrinks by cutting 2.5 ms blocks with a crossfade, one at a time,
// so nobody hears a click or a jump; far too much at once (a context that was suspended) is cut in one crossfade.
// Lost packets come as "gap" messages: silence of their exact length (late audio is never stretched to cover them),
// with fades on both sides.
//
// Messages from the main thread: {type: "pcm", planes: [Float32Array, ...]} (one plane: mono, two: stereo),
// {type: "gap", frames}, {type: "config", chunkMs}, {type: "reset", keepMargin} (a new stream: drop everything, wait
// again; `keepMargin` when it comes through the same network path, a switch of channel, whose jitter the margin fits),
// {type: "stats", id} (answered with the same id and the numbers below).

/* global sampleRate, currentFrame */

const CAPACITY_S = 3; // above the 400 ms cap plus the biggest chunk, and some seconds of a context held suspended
const FADE = Math.round(sampleRate * 0.0025); // 2.5 ms: short enough to keep sound, long enough to avoid a click
const SKIP = FADE; // one shrink step
const MS = sampleRate / 1000;
const MIN_MARGIN_MS = 20;
const MAX_TARGET_MS = 400;
const UNDERRUN_STEP_MS = 20;
const WINDOW = sampleRate; // the buffer's low point is remembered over one to two of these
const SKIP_SPACING = Math.round(sampleRate / 10); // at most one shrink step per 100 ms: 25 ms of delay a second
const JUMP_MS = 250; // more than this above the target (a context was suspended, a stall ended): cut it at once
// The margin comes back down after a calm spell: slowly, or a jittery network would underrun every few seconds.
const CALM = 30 * sampleRate;
const DECAY_EVERY = 10 * sampleRate;
const DECAY_MS = 5;

class StreamProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    const capacity = Math.round(CAPACITY_S * sampleRate);
    this.ring = [new Float32Array(capacity), new Float32Array(capacity)];
    this.capacity = capacity;
    this.readAt = 0; // frames ever read and written: the buffer holds writeAt - readAt
    this.writeAt = 0;
    this.chunk = 20 * MS;
    this.margin = MIN_MARGIN_MS * MS;
    this.playing = false;
    this.stopping = null; // after a reset while playing: {at: the fade-out's end, next: the new stream's start}
    this.fadeInNext = true; // the next frames written start from silence
    this.fadeInPlay = true; // the next frames played start from silence
    this.stats = { underruns: 0, skipped: 0, gaps: 0, overflow: 0, played: 0, starts: 0 };
    this.lastUnderrun = 0;
    this.lastDecay = 0;
    this.lastSkip = 0;
    this.resetWindows();
    this.port.onmessage = (event) => this.receive(event.data);
  }

  resetWindows() {
    this.low = [Infinity, Infinity]; // the buffer's low point: [previous window, this one]
    this.windowStart = currentFrame;
  }

  get buffered() {
    return this.writeAt - (this.stopping === null ? this.readAt : this.stopping.next);
  }

  /** The delay playback waits for: a chunk plus the margin. */
  get target() {
    return Math.min(this.chunk + this.margin, MAX_TARGET_MS * MS);
  }

  receive(message) {
    if (message.type === "pcm") this.write(message.planes);
    else if (message.type === "gap") this.gap(message.frames);
    else if (message.type === "config") this.chunk = Math.max(1, message.chunkMs) * MS;
    else if (message.type === "reset") this.reset(message.keepMargin === true);
    else if (message.type === "stats") this.port.postMessage({ type: "stats", id: message.id, ...this.numbers() });
  }

  numbers() {
    const ms = (frames) => Math.round((frames / MS) * 10) / 10;
    return {
      playing: this.playing,
      bufferedMs: ms(this.buffered),
      targetMs: ms(this.target),
      marginMs: ms(this.margin),
      chunkMs: ms(this.chunk),
      underruns: this.stats.underruns,
      starts: this.stats.starts,
      skippedMs: ms(this.stats.skipped),
      gapMs: ms(this.stats.gaps),
      overflowMs: ms(this.stats.overflow),
      playedMs: ms(this.stats.played),
    };
  }

  /** A new stream: what plays now fades out over one block (no click), the rest of the old one is dropped. The margin
   * starts again from the smallest unless `keepMargin` (measured 2026-12-03: a switch of channel that dropped it
   * underran every few hundred ms on a loaded machine until it had grown back). */
  reset(keepMargin = false) {
    if (this.playing && this.stopping === null) {
      this.stopping = { at: this.readAt + Math.min(this.writeAt - this.readAt, 128), next: this.writeAt };
    } else if (this.stopping !== null) {
      this.stopping.next = this.writeAt;
    } else {
      this.readAt = this.writeAt;
    }
    this.playing = false;
    this.fadeInNext = true;
    this.fadeInPlay = true;
    if (!keepMargin) this.margin = MIN_MARGIN_MS * MS;
    this.resetWindows();
  }

  write(planes) {
    const frames = planes[0].length;
    this.makeRoom(frames);
    const [left, right] = this.ring;
    const second = planes[1] || planes[0];
    for (let i = 0; i < frames; i += 1) {
      const gain = this.fadeInNext && i < FADE ? i / FADE : 1;
      const at = (this.writeAt + i) % this.capacity;
      left[at] = planes[0][i] * gain;
      right[at] = second[i] * gain;
    }
    this.fadeInNext = false;
    this.writeAt += frames;
  }

  /** A hole in the stream: fade out what precedes it (if not played yet), then silence of its length. */
  gap(frames) {
    const length = Math.min(Math.max(0, Math.round(frames)), this.capacity >> 1);
    const from = Math.max(this.readAt, this.writeAt - FADE);
    for (let at = from; at < this.writeAt; at += 1) {
      const gain = (this.writeAt - at) / (this.writeAt - from + 1);
      for (const ring of this.ring) ring[at % this.capacity] *= gain;
    }
    this.makeRoom(length);
    for (let i = 0; i < length; i += 1) {
      for (const ring of this.ring) ring[(this.writeAt + i) % this.capacity] = 0;
    }
    this.writeAt += length;
    this.stats.gaps += length;
    this.fadeInNext = true;
  }

  /** The ring is full only when playback is stopped (a suspended context): the oldest audio goes first. */
  makeRoom(frames) {
    const over = this.buffered + frames - this.capacity;
    if (over > 0) {
      this.readAt += over;
      this.stats.overflow += over;
      this.fadeInPlay = true;
    }
  }

  process(inputs, outputs) {
    const out = outputs[0];
    const n = out[0].length;
    this.rollWindows();
    if (this.stopping !== null) {
      this.fadeOut(out, this.stopping.at - this.readAt);
      this.readAt = this.stopping.next;
      this.stopping = null;
      return true;
    }
    if (!this.playing) {
      if (this.buffered < this.target) return true; // outputs start as silence
      this.playing = true;
      this.fadeInPlay = true;
      this.stats.starts += 1;
      this.low = [Infinity, Infinity];
    }
    const buffered = this.buffered;
    this.low[1] = Math.min(this.low[1], buffered);
    if (buffered < 2 * n) {
      // Running dry: fade out over a whole block now rather than stop dead in the middle of the next one.
      this.underrun(out, Math.min(buffered, n));
      return true;
    }
    this.decay();
    const cut = this.cut(buffered, n);
    this.render(out, n, cut);
    this.readAt += n + cut;
    this.stats.played += n;
    return true;
  }

  rollWindows() {
    if (currentFrame - this.windowStart < WINDOW) return;
    this.low = [this.low[1], Infinity];
    this.windowStart = currentFrame;
  }

  /** Ran dry: play `frames` more fading out, then silence; wait for a bigger target. */
  underrun(out, frames) {
    this.fadeOut(out, frames);
    this.readAt += frames;
    this.playing = false;
    this.stats.underruns += 1;
    this.margin = Math.min(this.margin + UNDERRUN_STEP_MS * MS, MAX_TARGET_MS * MS);
    this.lastUnderrun = currentFrame;
  }

  fadeOut(out, frames) {
    for (let c = 0; c < out.length; c += 1) {
      const ring = this.ring[Math.min(c, 1)];
      for (let i = 0; i < out[c].length; i += 1) {
        out[c][i] = i < frames ? ring[(this.readAt + i) % this.capacity] * (1 - (i + 1) / frames) : 0;
      }
    }
    this.fadeInPlay = true;
  }

  decay() {
    const now = currentFrame;
    if (now - this.lastUnderrun < CALM || now - this.lastDecay < DECAY_EVERY) return;
    this.lastDecay = now;
    this.margin = Math.max(MIN_MARGIN_MS * MS, this.margin - DECAY_MS * MS);
  }

  /** Frames to drop while rendering this block: everything above the target at once when far too much is buffered,
   * else a step when the low point has stayed above the margin for a whole window. A cut always leaves two blocks:
   * the next block must not find the buffer running dry because of it. */
  cut(buffered, n) {
    const flood = buffered - this.target;
    if (flood > JUMP_MS * MS) return Math.max(0, Math.min(Math.round(flood), buffered - 3 * n));
    if (this.low[0] === Infinity) return 0; // not a whole window of playback yet
    const excess = Math.min(this.low[0], this.low[1]) - this.margin;
    if (excess < SKIP + MS || currentFrame - this.lastSkip < SKIP_SPACING || buffered < 3 * n + SKIP) return 0;
    this.lastSkip = currentFrame;
    return SKIP;
  }

  /** Copy `n` frames out; with a cut, crossfade from the frames here to the ones `cut` later over the block. */
  render(out, n, cut) {
    const fadeIn = this.fadeInPlay;
    this.fadeInPlay = false;
    for (let c = 0; c < out.length; c += 1) {
      const ring = this.ring[Math.min(c, 1)];
      const channel = out[c];
      for (let i = 0; i < n; i += 1) {
        const here = ring[(this.readAt + i) % this.capacity];
        let sample = here;
        if (cut > 0) {
          const later = ring[(this.readAt + cut + i) % this.capacity];
          const w = (i + 1) / n;
          sample = here * (1 - w) + later * w;
        }
        channel[i] = fadeIn && i < FADE ? (sample * i) / FADE : sample;
      }
    }
    if (cut > 0) {
      this.stats.skipped += cut;
      this.low = this.low.map((low) => low - cut);
    }
  }
}

registerProcessor("salon-stream", StreamProcessor);
