// The copy-on-write cache of one virtual disk: a cache file holding the chunks the client wrote
// at their own offsets (sparse elsewhere), and the persisted chunk map (chunk-map.ts) saying which
// chunks it holds. A chunk is materialized once: its first write copies the base under the bytes
// it does not cover (zeros past `baseEnd`) and writes the whole chunk; only then is it marked, in
// the map file and here, so a read sees the base or the complete chunk, never a half-copied one.
// Writes into the same untouched chunk wait for its materialization instead of copying the base
// again over each other's bytes. Order on every write: data to the cache file; if it made new
// chunks, the cache file flushed (one fdatasync shared by all writes waiting for one, see
// `dataOnDisk`) so a chunk marked on the disk never holds a hole; then the map records; then
// (stable writes) the map (and the cache file) flushed; then the reply.
//
// File `<id>.cache`: byte i of the virtual disk is byte i of this file wherever its chunk is marked.
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Disk } from '../disks/disk.ts';
import { isErrnoCode, LifeboatError } from '../errors.ts';
import { encodeHeader, MAP_HEADER, MapAppender, MAX_FILE_SIZE, replayMap, type MapRecord } from './chunk-map.ts';
import { NfsStatus, NfsStatusError } from './nfs-status.ts';
import { RwGate } from './rw-gate.ts';

/** Copy-on-write granularity of the cache: a write into an untouched chunk first copies it. */
export const CHUNK = 64 * 1024;

/** NFS stable_how: how far a write must have gone before the reply. */
export const Stable = { unstable: 0, dataSync: 1, fileSync: 2 } as const;
export type StableHow = (typeof Stable)[keyof typeof Stable];

/** Zeros written where an uncached chunk reads zeros: shared, only ever read. */
const ZEROS = new Uint8Array(CHUNK);

export function cacheFileName(id: number): string {
  return `${id}.cache`;
}
export function mapFileName(id: number): string {
  return `${id}.map`;
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

export class ChunkCache {
  readonly base: Disk;
  private readonly data: FileHandle;
  private readonly map: FileHandle;
  private readonly appender: MapAppender;
  private readonly gate = new RwGate();
  /** Chunks complete in the cache file and marked in the map. */
  private readonly chunks: Set<number>;
  /** Chunks a write is materializing now: others touching them wait for it. */
  private readonly claimed = new Map<number, Promise<void>>();
  private size: number;
  /** The base shows through below it only; a shrink lowers it, so a file that grows again reads
   * zeros there, not the old bytes. */
  private baseEnd: number;
  private closed = false;
  /** The cache file's fdatasync under way, and the one queued after it: writes whose data was
   * written while one runs share the next (group commit), one fdatasync for all of them. */
  private dataSyncRunning: Promise<void> | null = null;
  private dataSyncQueued: Promise<void> | null = null;
  /** Set on resume when a torn last map record was dropped: what was dropped and why. */
  readonly repaired: string | null;

  private constructor(
    base: Disk,
    data: FileHandle,
    map: FileHandle,
    mapLength: number,
    state: { size: number; baseEnd: number; chunks: Set<number> },
    repaired: string | null = null,
  ) {
    this.repaired = repaired;
    this.base = base;
    this.data = data;
    this.map = map;
    this.appender = new MapAppender(map, mapLength);
    this.chunks = state.chunks;
    this.size = state.size;
    this.baseEnd = state.baseEnd;
  }

  /** A new cache: both files made (never over existing ones) and the map's header flushed. */
  static async create(folder: string, id: number, base: Disk): Promise<ChunkCache> {
    const data = await open(join(folder, cacheFileName(id)), 'wx+', 0o600);
    const map = await open(join(folder, mapFileName(id)), 'wx+', 0o600).catch(async (error: unknown) => {
      await data.close();
      throw error;
    });
    try {
      await writeAll(map, encodeHeader(CHUNK, base.capacity), 0);
      await map.datasync();
    } catch (error) {
      await Promise.all([data.close(), map.close()]);
      throw error;
    }
    return new ChunkCache(base, data, map, MAP_HEADER, { size: base.capacity, baseEnd: base.capacity, chunks: new Set() });
  }

  /** The cache a previous engine left, as its map says; `what` names the disk in refusals. */
  static async resume(folder: string, id: number, base: Disk, what: string): Promise<ChunkCache> {
    const openOne = (name: string): Promise<FileHandle> =>
      open(join(folder, name), 'r+').catch((error: unknown) => {
        if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('corrupt-backup', `the write cache of ${what} lacks its file ${name}`);
        throw error;
      });
    const map = await openOne(mapFileName(id));
    let data: FileHandle | null = null;
    try {
      const bytes = await map.readFile();
      const state = replayMap(bytes, CHUNK, base.capacity, what);
      data = await openOne(cacheFileName(id));
      if (state.dropped) {
        // Cut the torn record off before anything is appended after it.
        await map.truncate(state.goodLength);
        await map.datasync();
        console.warn(`the chunk map of ${what}: ${state.dropped}`);
      }
      return new ChunkCache(base, data, map, state.goodLength, state, state.dropped);
    } catch (error) {
      await Promise.all([map.close(), data?.close()]);
      throw error;
    }
  }

  get fileSize(): number {
    return this.size;
  }

  get cachedBytes(): number {
    return this.chunks.size * CHUNK;
  }

  writtenChunks(): number[] {
    return [...this.chunks].sort((a, b) => a - b);
  }

  async read(offset: number, count: number): Promise<{ data: Uint8Array; eof: boolean }> {
    return this.gate.withShared(async () => {
      this.open();
      const size = this.size;
      const end = Math.min(size, offset + count);
      if (offset >= end) return { data: new Uint8Array(0), eof: true };
      // Nothing of the range in the cache: the base's bytes as they come, no second copy.
      if (end <= this.baseEnd && !this.anyCached(offset, end))
        return { data: await this.base.read(offset, end - offset), eof: end >= size };
      const out = Buffer.alloc(end - offset);
      for (let at = offset; at < end;) {
        const chunk = Math.floor(at / CHUNK);
        const take = Math.min(end - at, (chunk + 1) * CHUNK - at);
        // A chunk is marked only once complete: this reads the whole new chunk or the base.
        if (this.chunks.has(chunk)) await this.data.read(out, at - offset, take, at);
        else if (at < this.baseEnd) out.set(await this.base.read(at, Math.min(take, this.baseEnd - at)), at - offset);
        at += take;
      }
      return { data: out, eof: end >= size };
    });
  }

  private anyCached(start: number, end: number): boolean {
    if (this.chunks.size === 0) return false;
    for (let chunk = Math.floor(start / CHUNK); chunk * CHUNK < end; chunk++) if (this.chunks.has(chunk)) return true;
    return false;
  }

  /** Writes `bytes` at `offset`; returns how far it is committed (RFC 1813 `committed`). */
  async write(offset: number, bytes: Uint8Array, stable: StableHow): Promise<StableHow> {
    const end = offset + bytes.length;
    if (end > MAX_FILE_SIZE) throw new NfsStatusError(NfsStatus.fbig, `a write up to ${end} bytes is past the largest file`);
    return this.gate.withShared(async () => {
      this.open();
      if (bytes.length === 0) return stable;
      const first = Math.floor(offset / CHUNK);
      const last = Math.floor((end - 1) / CHUNK);
      // Wait until no other write materializes a chunk of the range, then claim the untouched ones
      // with no await between the last look and the claim: two writes never wait on each other.
      for (let waits = this.claimsIn(first, last); waits.length > 0; waits = this.claimsIn(first, last)) await Promise.all(waits);
      const mine: number[] = [];
      for (let chunk = first; chunk <= last; chunk++) if (!this.chunks.has(chunk)) mine.push(chunk);
      let release = (): void => undefined;
      const done = new Promise<void>((resolve) => (release = resolve));
      for (const chunk of mine) this.claimed.set(chunk, done);
      try {
        // The bytes not written with a whole chunk below (only the first and last chunk can be partial).
        let [from, to] = [offset, end];
        for (const chunk of mine) {
          const start = chunk * CHUNK;
          if (offset <= start && end >= start + CHUNK) continue;
          // A partial first write: the whole chunk as it reads now, with this write's bytes in it.
          const inside = Math.max(offset, start);
          await this.writeChunk(chunk, inside, bytes.subarray(inside - offset, Math.min(end, start + CHUNK) - offset));
          if (chunk === first) from = Math.min(end, start + CHUNK);
          else to = start;
        }
        if (from < to) await writeAll(this.data, bytes.subarray(from - offset, to - offset), from);
        // A new chunk's record must not reach the disk before its bytes (the kernel writes pages
        // back in any order): after a power loss the chunk would read a hole, its base bytes lost.
        if (mine.length > 0) await this.dataOnDisk();
        const records: MapRecord[] = end > this.size ? [{ kind: 'grow', size: end }] : [];
        for (const chunk of mine) records.push({ kind: 'chunk', chunk });
        if (records.length > 0) this.appender.append(records);
        this.size = Math.max(this.size, end);
        for (const chunk of mine) this.chunks.add(chunk);
        if (stable === Stable.unstable) return Stable.unstable;
        // This write's bytes are on the disk already when it made chunks: only the map is left.
        if (mine.length > 0) await this.appender.sync();
        else await this.flush();
        return stable;
      } finally {
        for (const chunk of mine) this.claimed.delete(chunk);
        release();
      }
    });
  }

  /** Resolves once an fdatasync of the cache file that STARTED after this call is done: so every
   * byte written before the call is on the disk. One running, at most one queued; all callers
   * arriving while one runs share the queued one. */
  private dataOnDisk(): Promise<void> {
    if (this.dataSyncQueued) return this.dataSyncQueued;
    const start = (): Promise<void> => {
      const running: Promise<void> = this.data.datasync().finally(() => {
        if (this.dataSyncRunning === running) this.dataSyncRunning = null;
      });
      this.dataSyncRunning = running;
      return running;
    };
    if (!this.dataSyncRunning) return start();
    const queued = this.dataSyncRunning
      .catch(() => undefined)
      .then(() => {
        this.dataSyncQueued = null;
        return start();
      });
    this.dataSyncQueued = queued;
    return queued;
  }

  private claimsIn(first: number, last: number): Promise<void>[] {
    const waits: Promise<void>[] = [];
    if (this.claimed.size === 0) return waits;
    for (let chunk = first; chunk <= last; chunk++) {
      const claim = this.claimed.get(chunk);
      if (claim) waits.push(claim);
    }
    return waits;
  }

  /** Writes a whole chunk in one writev: `part` at `at`, around it the chunk as it reads while
   * uncached — the base below `baseEnd`, zeros past it (whatever a failed or killed write may
   * have left in the cache file there). The base's buffer is written as it is, never copied. */
  private async writeChunk(chunk: number, at: number, part: Uint8Array): Promise<void> {
    const start = chunk * CHUNK;
    const partEnd = at + part.length;
    const fromBase = Math.max(0, Math.min(CHUNK, this.baseEnd - start));
    const base = fromBase > 0 ? await this.base.read(start, fromBase) : ZEROS;
    const around = (from: number, to: number): Uint8Array[] => {
      const inBase = Math.min(to, start + fromBase);
      return [
        ...(from < inBase ? [base.subarray(from - start, inBase - start)] : []),
        ...(Math.max(from, inBase) < to ? [ZEROS.subarray(0, to - Math.max(from, inBase))] : []),
      ];
    };
    const pieces = [...around(start, at), part, ...around(partEnd, start + CHUNK)];
    const { bytesWritten } = await this.data.writev(pieces, start);
    if (bytesWritten < CHUNK) await writeAll(this.data, Buffer.concat(pieces).subarray(bytesWritten), start + bytesWritten);
  }

  /** A resize, alone on the file. A shrink cuts the cache file at the new end first and flushes
   * that (so nothing past it can show again after a growth), then records the size; the record
   * is flushed before the return (SETATTR replies only then). */
  async setSize(size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_FILE_SIZE) throw new NfsStatusError(NfsStatus.fbig, `size ${size}`);
    await this.gate.withExclusive(async () => {
      this.open();
      if (size === this.size) return;
      const baseEnd = Math.min(this.baseEnd, size);
      if (size < this.size) {
        await this.data.truncate(size);
        await this.data.datasync();
      }
      this.appender.append([{ kind: 'set-size', size, baseEnd }]);
      this.size = size;
      this.baseEnd = baseEnd;
      for (const chunk of this.chunks) if (chunk * CHUNK >= size) this.chunks.delete(chunk);
      await this.appender.sync();
    });
  }

  /** Cache file then map to the disk: a chunk marked on disk has its bytes on disk. */
  async flush(): Promise<void> {
    await this.data.datasync();
    await this.appender.sync();
  }

  async sync(): Promise<void> {
    await this.gate.withShared(async () => {
      if (!this.closed) await this.flush();
    });
  }

  /** Waits for the I/O under way, then closes both files (not the base). */
  async close(): Promise<void> {
    await this.gate.withExclusive(async () => {
      if (this.closed) return;
      this.closed = true;
      await Promise.all([this.data.close(), this.map.close()]);
    });
  }

  /** Closes and deletes both files: the disk is gone from the volume. */
  async remove(folder: string, id: number): Promise<void> {
    await this.close();
    await Promise.all([rm(join(folder, cacheFileName(id)), { force: true }), rm(join(folder, mapFileName(id)), { force: true })]);
  }

  private open(): void {
    if (this.closed) throw new NfsStatusError(NfsStatus.stale, `${this.base.description}: its write cache is closed`);
  }
}
