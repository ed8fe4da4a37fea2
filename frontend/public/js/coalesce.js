// A check that many events may ask for, run at most once at a time and at most once per
// interval: events are hints, and a burst of them must cost one request, not one each.

const realClock = {
  now: () => Date.now(),
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (t) => clearTimeout(t),
};

export class Coalescer {
  /**
   * @param {() => Promise<void>} run the check
   * @param {number} interval least time between two starts, in ms
   * @param {{now: () => number, setTimeout: Function, clearTimeout: Function}} clock
   */
  constructor(run, interval = 1000, clock = realClock) {
    this.run = run;
    this.interval = interval;
    this.clock = clock;
    this.running = false;
    this.again = false; // asked for while running
    this.timer = null;
    this.lastStart = -Infinity;
  }

  /** request asks for a check soon. */
  request() {
    if (this.running) { this.again = true; return; }
    if (this.timer !== null) return;
    const wait = this.lastStart + this.interval - this.clock.now();
    if (wait <= 0) { this.start(); return; }
    this.timer = this.clock.setTimeout(() => { this.timer = null; this.start(); }, wait);
  }

  async start() {
    this.running = true;
    this.again = false;
    this.lastStart = this.clock.now();
    try {
      await this.run();
    } catch {
      // The check reports its own failures; a later event retries.
    } finally {
      this.running = false;
      if (this.again) this.request();
    }
  }

  stop() {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
