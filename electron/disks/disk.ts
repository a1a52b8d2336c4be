// A disk is a capacity and a way to read it (the Xen Orchestra shape). Readers never return
// short: bytes past the end of the data an image stores read as zeros.

/** A range of a disk and what is known of it: 'zero' reads as zeros for certain (a hole of a
 * sparse file, an unallocated or zeroed grain); 'data' may hold anything, zeros included. */
export type Extent = { offset: number; length: number; state: 'data' | 'zero' };

export interface Disk {
  readonly capacity: number;
  /** A human label for errors: the file and the format. */
  readonly description: string;
  read(offset: number, length: number): Promise<Buffer>;
  /** The same bytes as read(), into target[0, length): a reader that reads much (a backup) reuses
   * its buffers, since fresh memory costs as much as the read. Absent: use read(). */
  readInto?(target: Buffer, offset: number, length: number): Promise<void>;
  /** Ranges covering [offset, offset+length) in order, neighbours of one state merged, lengths > 0.
   * 'zero' = known to read as zeros (a hole of a sparse file, an unallocated or zeroed grain).
   * Absent method = everything is 'data'. */
  extents?(offset: number, length: number): Promise<Extent[]>;
  /** The whole disk in order, in pieces of the reader's own memory (a restore point's blocks,
   * decoded ahead), for a consumer that takes it whole (an upload). A piece's `release` says it
   * is used (sent) and its memory may be reused. Absent: read() in order. */
  stream?(): AsyncIterable<DiskChunk>;
  close(): Promise<void>;
}

/** Bytes of a disk in order; `release`, when given, must be called once they are no longer needed. */
export type DiskChunk = { bytes: Uint8Array; release?(): void };

export const SECTOR = 512;

export function checkRange(disk: { capacity: number; description: string }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > disk.capacity) {
    throw new RangeError(`read of ${length} bytes at ${offset} is outside ${disk.description} (${disk.capacity} bytes)`);
  }
}
