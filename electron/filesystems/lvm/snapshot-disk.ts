// A thick (dm-snapshot) LVM snapshot read through its COW exception store, in the kernel's
// persistent format (drivers/md/dm-snap-persistent.c):
//
//   chunk 0   header: le32 magic 0x70416e53 ("SnAp"), le32 valid, le32 version 1, le32 chunk size
//             in sectors. A zeroed header (magic 0) is a store nothing was copied to yet.
//   then      metadata areas: area i is chunk 1 + i * (per_area + 1), one chunk of
//             { le64 old_chunk, le64 new_chunk } exceptions (per_area = chunk bytes / 16), each
//             area followed by the data chunks it points to. The table ends at the first
//             exception whose new_chunk is 0, or where the store ends. dm-snapshot hands out
//             data chunks in order, skipping the areas: new_chunk rises strictly, old_chunk never repeats.
//
// A chunk of the snapshot is read from the COW store where an exception maps it, else from the
// origin (which has moved on since). The table is read once, on the first read, bounded in the
// entries it reads (not only the ones it keeps), so a damaged store cannot keep it reading for hours.
import { checkRange, type Disk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';

const SNAP_MAGIC = 0x70416e53;
const SECTOR = 512;
const MAX_CHUNK = 16 * 1024 * 1024;
/** Entries read from a store's table at most: 64 MiB of table, a 4 TiB store of 1 MiB chunks. */
export const MAX_EXCEPTIONS = 4_000_000;

type Table = { chunkSize: number; map: Map<number, number> };

export class SnapshotDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly origin: Disk;
  private readonly cow: Disk;
  private readonly maxExceptions: number;
  private table: Promise<Table> | null = null;

  constructor(origin: Disk, cow: Disk, description: string, maxExceptions = MAX_EXCEPTIONS) {
    this.origin = origin;
    this.cow = cow;
    this.maxExceptions = maxExceptions;
    this.capacity = origin.capacity;
    this.description = description;
  }

  private corrupt(why: string): LifeboatError {
    return new LifeboatError('corrupt-disk', `${this.description}: its COW exception store ${why}`);
  }

  private async loadTable(): Promise<Table> {
    if (this.cow.capacity < SECTOR) throw this.corrupt('is smaller than its header');
    const header = await this.cow.read(0, SECTOR);
    const map = new Map<number, number>();
    if (header.readUInt32LE(0) === 0) return { chunkSize: SECTOR, map }; // nothing copied yet
    if (header.readUInt32LE(0) !== SNAP_MAGIC) throw this.corrupt('has no SnAp magic');
    if (header.readUInt32LE(4) === 0)
      throw new LifeboatError('unavailable', `${this.description}: the snapshot is marked invalid (its COW store overflowed): not read`);
    if (header.readUInt32LE(8) !== 1) throw this.corrupt(`is of version ${header.readUInt32LE(8)}, not 1`);
    const chunkSize = header.readUInt32LE(12) * SECTOR;
    if (chunkSize < SECTOR || chunkSize > MAX_CHUNK || (chunkSize & (chunkSize - 1)) !== 0)
      throw this.corrupt(`has a chunk size of ${chunkSize} bytes`);
    const perArea = chunkSize / 16;
    const cowChunks = Math.floor(this.cow.capacity / chunkSize);
    const originChunks = Math.ceil(this.origin.capacity / chunkSize);
    let read = 0;
    let lastNew = 0;
    for (let area = 0; ; area++) {
      const at = 1 + area * (perArea + 1);
      if (at >= cowChunks) return { chunkSize, map };
      const entries = await this.cow.read(at * chunkSize, chunkSize);
      for (let index = 0; index < perArea; index++) {
        const oldChunk = Number(entries.readBigUInt64LE(index * 16));
        const newChunk = Number(entries.readBigUInt64LE(index * 16 + 8));
        if (newChunk === 0) return { chunkSize, map };
        if (++read > this.maxExceptions) throw this.corrupt(`holds more than ${this.maxExceptions} exceptions; not read`);
        if (oldChunk >= originChunks || newChunk >= cowChunks || newChunk <= at)
          throw this.corrupt(`maps chunk ${oldChunk} to chunk ${newChunk}, outside the origin or the store`);
        if (newChunk <= lastNew)
          throw this.corrupt(`maps chunk ${oldChunk} to chunk ${newChunk}, out of the order dm-snapshot writes (after ${lastNew})`);
        if ((newChunk - 1) % (perArea + 1) === 0) throw this.corrupt(`maps chunk ${oldChunk} onto its own table at chunk ${newChunk}`);
        if (map.has(oldChunk)) throw this.corrupt(`maps chunk ${oldChunk} twice`);
        lastNew = newChunk;
        map.set(oldChunk, newChunk);
      }
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    this.table ??= this.loadTable();
    const { chunkSize, map } = await this.table;
    if (map.size === 0) return this.origin.read(offset, length);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const chunk = Math.floor(at / chunkSize);
      const within = at % chunkSize;
      const piece = Math.min(length - done, chunkSize - within);
      const copied = map.get(chunk);
      const bytes = copied === undefined ? await this.origin.read(at, piece) : await this.cow.read(copied * chunkSize + within, piece);
      bytes.copy(out, done);
      done += piece;
    }
    return out;
  }

  async close(): Promise<void> {}
}
