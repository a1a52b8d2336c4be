// One stripe of a disk restore, in a block worker: the stripe's blocks come in runs of
// STRIPE_RUN adjacent blocks; each run's stored blocks are read with one read per stretch that
// lies end to end in a data file, every block is unsealed, decompressed and SHA-256-checked, and
// then the run's adjacent data blocks go to the target in one gathered write (holes stay
// unwritten). A corrupt block fails the run before any of it is written. While a run is decoded
// the kernel already reads the stripe's next run and writes back the run before (io hints).
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { writeGathered } from './gathered-write.ts';
import { ioHints, type IoHints } from './restore-io-hints.ts';
import { zstdInto, type ZstdInto } from './zstd-into.ts';
import { LifeboatError } from '../errors.ts';
import { BlockKind, RECORD_BYTES, readRecord, type BlockRecord } from '../repository/block-map.ts';
import { Codec, decompressBlock } from '../repository/codec.ts';
import { unsealed } from '../repository/block-cipher.ts';
import { isAllZero } from '../disks/zero.ts';
import {
  STAGES,
  STRIPE_RUN,
  stripeOf,
  type DecodeRunResult,
  type DecodeRunTask,
  type RestoreStripeResult,
  type RestoreStripeTask,
} from './messages.ts';

/** A block that cannot be restored; `blockIndex` says which, so the engine can name its offset. */
export class StripeError extends LifeboatError {
  blockIndex = -1;
}

function readInto(fd: number, buffer: Uint8Array, length: number, position: number): Uint8Array {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) throw new LifeboatError('corrupt-backup', `data file ends before byte ${position + length}`);
    done += n;
  }
  return buffer.subarray(0, length);
}

export function writeAt(fd: number, data: Uint8Array, position: number): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written, position + written);
}

/** Stages of one run, in STAGES order (milliseconds). */
type StageClock = [number, number, number, number];

/** Records `first` to `stop` (exclusive) of a run, stored end to end in one data file. */
type Stretch = { fd: number; offset: number; length: number; first: number; stop: number };

class StripeRestorer {
  private readonly task: RestoreStripeTask;
  private readonly fds = new Map<number, number>();
  private target: number | null = null;
  /** Reused for every read: a run's stored blocks, read end to end. */
  private readBuffer: Uint8Array;
  private readonly clock: StageClock = [0, 0, 0, 0];
  blocks = 0;
  bytes = 0;
  unchangedBlocks = 0;
  private compared = 0;

  private readonly hints: IoHints;
  private readonly zstd: ZstdInto | null;
  /** Reused for every run: its zstd blocks decoded, block i of a run at i block sizes. */
  private readonly plainBuffer: Uint8Array;

  /** `buffers`: the read and decode buffers to use instead of new ones (a decode-run task's). */
  constructor(task: RestoreStripeTask, codecs: StripeCodecs, buffers?: { read: Uint8Array; plain: Uint8Array }) {
    this.task = task;
    this.hints = codecs.hints;
    this.zstd = codecs.zstd;
    this.readBuffer = buffers?.read ?? new Uint8Array(STRIPE_RUN * task.blockSize);
    this.plainBuffer = buffers?.plain ?? new Uint8Array(this.zstd ? STRIPE_RUN * task.blockSize : 0);
  }

  /** The read buffer as it is now (a run may have grown it). */
  get reusableReadBuffer(): Uint8Array {
    return this.readBuffer;
  }

  open(): void {
    for (const [sequence, path] of this.task.dataFiles) this.fds.set(sequence, openSync(path, 'r'));
    if (this.task.targetPath) this.target = openSync(this.task.targetPath, 'r+');
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    if (this.target !== null) closeSync(this.target);
  }

  private records(first: number, end: number): BlockRecord[] {
    const records: BlockRecord[] = [];
    for (let index = first; index < end; index++) {
      const record = readRecord(this.task.map, index * RECORD_BYTES);
      // The map's record index is that of the file it came from; the position is what counts here.
      records.push({ ...record, index });
    }
    return records;
  }

  /** Asks the kernel to read the stored blocks of `first` to `end` ahead (a restore's next run). */
  readAhead(first: number, end: number): void {
    const t0 = performance.now();
    // A data file missing from the chain fails that run when it comes, not here.
    const data = this.records(first, end).filter((record) => record.kind === BlockKind.data && this.fds.has(record.dataFile));
    for (const stretch of this.stretches(data)) this.hints.willNeed(stretch.fd, stretch.offset, stretch.length);
    // Asking may wait for the device's queue: counted as reading.
    this.clock[0] += performance.now() - t0;
  }

  /** Blocks `first` to `end` (exclusive) of this stripe. */
  run(first: number, end: number): void {
    const records = this.records(first, end);
    if (this.task.rollback && this.target !== null) {
      for (const record of records) this.rollbackBlock(record);
      return;
    }
    const data = records.filter((record) => record.kind === BlockKind.data);
    const plain = this.readAndCheck(data);
    if (this.target !== null && data.length > 0) this.writeAdjacent(data, plain);
    for (const block of plain) this.bytes += block.length;
    this.blocks += plain.length;
    this.task.progress[this.task.slot] = this.bytes;
  }

  /** Blocks `first` to `end` of one run decoded into `out` (block i of the run at i block sizes;
   * holes as zeros): zstd blocks decode in place (`out` is the plain buffer), the others are copied. */
  fill(first: number, end: number, out: Uint8Array): number {
    const records = this.records(first, end);
    const data = records.filter((record) => record.kind === BlockKind.data);
    const plain = this.readAndCheck(data);
    let next = 0;
    let bytes = 0;
    for (const record of records) {
      const position = (record.index - first) * this.task.blockSize;
      const length = this.expectedLength(record.index);
      bytes += length;
      if (record.kind !== BlockKind.data) {
        out.fill(0, position, position + length);
        continue;
      }
      const block = plain[next++] as Uint8Array;
      if (block.buffer !== out.buffer || block.byteOffset !== out.byteOffset + position) out.set(block, position);
    }
    return bytes;
  }

  flushTimings(): void {
    if (!this.task.timings) return;
    const at = this.task.slot * STAGES.length;
    this.clock.forEach((ms, stage) => {
      (this.task.timings as Float64Array)[at + stage] = ((this.task.timings as Float64Array)[at + stage] as number) + ms;
    });
    this.clock.fill(0);
  }

  private expectedLength(index: number): number {
    return Math.min(this.task.blockSize, this.task.capacity - index * this.task.blockSize);
  }

  private fail(index: number, why: string): never {
    const error = new StripeError('corrupt-backup', why);
    error.blockIndex = index;
    throw error;
  }

  /** The data records grouped by where they are stored: one stretch per run of records that lie
   * end to end in one data file. */
  private stretches(records: BlockRecord[]): Stretch[] {
    const stretches: Stretch[] = [];
    let first = 0;
    while (first < records.length) {
      const head = records[first] as BlockRecord;
      const fd = this.fds.get(head.dataFile);
      if (fd === undefined) this.fail(head.index, `its data file (point ${head.dataFile}) is not in the chain`);
      let stop = first + 1;
      let length = head.storedLength;
      for (let next = records[stop]; next; next = records[++stop]) {
        if (next.dataFile !== head.dataFile || next.offset !== head.offset + length) break;
        length += next.storedLength;
      }
      stretches.push({ fd, offset: head.offset, length, first, stop });
      first = stop;
    }
    return stretches;
  }

  /** The run's data blocks, read (one read per stretch stored end to end), decompressed and
   * checked; the results may be views into the read buffer, valid until the next run. */
  private readAndCheck(records: BlockRecord[]): Uint8Array[] {
    const t0 = performance.now();
    const stored: Uint8Array[] = [];
    let used = 0;
    for (const { fd, offset, length, first, stop } of this.stretches(records)) {
      if (used + length > this.readBuffer.length) {
        // Sealed blocks that do not compress are a little larger than a block: a new, larger
        // buffer from here on (the views already taken keep the old one alive until this run ends).
        this.readBuffer = new Uint8Array(Math.max(length, 2 * this.readBuffer.length));
        used = 0;
      }
      readInto(fd, this.readBuffer.subarray(used), length, offset);
      for (let at = first; at < stop; at++) {
        const record = records[at] as BlockRecord;
        stored.push(this.readBuffer.subarray(used, used + record.storedLength));
        used += record.storedLength;
      }
    }
    const t1 = performance.now();
    this.clock[0] += t1 - t0;
    return records.map((record, at) => this.decodeChecked(record, stored[at] as Uint8Array));
  }

  private decodeChecked(record: BlockRecord, stored: Uint8Array): Uint8Array {
    const t0 = performance.now();
    const expected = this.expectedLength(record.index);
    if (record.rawLength !== expected) this.fail(record.index, `recorded length ${record.rawLength} should be ${expected}`);
    let data: Uint8Array;
    try {
      const plain = unsealed(stored, record.codec, record.sha256, this.task.dataKey);
      data =
        plain.codec === Codec.zstd && this.zstd
          ? this.decodeZstd(this.zstd, plain.payload, record)
          : decompressBlock(plain.payload, plain.codec, record.rawLength);
    } catch (error) {
      return this.fail(record.index, (error as Error).message);
    }
    const t1 = performance.now();
    if (data.length !== record.rawLength) this.fail(record.index, `it decompresses to ${data.length} bytes instead of ${record.rawLength}`);
    if (!createHash('sha256').update(data).digest().equals(record.sha256))
      this.fail(record.index, 'its SHA-256 does not match the block map');
    this.clock[1] += t1 - t0;
    this.clock[2] += performance.now() - t1;
    return data;
  }

  /** A zstd block decoded into its place in the reused buffer (a view, valid until the next run). */
  private decodeZstd(zstd: ZstdInto, frame: Uint8Array, record: BlockRecord): Uint8Array {
    const at = (record.index % STRIPE_RUN) * this.task.blockSize;
    const into = this.plainBuffer.subarray(at, at + record.rawLength);
    try {
      return into.subarray(0, zstd(frame, into));
    } catch (error) {
      throw new LifeboatError('corrupt-backup', `block does not decompress (zstd): ${(error as Error).message}`);
    }
  }

  /** One gathered write per stretch of adjacent blocks (a hole between them ends a stretch), then
   * the run's range handed to the disk (holes in it have no pages: nothing is written for them). */
  private writeAdjacent(records: BlockRecord[], plain: Uint8Array[]): void {
    const t0 = performance.now();
    let start = 0;
    while (start < records.length) {
      let stop = start + 1;
      while (stop < records.length && (records[stop] as BlockRecord).index === (records[stop - 1] as BlockRecord).index + 1) stop++;
      writeGathered(this.target as number, plain.slice(start, stop), (records[start] as BlockRecord).index * this.task.blockSize);
      start = stop;
    }
    const from = (records[0] as BlockRecord).index * this.task.blockSize;
    this.hints.startWriteback(this.target as number, from, ((records.at(-1) as BlockRecord).index + 1) * this.task.blockSize - from);
    this.clock[3] += performance.now() - t0;
  }

  /** Quick rollback and compare: a block that already holds the point's content is left alone. */
  private rollbackBlock(record: BlockRecord): void {
    const target = this.target as number;
    const length = this.expectedLength(record.index);
    const position = record.index * this.task.blockSize;
    const current = readInto(target, new Uint8Array(length), length, position);
    const same = record.kind === BlockKind.data ? createHash('sha256').update(current).digest().equals(record.sha256) : isAllZero(current);
    this.compared += length;
    this.task.progress[this.task.slot] = this.compared;
    if (same) {
      this.unchangedBlocks++;
      return;
    }
    if (this.task.compareOnly) return;
    const data = record.kind === BlockKind.data ? this.readAndCheck([record])[0] : new Uint8Array(length);
    writeAt(target, data as Uint8Array, position);
    this.blocks++;
    this.bytes += length;
  }
}

/** What a stripe reads and decodes with: the addon's io hints and zstd decoder, or their fallbacks
 * (tests pass their own to restore without them). */
export type StripeCodecs = { hints: IoHints; zstd: ZstdInto | null };

/** The read buffer this thread's decode-run tasks share (one task at a time runs on a thread). */
let runReadBuffer: Uint8Array | null = null;

/** One run of a disk decoded into the task's view of a reader's ring (decode-run). */
export function decodeRun(task: DecodeRunTask, codecs: StripeCodecs = { hints: ioHints(), zstd: zstdInto() }): DecodeRunResult {
  const blocks = task.end - task.first;
  const bytes = Math.min(task.capacity, task.end * task.blockSize) - task.first * task.blockSize;
  if (task.first % STRIPE_RUN !== 0 || blocks < 1 || blocks > STRIPE_RUN || task.out.length < bytes)
    throw new LifeboatError('internal', `decode-run of blocks ${task.first} to ${task.end} into ${task.out.length} bytes is not one run`);
  const stripe: RestoreStripeTask = {
    ...task,
    type: 'restore-stripe',
    targetPath: null,
    slot: 0,
    slots: 1,
    control: new Int32Array(1),
    progress: new Float64Array(1),
  };
  runReadBuffer ??= new Uint8Array(STRIPE_RUN * task.blockSize);
  const restorer = new StripeRestorer(stripe, codecs, { read: runReadBuffer, plain: task.out });
  try {
    restorer.open();
    return { bytes: restorer.fill(task.first, task.end, task.out) };
  } finally {
    runReadBuffer = restorer.reusableReadBuffer;
    restorer.close();
  }
}

/** Restores (or verifies, or rolls back) the blocks of one stripe; the watermark moves past a
 * run only once all of it is written. */
export function restoreStripe(task: RestoreStripeTask, codecs: StripeCodecs = { hints: ioHints(), zstd: zstdInto() }): RestoreStripeResult {
  const restorer = new StripeRestorer(task, codecs);
  try {
    restorer.open();
    const blockCount = task.map.length / RECORD_BYTES;
    let index = task.watermarks ? Atomics.load(task.watermarks, task.slot) : 0;
    while (index < blockCount) {
      const end = Math.min(blockCount, (Math.floor(index / STRIPE_RUN) + 1) * STRIPE_RUN);
      if (stripeOf(index, task.slots) === task.slot) {
        if (task.watermarks) Atomics.store(task.watermarks, task.slot, index);
        if (Atomics.load(task.control, 0) !== 0) throw new LifeboatError('cancelled', 'stopped');
        // This stripe's next run is `slots` runs on: the kernel reads it while this one is decoded.
        const next = end + (task.slots - 1) * STRIPE_RUN;
        if (!task.rollback && next < blockCount) restorer.readAhead(next, Math.min(blockCount, next + STRIPE_RUN));
        restorer.run(index, end);
        restorer.flushTimings();
      }
      index = end;
    }
    if (task.watermarks) Atomics.store(task.watermarks, task.slot, blockCount);
    return { blocks: restorer.blocks, bytes: restorer.bytes, unchangedBlocks: restorer.unchangedBlocks };
  } catch (error) {
    Atomics.compareExchange(task.control, 0, 0, 2);
    throw error;
  } finally {
    restorer.close();
  }
}
