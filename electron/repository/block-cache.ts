// Decoded backup blocks shared by every reader of one engine (Instant Recovery sessions, their
// migrations, file browsing): one byte bound for all of them instead of a cache per disk, so a
// hundred sessions cost the bound and not a hundred caches.
//
// - Key: what a decoded block is made of, chosen by the caller (PointDisk: data file path, offset,
//   the block's SHA-256 and a fingerprint of the key that opens it) — two sessions of one point
//   share their blocks; a block is never served to a reader holding another key.
// - Bound: the bytes of the blocks kept never exceed `maxBytes` (room is made before a block goes
//   in; a block larger than the bound is handed to its readers and not kept). Least recently
//   used blocks leave first. Memory beyond the bound: the blocks being decoded (at most
//   `decoding` at once) and the ones readers still hold.
// - Loads: one per key at a time, whoever asks (later readers wait for the first one's load).
//   A reader that joins a load brings its own: when the load running fails, the next joined
//   reader's load is tried before anyone hears the failure, so a reader never fails because
//   another reader's disk closed under its load (a session stopping while another of the same
//   point reads on). A block that is truly bad fails every load tried, and every reader hears it.
//   At most `decoding` run at once across every disk; a reader's load goes before any queued
//   read-ahead, and read-ahead takes at most half the slots (`aheadSlots`), so a new session's
//   first read never waits behind other sessions' read-ahead.
// - Read-ahead: the blocks decoded ahead and not read yet hold at most `aheadBytes` (a quarter of
//   the bound unless told); read-ahead past that is dropped, or makes room by turning its oldest
//   unread blocks into ordinary ones. Unread read-ahead leaves the cache only after every
//   ordinary block has left, so read-ahead never evicts the blocks a reader is about to use.
import { LifeboatError } from '../errors.ts';

export type BlockCacheOptions = {
  maxBytes: number;
  /** Loads running at once across every reader. */
  decoding?: number;
  /** Bytes of read-ahead blocks decoded or decoding and not read yet. */
  aheadBytes?: number;
  /** Of the `decoding` slots, how many read-ahead may take (default half: the others stay free
   * for readers). */
  aheadSlots?: number;
};

export type BlockCacheStats = {
  maxBytes: number;
  /** Bytes of the blocks kept now, and the most ever kept. */
  bytes: number;
  peakBytes: number;
  blocks: number;
  /** Loads started (each a decode), requests served from a kept block, and requests that
   * joined another's load. */
  loads: number;
  hits: number;
  joined: number;
  evicted: number;
  /** Bytes read ahead (kept or loading) and not read yet; requests dropped because they were
   * at the read-ahead budget. */
  aheadBytes: number;
  aheadDropped: number;
  /** Loads running now and waiting for a slot. */
  decoding: number;
  queued: number;
};

type Load = () => Promise<Uint8Array>;

type Entry = {
  key: string;
  /** Expected bytes while loading, the real ones once kept. */
  bytes: number;
  /** Asked for by read-ahead only, not read yet. */
  ahead: boolean;
  /** The first asker's load, then each joined reader's, tried in turn until one succeeds. */
  loads: Load[];
  promise: Promise<Uint8Array>;
  resolve(value: Uint8Array): void;
  reject(error: unknown): void;
};

type Kept = { key: string; value: Uint8Array; ahead: boolean };

export class BlockCache {
  readonly maxBytes: number;
  private readonly decoding: number;
  private readonly aheadCap: number;
  private readonly aheadSlots: number;
  /** Kept blocks, least recently used first. */
  private readonly kept = new Map<string, Kept>();
  private readonly pending = new Map<string, Entry>();
  private readonly readQueue: Entry[] = [];
  private readonly aheadQueue: Entry[] = [];
  private running = 0;
  private runningAhead = 0;
  private bytes = 0;
  private aheadBytes = 0;
  private readonly counts = { peakBytes: 0, loads: 0, hits: 0, joined: 0, evicted: 0, aheadDropped: 0 };

  constructor(options: BlockCacheOptions) {
    const { maxBytes, decoding = 4 } = options;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new LifeboatError('bad-request', `block cache bound ${maxBytes} is not a byte count`);
    if (!Number.isSafeInteger(decoding) || decoding < 1)
      throw new LifeboatError('bad-request', `block cache decoding ${decoding} is not a count ≥ 1`);
    this.maxBytes = maxBytes;
    this.decoding = decoding;
    this.aheadCap = Math.min(maxBytes, Math.max(0, options.aheadBytes ?? Math.floor(maxBytes / 4)));
    this.aheadSlots = Math.min(decoding, Math.max(1, options.aheadSlots ?? Math.floor(decoding / 2)));
  }

  /** The block of `key`: kept, being loaded, or loaded now (`bytes`: its expected size). */
  get(key: string, bytes: number, load: Load): Promise<Uint8Array> {
    const kept = this.kept.get(key);
    if (kept) {
      this.kept.delete(key);
      this.kept.set(key, kept);
      if (kept.ahead) this.unmarkAhead(kept, kept.value.byteLength);
      this.counts.hits++;
      return Promise.resolve(kept.value);
    }
    const pending = this.pending.get(key);
    if (pending) {
      this.counts.joined++;
      pending.loads.push(load);
      if (pending.ahead) {
        this.unmarkAhead(pending, pending.bytes);
        // Queued as read-ahead: a reader waits for it now, so it goes with the readers.
        const at = this.aheadQueue.indexOf(pending);
        if (at >= 0) {
          this.aheadQueue.splice(at, 1);
          this.readQueue.push(pending);
          this.pump();
        }
      }
      return pending.promise;
    }
    return this.enqueue(key, bytes, load, false).promise;
  }

  /** Loads `key` ahead of a reader when the read-ahead budget has room; nothing otherwise (a
   * failure shows when the block is read). */
  prefetch(key: string, bytes: number, load: Load): void {
    if (this.kept.has(key) || this.pending.has(key)) return;
    if (!this.makeAheadRoom(bytes)) {
      this.counts.aheadDropped++;
      return;
    }
    this.aheadBytes += bytes;
    this.enqueue(key, bytes, load, true);
  }

  stats(): BlockCacheStats {
    return {
      maxBytes: this.maxBytes,
      bytes: this.bytes,
      blocks: this.kept.size,
      aheadBytes: this.aheadBytes,
      decoding: this.running,
      queued: this.readQueue.length + this.aheadQueue.length,
      ...this.counts,
    };
  }

  private enqueue(key: string, bytes: number, load: Load, ahead: boolean): Entry {
    let resolve!: (value: Uint8Array) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<Uint8Array>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    // Read-ahead nobody reads fails quietly; a reader still sees the failure.
    promise.catch(() => undefined);
    const entry: Entry = { key, bytes, ahead, loads: [load], promise, resolve, reject };
    this.pending.set(key, entry);
    (ahead ? this.aheadQueue : this.readQueue).push(entry);
    this.pump();
    return entry;
  }

  private pump(): void {
    while (this.running < this.decoding) {
      const entry = this.readQueue.shift() ?? (this.runningAhead < this.aheadSlots ? this.aheadQueue.shift() : undefined);
      if (!entry) return;
      void this.run(entry, entry.ahead);
    }
  }

  private async run(entry: Entry, asAhead: boolean): Promise<void> {
    this.running++;
    if (asAhead) this.runningAhead++;
    try {
      const value = await this.loadFirstGood(entry);
      this.pending.delete(entry.key);
      if (entry.ahead) this.aheadBytes -= entry.bytes;
      this.keep(entry.key, value, entry.ahead);
      entry.resolve(value);
    } catch (error) {
      this.pending.delete(entry.key);
      if (entry.ahead) this.aheadBytes -= entry.bytes;
      entry.reject(error);
    } finally {
      this.running--;
      if (asAhead) this.runningAhead--;
      this.pump();
    }
  }

  /** The first of the entry's loads that succeeds (loads joined while one runs count too); the
   * last one's failure when none does. */
  private async loadFirstGood(entry: Entry): Promise<Uint8Array> {
    for (let tried = 0; ;) {
      const load = entry.loads[tried++] as Load;
      this.counts.loads++;
      try {
        return await load();
      } catch (error) {
        if (tried >= entry.loads.length) throw error;
      }
    }
  }

  private keep(key: string, value: Uint8Array, ahead: boolean): void {
    const size = value.byteLength;
    if (size > this.maxBytes) return;
    this.evictUntil(this.maxBytes - size);
    this.kept.set(key, { key, value, ahead });
    this.bytes += size;
    if (ahead) this.aheadBytes += size;
    this.counts.peakBytes = Math.max(this.counts.peakBytes, this.bytes);
  }

  /** Removes least recently used blocks until at most `bytes` are kept: ordinary ones first,
   * unread read-ahead only when nothing else is left. */
  private evictUntil(bytes: number): void {
    for (const unreadToo of [false, true]) {
      for (const [key, kept] of this.kept) {
        if (this.bytes <= bytes) return;
        if (kept.ahead && !unreadToo) continue;
        this.kept.delete(key);
        this.bytes -= kept.value.byteLength;
        if (kept.ahead) this.aheadBytes -= kept.value.byteLength;
        this.counts.evicted++;
      }
    }
  }

  /** Room in the read-ahead budget for `bytes` more, by turning the oldest unread kept blocks
   * into ordinary ones (their reader went elsewhere); false when loads in flight fill it. */
  private makeAheadRoom(bytes: number): boolean {
    if (bytes > this.aheadCap) return false;
    for (const kept of this.kept.values()) {
      if (this.aheadBytes + bytes <= this.aheadCap) break;
      if (kept.ahead) this.unmarkAhead(kept, kept.value.byteLength);
    }
    return this.aheadBytes + bytes <= this.aheadCap;
  }

  private unmarkAhead(item: { ahead: boolean }, bytes: number): void {
    item.ahead = false;
    this.aheadBytes -= bytes;
  }
}

/** The engine's bound when its options name none: 256 MiB, or `LIFEBOAT_BLOCK_CACHE_MIB`. */
export function blockCacheBytesFrom(env: NodeJS.ProcessEnv): number {
  const text = env.LIFEBOAT_BLOCK_CACHE_MIB;
  if (text === undefined || text === '') return 256 * 2 ** 20;
  const mib = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(mib * 2 ** 20))
    throw new LifeboatError('bad-request', `LIFEBOAT_BLOCK_CACHE_MIB "${text}" is not a whole number of MiB`);
  return mib * 2 ** 20;
}
