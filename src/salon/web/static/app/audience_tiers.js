// Web app (browser): how a room's audience hears it — its listeners, and how many are on the broadcast tier and on
// WebRTC — kept fresh for the room's moderators while they look at the room (GET /rooms/{id}/audience; the server
// decides who may read it). A room of 10,000 listeners must not turn into a storm of requests, so the watch asks
// at most once per `gapMs`, never with two requests in flight, and only while started (the room screen starts it
// for moderators only): a poll every `pollMs` (spread a little, so moderators who opened the room together do not
// ask together for ever), and one sooner when the audience changed (`poke`), late enough for a listener who just
// came to have connected their sound. tests/e2e/test_audience_tiers_js.py drives it with a fake `load`.

export const POLL_MS = 10_000;
export const GAP_MS = 3_000; // also the delay after a poke: a new listener's stream is usually up by then

/** Answers that will not change by asking again — 401 logged out, 403 not a moderator (any more), 404 no such room,
 * 409 not in the room, 410 the room ended: hide the line and stop asking. */
const REFUSED = new Set([401, 403, 404, 409, 410]);

export class TiersWatch {
  /**
   * load(): a promise of {listeners, webrtc, broadcast}, or a rejection with the HTTP status (`error.status`).
   * show(tiers): the latest answer, or null when there is nothing to show (stopped, or refused).
   */
  constructor(load, show, { pollMs = POLL_MS, gapMs = GAP_MS, random = Math.random } = {}) {
    Object.assign(this, { load, show, pollMs, gapMs, random });
    this.running = false;
    this.timer = null;
    this.dueAt = Infinity;
    this.inFlight = false;
    this.askedAt = -Infinity;
    this.pokedInFlight = false;
    this.tiers = null;
  }

  /** Start asking (now); a no-op while running. */
  start() {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** No more requests; the answer in flight, if any, is dropped; nothing is shown. */
  stop() {
    const shown = this.tiers !== null;
    this.running = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = Infinity;
    this.tiers = null;
    if (shown) this.show(null);
  }

  /** The audience changed: ask again soon (several pokes make one request). */
  poke() {
    if (!this.running) return;
    if (this.inFlight) this.pokedInFlight = true;
    else this.schedule(this.gapMs);
  }

  /** Ask in `delay` ms, or at the gap after the last request if later; an earlier planned request stands. */
  schedule(delay) {
    if (!this.running || this.inFlight) return;
    const at = Math.max(performance.now() + delay, this.askedAt + this.gapMs);
    if (this.timer !== null && this.dueAt <= at) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => this.ask(), at - performance.now());
  }

  async ask() {
    this.timer = null;
    this.dueAt = Infinity;
    if (!this.running || this.inFlight) return;
    this.inFlight = true;
    this.pokedInFlight = false;
    this.askedAt = performance.now();
    let refused = false;
    try {
      const tiers = await this.load();
      if (this.running) {
        this.tiers = tiers;
        this.show(tiers);
      }
    } catch (error) {
      refused = REFUSED.has(error?.status); // anything else is passing trouble: keep showing the last answer
    } finally {
      this.inFlight = false;
    }
    if (refused) this.stop();
    else this.schedule(this.pokedInFlight ? this.gapMs : this.pollMs * (0.9 + 0.2 * this.random()));
  }
}
