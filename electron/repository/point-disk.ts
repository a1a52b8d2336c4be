// A disk of a restore point, read without restoring it: random access through the merged block
// map, each block read once, decompressed, checked against its SHA-256, and kept in a small
// cache. The base for browsing files and serving disks from the backup. Where blocks are decoded
// in workers, sequential reads also decode the next blocks ahead, in parallel.
import { open, type FileHandle } from 'node:fs/promises';
import { checkRange, type Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { BlockKind, RECORD_BYTES, readRecord } from './block-map.ts';
import type { ResolvedDisk, ResolvedPoint } from './chain.ts';
import { openBlock } from './block-cipher.ts';

const DEFAULT_CACHE_BLOCKS = 32;

/** Unseals (with the chain key of an encrypted point), decompresses a stored block and checks
 * its length and SHA-256; throws saying why not. */
export type BlockDecoder = (
  payload: Uint8Array,
  codec: number,
  rawLength: number,
  sha256: Uint8Array,
  dataKey: Uint8Array | null,
) => Promise<Uint8Array>;

/** `readAhead`: blocks decoded ahead of a sequential reader (with an off-thread `decode`). */
export type PointDiskOptions = { cacheBlocks?: number; decode?: BlockDecoder; readAhead?: number };

const decodeHere: BlockDecoder = async (payload, codec, rawLength, sha256, dataKey) =>
  openBlock(payload, codec, rawLength, sha256, dataKey);

export class PointDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly point: ResolvedPoint;
  private readonly disk: ResolvedDisk;
  private readonly handles = new Map<number, Promise<FileHandle>>();
  private readonly cache = new Map<number, Promise<Uint8Array>>();
  private readonly cacheBlocks: number;
  private readonly decode: BlockDecoder;
  private readonly readAhead: number;
  /** Where the last read ended: a read that starts there is sequential. */
  private lastEnd = -1;

  constructor(point: ResolvedPoint, diskKey: string, options: PointDiskOptions = {}) {
    const disk = point.disks.find((candidate) => candidate.key === diskKey);
    if (!disk) throw new LifeboatError('not-found', `point ${point.point.sequence} of ${point.point.vmName} has no disk ${diskKey}`);
    this.point = point;
    this.disk = disk;
    this.capacity = disk.capacity;
    this.readAhead = Math.max(0, options.readAhead ?? 0);
    this.cacheBlocks = Math.max(1 + this.readAhead * 2, options.cacheBlocks ?? DEFAULT_CACHE_BLOCKS);
    this.decode = options.decode ?? decodeHere;
    this.description = `${point.point.vmName} point ${point.point.sequence} disk ${diskKey}`;
  }

  private dataFile(sequence: number): Promise<FileHandle> {
    let handle = this.handles.get(sequence);
    if (!handle) {
      const path = this.point.dataFiles.get(sequence);
      if (!path) throw new LifeboatError('corrupt-backup', `${this.description}: data file of point ${sequence} is not in the chain`);
      handle = open(path, 'r');
      this.handles.set(sequence, handle);
    }
    return handle;
  }

  private async loadBlock(index: number): Promise<Uint8Array> {
    const { blockSize } = this.point;
    const length = Math.min(blockSize, this.capacity - index * blockSize);
    const record = readRecord(this.disk.map, index * RECORD_BYTES);
    if (record.kind !== BlockKind.data) return new Uint8Array(length);
    const fail = (why: string): never => {
      throw new LifeboatError('corrupt-backup', `${this.description}, offset ${index * blockSize}: corrupt block (${why})`);
    };
    if (record.rawLength !== length) fail(`recorded length ${record.rawLength} should be ${length}`);
    const stored = Buffer.allocUnsafe(record.storedLength);
    const { bytesRead } = await (await this.dataFile(record.dataFile)).read(stored, 0, record.storedLength, record.offset);
    if (bytesRead !== record.storedLength) fail('the data file ends early');
    try {
      return await this.decode(stored, record.codec, record.rawLength, record.sha256, this.point.dataKey);
    } catch (error) {
      return fail((error as Error).message);
    }
  }

  /** One block, from the cache when it is there (least recently used blocks leave first). */
  block(index: number): Promise<Uint8Array> {
    const cached = this.cache.get(index);
    if (cached) {
      this.cache.delete(index);
      this.cache.set(index, cached);
      return cached;
    }
    const loading = this.loadBlock(index);
    loading.catch(() => this.cache.delete(index));
    this.cache.set(index, loading);
    while (this.cache.size > this.cacheBlocks) this.cache.delete(this.cache.keys().next().value as number);
    return loading;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    // Every byte is set below (holes come as zero blocks).
    const out = Buffer.allocUnsafe(length);
    const { blockSize } = this.point;
    for (let position = offset; position < offset + length;) {
      const index = Math.floor(position / blockSize);
      const within = position - index * blockSize;
      const take = Math.min(blockSize - within, offset + length - position);
      const block = await this.block(index);
      out.set(block.subarray(within, within + take), position - offset);
      position += take;
    }
    if (this.readAhead > 0 && offset === this.lastEnd) this.decodeAhead(Math.floor((offset + length - 1) / blockSize) + 1);
    this.lastEnd = offset + length;
    return out;
  }

  /** Starts decoding the blocks after `from` that are not cached yet; a failure shows when read. */
  private decodeAhead(from: number): void {
    for (let index = from; index < Math.min(from + this.readAhead, this.disk.blockCount); index++) {
      if (!this.cache.has(index)) this.block(index).catch(() => undefined);
    }
  }

  /** The whole disk in order, block by block (holes as zero blocks). */
  async *stream(): AsyncGenerator<Uint8Array> {
    for (let index = 0; index < this.disk.blockCount; index++) yield await this.block(index);
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    this.cache.clear();
    await Promise.all(handles.map(async (handle) => (await handle).close()));
  }
}
