// One datastore file open for reading over the host's file service: each read is ranged GETs.
// Small reads (grain tables, the 512-byte and 4 KiB grains of ESXi's deltas, stored in the order
// the guest wrote them) are served from 1 MiB windows read whole and kept a while, so a 2 MiB
// piece of a fragmented delta costs a few GETs, not hundreds.
import type { Extent } from '../../disks/disk.ts';
import type { SourceFile } from '../../disks/file-source.ts';
import type { VsphereClient } from './vsphere-client.ts';

/** The largest range one GET asks for: a backup reads a few MiB at a time, and send() buffers each answer. */
const MAX_RANGE_BYTES = 16 * 1024 * 1024;
/** Reads up to this size go through the windows; larger ones are read as asked. */
const SMALL_READ_BYTES = 64 * 1024;
const WINDOW_BYTES = 1024 * 1024;
/** Windows kept per open file, least recently used dropped first: 16 MiB at most. */
const WINDOWS_KEPT = 16;

/** `signal`: the job's, which ends a read under way when the job is cancelled. */
export type DatastoreLocation = { client: VsphereClient; datacenter: string; datastore: string; inside: string; signal?: AbortSignal };

export class DatastoreFile implements SourceFile {
  readonly path: string;
  readonly size: number;
  private readonly where: DatastoreLocation;
  /** Window index → its bytes (or the read under way), in least-recently-used order. */
  private readonly windows = new Map<number, Promise<Buffer>>();

  constructor(where: DatastoreLocation, path: string, size: number) {
    this.where = where;
    this.path = path;
    this.size = size;
  }

  private range(position: number, length: number): Promise<Buffer> {
    const { client, datacenter, datastore, inside, signal } = this.where;
    return client.readRange(datacenter, datastore, inside, position, length, signal);
  }

  private window(index: number): Promise<Buffer> {
    let bytes = this.windows.get(index);
    if (bytes) this.windows.delete(index);
    else {
      const start = index * WINDOW_BYTES;
      bytes = this.range(start, Math.min(WINDOW_BYTES, this.size - start));
      // A failed read is not kept: the next one asks again (and fails with its own error).
      const reading = bytes;
      reading.catch(() => {
        if (this.windows.get(index) === reading) this.windows.delete(index);
      });
    }
    this.windows.set(index, bytes);
    for (const oldest of this.windows.keys()) {
      if (this.windows.size <= WINDOWS_KEPT) break;
      this.windows.delete(oldest);
    }
    return bytes;
  }

  async readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    const stored = Math.max(0, Math.min(length, this.size - position));
    if (stored <= SMALL_READ_BYTES) {
      for (let done = 0; done < stored;) {
        const index = Math.floor((position + done) / WINDOW_BYTES);
        const within = position + done - index * WINDOW_BYTES;
        const piece = Math.min(WINDOW_BYTES - within, stored - done);
        (await this.window(index)).copy(target, targetOffset + done, within, within + piece);
        done += piece;
      }
    } else {
      for (let done = 0; done < stored;) {
        const piece = Math.min(MAX_RANGE_BYTES, stored - done);
        (await this.range(position + done, piece)).copy(target, targetOffset + done);
        done += piece;
      }
    }
    target.fill(0, targetOffset + stored, targetOffset + length);
  }

  async read(position: number, length: number): Promise<Buffer> {
    // A large read inside the file in one GET: the answer's own buffer, not a copy (a backup
    // reads 2 MiB pieces of a flat extent).
    if (length > SMALL_READ_BYTES && length <= MAX_RANGE_BYTES && position + length <= this.size) return this.range(position, length);
    const buffer = Buffer.allocUnsafe(length);
    await this.readInto(buffer, 0, length, position);
    return buffer;
  }

  /** The file service says nothing of holes: every byte is read. */
  dataExtents(): Extent[] | null {
    return null;
  }

  async close(): Promise<void> {
    this.windows.clear();
  }
}
