// The broadcast tier's wire records (docs: the broadcast spec, "Record format"): a 10-byte big-endian header
// (kind, 0, length, seq, timestamp) and `length` bytes of payload. fetch() hands us the body in whatever pieces TCP
// made, so a record may be split anywhere, even inside its header: the reader keeps the unfinished tail.

export const HEADER_BYTES = 10;
export const KIND_AUDIO = 0;
export const KIND_NOTICE = 1;
export const KIND_HELLO = 2;

export class RecordReader {
  constructor() {
    this.tail = new Uint8Array(0);
  }

  /** The complete records in `bytes` (a Uint8Array) and what was left over before; keeps the rest for later.
   * Payloads are views: they stay valid because each piece is only ever read, never reused. */
  push(bytes) {
    let data = bytes;
    if (this.tail.length > 0) {
      data = new Uint8Array(this.tail.length + bytes.length);
      data.set(this.tail);
      data.set(bytes, this.tail.length);
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const records = [];
    let at = 0;
    while (data.length - at >= HEADER_BYTES) {
      const length = view.getUint16(at + 2);
      if (data.length - at < HEADER_BYTES + length) break;
      records.push({
        kind: view.getUint8(at),
        seq: view.getUint16(at + 4),
        timestamp: view.getUint32(at + 6),
        payload: data.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length),
      });
      at += HEADER_BYTES + length;
    }
    // A copy, not a view: the tail is small, and a view would pin the whole piece it came from.
    this.tail = data.slice(at);
    return records;
  }

  /** Bytes held back waiting for the rest of a record (a stream that ends with some is cut short). */
  get pending() {
    return this.tail.length;
  }
}

const decoder = new TextDecoder();

/** A JSON payload (hello, notice); null when it is not JSON, which the caller treats like a missing field. */
export function jsonPayload(payload) {
  try {
    return JSON.parse(decoder.decode(payload));
  } catch {
    return null;
  }
}

// Opus frame durations in 48 kHz samples by TOC configuration (RFC 6716 section 3.1): SILK 10/20/40/60 ms,
// hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
const SILK = [480, 960, 1920, 2880];
const HYBRID = [480, 960];
const CELT = [120, 240, 480, 960];

/** The samples (per channel, 48 kHz) one Opus packet decodes to, from its TOC byte and frame count; 0 if malformed. */
export function opusSamples(packet) {
  if (packet.length < 1) return 0;
  const config = packet[0] >> 3;
  const frame = config < 12 ? SILK[config % 4] : config < 16 ? HYBRID[config % 2] : CELT[config % 4];
  const code = packet[0] & 3;
  if (code === 0) return frame;
  if (code === 1 || code === 2) return 2 * frame;
  return packet.length < 2 ? 0 : (packet[1] & 0x3f) * frame;
}

/** Whether an Opus packet is stereo (the TOC's s bit). */
export function opusStereo(packet) {
  return packet.length > 0 && (packet[0] & 4) !== 0;
}
