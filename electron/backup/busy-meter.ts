// Busy time of a stage whose operations overlap (several reads or writes in flight): the time at
// least one of them is under way, not the sum of their latencies, so it compares with wall time.
export class BusyMeter {
  private active = 0;
  private since = 0;
  private seconds = 0;

  async during<T>(work: () => Promise<T>): Promise<T> {
    if (this.active++ === 0) this.since = performance.now();
    try {
      return await work();
    } finally {
      if (--this.active === 0) this.seconds += (performance.now() - this.since) / 1000;
    }
  }

  /** The busy seconds since the last take (operations still under way count at their end). */
  take(): number {
    const seconds = this.seconds;
    this.seconds = 0;
    return seconds;
  }
}
