// How well the host kept a real tape drive streaming, measured rather than modelled. Every
// command is timed (busy time = time commands were in flight). While the host streams (a run of
// READs or WRITEs, not interrupted on purpose by a filemark, a move or pause()), a gap between
// the end of one data command and the start of the next that is longer than the drive's buffer
// can cover means the drive ran dry (writing) or full (reading) and had to stop: a starved event.
import type { DriveModel } from '../../drivers/tape/tape-driver.ts';

/** Shorter gaps are scheduling noise even for a drive with a tiny buffer. */
const MIN_STARVED_GAP_MS = 5;

export class StreamClock {
  /** The longest gap the drive's buffer covers at its native rate. */
  readonly starvedGapMs: number;
  private readonly now: () => number;
  /** When the last data command of the current run ended; null outside a run. */
  private lastDataEnd: number | null = null;
  starvedEvents = 0;
  busyMs = 0;

  constructor(model: DriveModel, now: () => number = () => performance.now()) {
    this.starvedGapMs = Math.max(MIN_STARVED_GAP_MS, (model.bufferBytes / model.bytesPerSecond) * 1000);
    this.now = now;
  }

  /** Runs one command and counts its time; a data command continues (or starts) the run. */
  async timed<T>(kind: 'data' | 'move', command: () => Promise<T>): Promise<T> {
    const start = this.now();
    if (kind === 'data' && this.lastDataEnd !== null && start - this.lastDataEnd > this.starvedGapMs) this.starvedEvents++;
    try {
      return await command();
    } finally {
      const end = this.now();
      this.busyMs += end - start;
      this.lastDataEnd = kind === 'data' ? end : null;
    }
  }

  /** The host stops streaming on purpose (filemark, end of data, a move, pause()). */
  stop(): void {
    this.lastDataEnd = null;
  }
}
