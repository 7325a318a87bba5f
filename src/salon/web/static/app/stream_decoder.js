// The broadcast player's decoding: RTP-numbered Opus packets in, PCM out, in order, through WebCodecs'
// AudioDecoder. The RTP sequence numbers and timestamps say where audio is missing (packets lost between the media
// server and the broadcast node): the sink is told the exact length of each hole, at its place in the PCM, so it
// plays silence there rather than stretching the audio around it. Duplicates and late packets are dropped: their
// place was already played or covered.

import { opusSamples, opusStereo } from "./stream_records.js";

export const SAMPLE_RATE = 48000;
const MAX_LOST = 50; // packets (a second of audio): a bigger jump in the numbering is a new source
const MAX_GAP = SAMPLE_RATE; // likewise for the timestamps
const REORDER = 100; // a packet this far behind is late; further than that, the numbering started over

export class OpusPipeline {
  /** sink: {pcm(planes: Float32Array[]), gap(frames)}, called in playback order. */
  constructor(sink) {
    this.sink = sink;
    this.decoder = null;
    this.seq = null; // the last packet taken: its RTP sequence number, timestamp and length in samples
    this.timestamp = 0;
    this.samples = 0;
    this.time = 0; // our own timeline in samples (RTP timestamps wrap at 2^32 and restart with a new source)
    this.fed = 0; // samples given to the decoder and received back from it since it was made
    this.out = 0;
    this.marks = []; // holes waiting for the decoded audio that precedes them: {at: fed position, frames}
    this.counts = { packets: 0, lost: 0, late: 0, restarts: 0, errors: 0 };
    this.closed = false;
  }

  push(seq, timestamp, packet) {
    const samples = opusSamples(packet);
    if (this.closed || samples === 0) return; // not a packet we could place in time
    if (this.seq !== null) {
      const step = (seq - this.seq) & 0xffff;
      const delta = (timestamp - this.timestamp) | 0; // a signed 32-bit difference: wraparound is a small step
      if (step === 0 || (step >= 0x8000 && 0x10000 - step <= REORDER && delta <= 0)) {
        this.counts.late += 1;
        return;
      }
      if (step >= 0x8000 || step > MAX_LOST || delta <= 0 || delta - this.samples > MAX_GAP) {
        // A new numbering (a restarted forwarder): keep our timeline going, with a fade between the two.
        this.counts.restarts += 1;
        this.hole(0);
        this.time += this.samples;
      } else {
        if (delta > this.samples) {
          this.counts.lost += step - 1;
          this.hole(delta - this.samples);
        }
        this.time += delta;
      }
    }
    this.seq = seq;
    this.timestamp = timestamp;
    this.samples = samples;
    this.counts.packets += 1;
    this.decode(packet, samples);
  }

  hole(frames) {
    this.marks.push({ at: this.fed, frames });
  }

  decode(packet, samples) {
    // The decoder closes itself on a bad packet before its error callback runs: a closed one is replaced here.
    if (this.decoder === null || this.decoder.state === "closed") this.open(opusStereo(packet) ? 2 : 1);
    const chunk = new EncodedAudioChunk({
      type: "key", // every Opus packet decodes on its own
      timestamp: Math.round((this.time * 1e6) / SAMPLE_RATE),
      data: packet,
    });
    try {
      this.decoder.decode(chunk);
      this.fed += samples;
    } catch {
      this.failed(this.decoder);
    }
  }

  open(numberOfChannels) {
    const decoder = new AudioDecoder({
      output: (data) => this.decoded(decoder, data),
      error: () => this.failed(decoder),
    });
    decoder.configure({ codec: "opus", sampleRate: SAMPLE_RATE, numberOfChannels });
    this.decoder = decoder;
    this.fed = 0;
    this.out = 0;
  }

  decoded(decoder, data) {
    if (decoder !== this.decoder || this.closed) {
      data.close();
      return;
    }
    const frames = data.numberOfFrames;
    // Holes before (or inside) this piece go first; positions can be off by the decoder's start-up trim.
    while (this.marks.length > 0 && this.marks[0].at < this.out + frames) this.sink.gap(this.marks.shift().frames);
    const planes = [];
    for (let plane = 0; plane < Math.min(2, data.numberOfChannels); plane += 1) {
      const pcm = new Float32Array(frames);
      data.copyTo(pcm, { planeIndex: plane, format: "f32-planar" });
      planes.push(pcm);
    }
    data.close();
    this.out += frames;
    this.sink.pcm(planes);
  }

  /** A packet the decoder could not take closes it: start a new one with the next packet, after a fade. */
  failed(decoder) {
    if (decoder !== this.decoder) return;
    this.counts.errors += 1;
    this.decoder = null;
    this.marks = [];
    if (!this.closed) this.sink.gap(0);
  }

  close() {
    this.closed = true;
    this.marks = [];
    if (this.decoder !== null && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
  }
}
