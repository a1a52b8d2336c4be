// Bytes per second over the last few seconds, for a mover's throughput in the console.
const SPAN_MS = 5_000;

export class RateMeter {
  private samples: { at: number; bytes: number }[] = [];
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  add(bytes: number): void {
    if (bytes <= 0) return;
    this.samples.push({ at: this.now(), bytes });
    this.trim();
  }

  perSecond(): number {
    this.trim();
    const bytes = this.samples.reduce((sum, sample) => sum + sample.bytes, 0);
    return Math.round((bytes * 1000) / SPAN_MS);
  }

  private trim(): void {
    const since = this.now() - SPAN_MS;
    while (this.samples.length > 0 && (this.samples[0] as { at: number }).at < since) this.samples.shift();
  }
}
