// A disk of a restore point, read without restoring it: random access through the merged block
// map, each block read once, decompressed, checked against its SHA-256, and kept in a small
// cache. The base for browsing files and serving disks from the backup.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { checkRange, type Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { BlockKind, RECORD_BYTES, readRecord } from './block-map.ts';
import type { ResolvedDisk, ResolvedPoint } from './chain.ts';
import { decompressBlock } from './codec.ts';

const DEFAULT_CACHE_BLOCKS = 32;

export class PointDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly point: ResolvedPoint;
  private readonly disk: ResolvedDisk;
  private readonly handles = new Map<number, Promise<FileHandle>>();
  private readonly cache = new Map<number, Promise<Uint8Array>>();
  private readonly cacheBlocks: number;

  constructor(point: ResolvedPoint, diskKey: string, cacheBlocks = DEFAULT_CACHE_BLOCKS) {
    const disk = point.disks.find((candidate) => candidate.key === diskKey);
    if (!disk) throw new LifeboatError('not-found', `point ${point.point.sequence} of ${point.point.vmName} has no disk ${diskKey}`);
    this.point = point;
    this.disk = disk;
    this.capacity = disk.capacity;
    this.cacheBlocks = Math.max(1, cacheBlocks);
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
    let data: Uint8Array;
    try {
      data = decompressBlock(stored, record.codec, record.rawLength);
    } catch (error) {
      return fail((error as Error).message);
    }
    if (data.length !== length) fail(`it decompresses to ${data.length} bytes`);
    if (!createHash('sha256').update(data).digest().equals(record.sha256)) fail('its SHA-256 does not match the block map');
    return data;
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
    const out = Buffer.alloc(length);
    const { blockSize } = this.point;
    for (let position = offset; position < offset + length; ) {
      const index = Math.floor(position / blockSize);
      const within = position - index * blockSize;
      const take = Math.min(blockSize - within, offset + length - position);
      const block = await this.block(index);
      out.set(block.subarray(within, within + take), position - offset);
      position += take;
    }
    return out;
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
