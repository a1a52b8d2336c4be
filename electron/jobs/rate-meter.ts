// Transfer rate over a sliding window, so one slow second does not swing the ETA wildly.
const WINDOW_MS = 5000;

export class RateMeter {
  private samples: { at: number; bytes: number }[] = [];

  sample(at: number, bytes: number): void {
    this.samples.push({ at, bytes });
    while (this.samples.length > 2 && (this.samples[0] as { at: number }).at < at - WINDOW_MS) this.samples.shift();
  }

  bytesPerSecond(): number {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at <= first.at) return 0;
    return Math.max(0, ((last.bytes - first.bytes) * 1000) / (last.at - first.at));
  }
}
