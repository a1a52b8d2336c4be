// Where a backup puts the blocks it found changed: a block whose SHA-256 the chain (or this point)
// already stores is referenced (dedup); the others are compressed, and sealed with the chain key,
// in a worker, one message per piece of the disk, and appended to the point's data file in one write.
// A full point's pieces come already compressed (storePacked): a duplicate's payload is dropped.
import type { FileHandle } from 'node:fs/promises';
import type { BlockRecord } from '../repository/block-map.ts';
import { defaultCodec } from '../repository/codec.ts';
import { throwIfCancelled } from '../jobs/plan.ts';
import type { CompressBlocksResult, CompressBlocksTask, PackBlocksResult, PackBlocksTask, Stage } from '../workers/messages.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { BusyMeter } from './busy-meter.ts';

export type StoredBlock = Pick<BlockRecord, 'codec' | 'dataFile' | 'offset' | 'storedLength' | 'rawLength' | 'sha256'>;
export type BackupStats = { scannedBytes: number; changedBytes: number; storedBytes: number; dedupedBlocks: number };

type Settle = { promise: Promise<StoredBlock>; resolve: (stored: StoredBlock) => void; reject: (error: unknown) => void };
type Fresh = { index: number; sha256: Uint8Array; key: string; stored: Settle };

function settleLater(): Settle {
  let resolve: Settle['resolve'] = () => undefined;
  let reject: Settle['reject'] = () => undefined;
  const promise = new Promise<StoredBlock>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

async function writeAllAt(file: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  const { bytesWritten } = await file.writev(buffers, position);
  // A short write (rare on a regular file): the rest goes on in plain writes.
  const rest = bytesWritten < total ? Buffer.concat(buffers).subarray(bytesWritten) : Buffer.alloc(0);
  for (let done = 0; done < rest.length;)
    done += (await file.write(rest, done, rest.length - done, position + bytesWritten + done)).bytesWritten;
}

export class BlockStore {
  /** Blocks being compressed and written, by SHA-256 (hex): a second one alike waits for it. */
  private readonly pending = new Map<string, Promise<StoredBlock>>();
  /** Bytes written to the data file so far. */
  size = 0;
  /** Time the data file's writes were under way. */
  readonly writing = new BusyMeter();

  private readonly known: Map<string, StoredBlock>;
  private readonly data: FileHandle;
  private readonly sequence: number;
  private readonly pool: WorkerPool;
  private readonly sealKey: Uint8Array | null;
  private readonly stats: BackupStats;

  /** `known`: the blocks the chain stores, by SHA-256 (hex); this point's are added as they are
   * written to `data`, the data file of point `sequence`. */
  constructor(
    known: Map<string, StoredBlock>,
    data: FileHandle,
    sequence: number,
    pool: WorkerPool,
    sealKey: Uint8Array | null,
    stats: BackupStats,
  ) {
    this.known = known;
    this.data = data;
    this.sequence = sequence;
    this.pool = pool;
    this.sealKey = sealKey;
    this.stats = stats;
  }

  /** Where each of `blocks` (by index in `piece`, with its SHA-256) is stored, in order. `piece`
   * moves to a worker and must not be used after. */
  async store(
    piece: Uint8Array,
    blockSize: number,
    blocks: { index: number; sha256: Uint8Array }[],
    signal: AbortSignal,
    busy: (stage: Stage, seconds: number) => void = () => undefined,
  ): Promise<StoredBlock[]> {
    const fresh: Fresh[] = [];
    const where = blocks.map((block) => {
      const key = Buffer.from(block.sha256).toString('hex');
      const found = this.known.get(key) ?? this.pending.get(key);
      if (found) {
        this.stats.dedupedBlocks++;
        return found;
      }
      const stored = settleLater();
      stored.promise.catch(() => undefined); // the error is thrown below; waiters see it too
      this.pending.set(key, stored.promise);
      fresh.push({ ...block, key, stored });
      return stored.promise;
    });
    if (fresh.length > 0) await this.write(piece, blockSize, fresh, signal, busy);
    return Promise.all(where);
  }

  /** A full point's piece scanned and stored in one worker message: its scan (fast hashes and
   * zero flags), and where each block is stored (null: a zero block). `data` moves to the worker. */
  async storePiece(
    data: Uint8Array,
    blockSize: number,
    signal: AbortSignal,
    busy: (stage: Stage, seconds: number) => void,
  ): Promise<{ piece: PackBlocksResult; stored: (StoredBlock | null)[] }> {
    const task: PackBlocksTask = { type: 'pack-blocks', data, blockSize, codec: defaultCodec, sealKey: this.sealKey };
    const piece = await this.pool.run<PackBlocksResult>(task, [data.buffer as ArrayBuffer]);
    throwIfCancelled(signal);
    busy('hash', piece.busyMs.hash / 1000);
    busy('compress', piece.busyMs.compress / 1000);
    return { piece, stored: await this.storePacked(piece, blockSize) };
  }

  /** Where each block of a packed piece is stored (null: a zero block). The new ones are known
   * at once, at the offsets this write takes: a point whose write fails is never committed. */
  private async storePacked(piece: PackBlocksResult, blockSize: number): Promise<(StoredBlock | null)[]> {
    const payloads: Uint8Array[] = [];
    const position = this.size;
    const where = Array.from(piece.zero, (zero, index): StoredBlock | Promise<StoredBlock> | null => {
      if (zero) return null;
      const sha256 = piece.sha256.slice(index * 32, (index + 1) * 32);
      const key = Buffer.from(sha256).toString('hex');
      const found = this.known.get(key) ?? this.pending.get(key);
      if (found) {
        this.stats.dedupedBlocks++;
        return found;
      }
      const length = piece.lengths[index] as number;
      const at = piece.inData[index] ? index * blockSize : (piece.offsets[index] as number);
      payloads.push((piece.inData[index] ? piece.data : piece.packed).subarray(at, at + length));
      const stored: StoredBlock = {
        codec: piece.codecs[index] as number,
        dataFile: this.sequence,
        offset: this.size,
        storedLength: length,
        rawLength: Math.min(blockSize, piece.data.length - index * blockSize),
        sha256,
      };
      this.size += length;
      this.stats.storedBytes += length;
      this.known.set(key, stored);
      return stored;
    });
    if (payloads.length > 0) await this.writing.during(() => writeAllAt(this.data, payloads, position));
    return Promise.all(where);
  }

  private async write(
    piece: Uint8Array,
    blockSize: number,
    fresh: Fresh[],
    signal: AbortSignal,
    busy: (stage: Stage, seconds: number) => void,
  ): Promise<void> {
    try {
      const task: CompressBlocksTask = {
        type: 'compress-blocks',
        data: piece,
        blockSize,
        blocks: fresh.map((block) => block.index),
        codec: defaultCodec,
        ...(this.sealKey ? { seal: { key: this.sealKey, sha256s: fresh.map((block) => block.sha256) } } : {}),
      };
      const reply = await this.pool.run<CompressBlocksResult>(task, [piece.buffer as ArrayBuffer]);
      busy('compress', reply.busyMs / 1000);
      throwIfCancelled(signal);
      const payloads = reply.stored.map((form) => form.payload);
      let offset = this.size;
      this.size += payloads.reduce((sum, payload) => sum + payload.length, 0);
      await this.writing.during(() => writeAllAt(this.data, payloads, offset));
      reply.stored.forEach((form, i) => {
        const block = fresh[i] as Fresh;
        const stored: StoredBlock = {
          codec: form.codec,
          dataFile: this.sequence,
          offset,
          storedLength: form.payload.length,
          rawLength: Math.min(blockSize, reply.data.length - block.index * blockSize),
          sha256: block.sha256,
        };
        offset += form.payload.length;
        this.stats.storedBytes += form.payload.length;
        this.known.set(block.key, stored);
        block.stored.resolve(stored);
      });
    } catch (error) {
      for (const block of fresh) block.stored.reject(error);
      throw error;
    } finally {
      for (const block of fresh) this.pending.delete(block.key);
    }
  }
}
