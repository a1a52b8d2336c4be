// The memory a tape restore reads ahead into: stored blocks are copied off the tape into one
// shared ring, handed to the block workers as views (nothing moved, nothing allocated per block),
// and their room is given back once the batch that holds them is written. Allocating a buffer per
// block instead cost the pass's thread a garbage collection every few dozen MiB.
import { LifeboatError } from '../errors.ts';

/** The bytes copied in between two seals: given back together once their batch settles. */
export type RingRegion = { end: number; settled: boolean };

export class PayloadRing {
  private readonly bytes: Uint8Array;
  /** Byte counters that only grow: where the next copy goes, and up to where room was given back. */
  private written = 0;
  private freed = 0;
  /** Sealed regions not given back yet, oldest first. */
  private readonly regions: RingRegion[] = [];

  constructor(capacity: number) {
    this.bytes = new Uint8Array(new SharedArrayBuffer(capacity));
  }

  /** A copy of `source` in the ring (a view of shared memory), or null when there is no room
   * until older regions are given back. A copy never wraps: the ring's tail is skipped instead. */
  copyIn(source: Uint8Array): Uint8Array | null {
    const capacity = this.bytes.length;
    if (source.length > capacity / 2)
      throw new LifeboatError('internal', `a stored block of ${source.length} bytes does not fit the ${capacity}-byte read-ahead`);
    const at = this.written % capacity;
    const skip = at + source.length > capacity ? capacity - at : 0;
    if (this.written + skip + source.length - this.freed > capacity) return null;
    this.written += skip;
    const start = this.written % capacity;
    const copy = this.bytes.subarray(start, start + source.length);
    copy.set(source);
    this.written += source.length;
    return copy;
  }

  /** Closes the region of everything copied in since the last seal. */
  seal(): RingRegion {
    const region = { end: this.written, settled: false };
    this.regions.push(region);
    return region;
  }

  /** The region's batch is written (or dropped): its room, and that of every settled region
   * before it, can be reused. */
  release(region: RingRegion): void {
    region.settled = true;
    while (this.regions[0]?.settled) this.freed = (this.regions.shift() as RingRegion).end;
  }
}
