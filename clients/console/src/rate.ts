// Events per second over a sliding window, in one-second buckets.

export class RateWindow {
  private readonly counts: number[];
  private readonly seconds: number[];

  constructor(readonly size = 60) {
    this.counts = new Array<number>(size).fill(0);
    this.seconds = new Array<number>(size).fill(-1);
  }

  /** Counts n events at time nowMs. */
  add(nowMs: number, n = 1): void {
    const s = Math.floor(nowMs / 1000);
    const i = s % this.size;
    if (this.seconds[i] !== s) {
      this.seconds[i] = s;
      this.counts[i] = 0;
    }
    this.counts[i] += n;
  }

  /** Events in each of the last `size` whole seconds before nowMs's second, oldest first, then the current one. */
  series(nowMs: number): number[] {
    const now = Math.floor(nowMs / 1000);
    const out: number[] = [];
    for (let s = now - this.size + 1; s <= now; s++) {
      const i = ((s % this.size) + this.size) % this.size;
      out.push(this.seconds[i] === s ? this.counts[i] : 0);
    }
    return out;
  }
}
