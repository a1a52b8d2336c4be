// A disk of a restore point, read without restoring it: random access through the merged block
// map, each block read once, decompressed, checked against its SHA-256, and kept in a cache of
// decoded blocks — the disk's own small one, or the engine's shared one (block-cache.ts) that
// bounds the memory of every session at once. The base for browsing files and serving disks
// from the backup. Where blocks are decoded in workers, sequential reads also decode the next
// blocks ahead, in parallel.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { checkRange, type Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { BlockCache } from './block-cache.ts';
import { BlockKind, RECORD_BYTES, readRecord, type BlockRecord } from './block-map.ts';
import type { ResolvedDisk, ResolvedPoint } from './chain.ts';
import { unsealed } from './block-cipher.ts';
import { Codec, decodeBlock, decompressBlockAsync } from './codec.ts';

const DEFAULT_CACHE_BLOCKS = 32;

/** Unseals (with the chain key of an encrypted point), decompresses a stored block and checks
 * its length and SHA-256; throws saying why not. `shared`: the engine's cache of decoded blocks
 * that disks opened with this decoder keep their blocks in (instead of a cache each). */
export type BlockDecoder = ((
  payload: Uint8Array,
  codec: number,
  rawLength: number,
  sha256: Uint8Array,
  dataKey: Uint8Array | null,
) => Promise<Uint8Array>) & { readonly shared?: BlockCache };

/** `readAhead`: blocks decoded ahead of a sequential reader (with an off-thread `decode`).
 * `cache`: where decoded blocks are kept (default: `decode.shared`, else `cacheBlocks` blocks
 * of this disk's own). */
export type PointDiskOptions = { cacheBlocks?: number; decode?: BlockDecoder; readAhead?: number; cache?: BlockCache };

/** Decompressed on zlib's threads (the engine's thread stays free to parse what the blocks
 * before it held, and several blocks decompress at once), then checked here. */
const decodeHere: BlockDecoder = async (payload, codec, rawLength, sha256, dataKey) => {
  const plain = unsealed(payload, codec, sha256, dataKey);
  const data = await decompressBlockAsync(plain.payload, plain.codec, rawLength);
  // The length and SHA-256 checks of every decoded block (nothing left to decompress).
  return decodeBlock(data, Codec.none, rawLength, sha256);
};

/** A decoder whose disks keep their blocks in `cache`. */
export function sharingDecoder(decode: BlockDecoder, cache: BlockCache): BlockDecoder {
  return Object.assign((...args: Parameters<BlockDecoder>) => decode(...args), { shared: cache });
}

/** Names the key that opens a block in cache keys without holding the key itself. */
function keyFingerprint(dataKey: Uint8Array | null): string {
  if (!dataKey) return 'plain';
  return createHash('sha256').update('lifeboat block cache key\0').update(dataKey).digest('hex').slice(0, 32);
}

export class PointDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly point: ResolvedPoint;
  private readonly disk: ResolvedDisk;
  private readonly handles = new Map<number, Promise<FileHandle>>();
  private readonly cache: BlockCache;
  private readonly decode: BlockDecoder;
  private readonly keyId: string;
  private closed = false;
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
    this.decode = options.decode ?? decodeHere;
    const own = (): BlockCache => {
      const blocks = Math.max(1 + this.readAhead * 2, options.cacheBlocks ?? DEFAULT_CACHE_BLOCKS);
      const aheadBytes = this.readAhead * point.blockSize;
      // One reader: read-ahead may take every slot but the one its next read needs.
      return new BlockCache({ maxBytes: blocks * point.blockSize, decoding: this.readAhead + 1, aheadBytes, aheadSlots: this.readAhead });
    };
    this.cache = options.cache ?? this.decode.shared ?? own();
    this.keyId = keyFingerprint(point.dataKey);
    this.description = `${point.point.vmName} point ${point.point.sequence} disk ${diskKey}`;
  }

  private dataFile(sequence: number): Promise<FileHandle> {
    if (this.closed) throw new LifeboatError('conflict', `${this.description} is closed`);
    let handle = this.handles.get(sequence);
    if (!handle) {
      const path = this.point.dataFiles.get(sequence);
      if (!path) throw new LifeboatError('corrupt-backup', `${this.description}: data file of point ${sequence} is not in the chain`);
      handle = open(path, 'r');
      this.handles.set(sequence, handle);
    }
    return handle;
  }

  /** Where block `index` is: a hole (zeros), or a stored block and the key its decoded bytes
   * are kept under (one key for every disk reading the same stored block with the same key). */
  private locate(index: number): { length: number; stored: BlockRecord | null; key: string } {
    const { blockSize } = this.point;
    const length = Math.min(blockSize, this.capacity - index * blockSize);
    const record = readRecord(this.disk.map, index * RECORD_BYTES);
    if (record.kind !== BlockKind.data) return { length, stored: null, key: '' };
    const path = this.point.dataFiles.get(record.dataFile) ?? `#${record.dataFile}`;
    const key = `${path}\0${record.offset}\0${Buffer.from(record.sha256).toString('hex')}\0${this.keyId}`;
    return { length, stored: record, key };
  }

  private async loadBlock(index: number, length: number, record: BlockRecord): Promise<Uint8Array> {
    const { blockSize } = this.point;
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

  /** One block, from the cache when it is there (holes come as zero blocks). The bytes may be
   * shared with other readers: not to be changed. */
  block(index: number): Promise<Uint8Array> {
    const { length, stored, key } = this.locate(index);
    if (!stored) return Promise.resolve(this.zeros(length));
    return this.cache.get(key, length, () => this.loadBlock(index, length, stored));
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    // Every byte is set below (holes come as zero blocks).
    const out = Buffer.allocUnsafe(length);
    const { blockSize } = this.point;
    const first = Math.floor(offset / blockSize);
    const last = Math.floor((offset + length - 1) / blockSize);
    // Every block of the range asked for at once: a read that spans blocks waits for its slowest
    // block, not for the sum of them (the cache bounds the loads that run together).
    const blocks = await Promise.all(Array.from({ length: length > 0 ? last - first + 1 : 0 }, (_, i) => this.block(first + i)));
    for (const [i, block] of blocks.entries()) {
      const start = (first + i) * blockSize;
      const from = Math.max(offset, start);
      const to = Math.min(offset + length, start + blockSize);
      out.set(block.subarray(from - start, to - start), from - offset);
    }
    if (this.readAhead > 0 && offset === this.lastEnd) this.decodeAhead(Math.floor((offset + length - 1) / blockSize) + 1);
    this.lastEnd = offset + length;
    return out;
  }

  /** Asks for the blocks after `from` to be decoded ahead, as far as the cache's read-ahead
   * budget allows; a failure shows when read. */
  private decodeAhead(from: number): void {
    for (let index = from; index < Math.min(from + this.readAhead, this.disk.blockCount); index++) {
      const { length, stored, key } = this.locate(index);
      if (stored) this.cache.prefetch(key, length, () => this.loadBlock(index, length, stored));
    }
  }

  /** One zero block for every hole (blocks are read-only): a thin disk's holes cost no
   * allocation each. */
  private zeroBlock: Uint8Array | null = null;
  private zeros(length: number): Uint8Array {
    this.zeroBlock ??= new Uint8Array(this.point.blockSize);
    return this.zeroBlock.subarray(0, length);
  }

  async close(): Promise<void> {
    this.closed = true;
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map(async (handle) => (await handle).close()));
  }
}
