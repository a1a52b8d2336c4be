// A logical volume read as a disk: its segments laid end to end, each mapping its extents onto
// one physical volume (linear) or round-robin onto several in chunks of stripe_size (striped).
// Byte b of a stripe lies at pe_start + first_extent * extent_size + b on that stripe's PV.
import { checkRange, type Disk } from '../../disks/disk.ts';

export type MappedStripe = { device: Disk; start: number };
export type MappedSegment = { start: number; size: number; stripeSize: number; stripes: MappedStripe[] };

export class LogicalVolumeDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly segments: MappedSegment[];

  constructor(segments: MappedSegment[], description: string) {
    this.segments = segments;
    this.capacity = segments.reduce((total, segment) => total + segment.size, 0);
    this.description = description;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const segment = this.segments.find((candidate) => at >= candidate.start && at < candidate.start + candidate.size);
      if (!segment) throw new RangeError(`${this.description}: no segment maps byte ${at}`);
      const inSegment = at - segment.start;
      const count = segment.stripes.length;
      const chunk = Math.floor(inSegment / segment.stripeSize);
      const within = inSegment % segment.stripeSize;
      const stripe = segment.stripes[chunk % count] as MappedStripe;
      const onStripe = Math.floor(chunk / count) * segment.stripeSize + within;
      const piece = Math.min(length - done, segment.stripeSize - within, segment.start + segment.size - at);
      (await stripe.device.read(stripe.start + onStripe, piece)).copy(out, done);
      done += piece;
    }
    return out;
  }

  async close(): Promise<void> {}
}
