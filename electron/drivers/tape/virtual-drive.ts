// A tape drive over a SIMH image: the byte position is the head, filemarks count files, and
// every transfer is paced by the streaming model so a slow host shows up as drive stops.
import type { FileHandle } from 'node:fs/promises';
import { LifeboatError } from '../../errors.ts';
import { encodeRecord, encodeTapeMark, readObject, TapeMediumError, type ImageReader } from './simh-tap.ts';
import { StreamingModel } from './streaming-model.ts';
import type { DriveModel, DriveStats, TapeDrive, TapeRead } from './tape-driver.ts';

const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** Waits shorter than this are carried over, so pacing does not cost a timer per block. */
const MIN_SLEEP_MS = 4;

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
    const done = (): void => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = (): void => {
      clearTimeout(timer);
      reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}

export type VirtualDriveOptions = {
  index: number;
  barcode: string;
  image: FileHandle;
  blockSize: number;
  capacityBytes: number;
  writeProtected: boolean;
  model: DriveModel;
  timeScale: number;
};

export class VirtualTapeDrive implements TapeDrive {
  readonly index: number;
  readonly barcode: string;
  readonly blockSize: number;
  private readonly image: FileHandle;
  private readonly options: VirtualDriveOptions;
  private readonly streaming: StreamingModel;
  private head = 0;
  private file = 0;
  private block = 0;
  /** Byte position where each file starts, learned while moving. */
  private readonly fileStarts = new Map<number, number>([[0, 0]]);
  /** The image past the head is cut away at the first write after a move, as on tape. */
  private cutDone = false;
  private debtMs = 0;
  private readonly counters = { bytesRead: 0, bytesWritten: 0, locates: 0, movingSeconds: 0 };
  closed = false;

  constructor(options: VirtualDriveOptions) {
    this.options = options;
    this.index = options.index;
    this.barcode = options.barcode;
    this.blockSize = options.blockSize;
    this.image = options.image;
    this.streaming = new StreamingModel(options.model);
  }

  private get label(): string {
    return `tape ${this.barcode} in drive ${this.index}`;
  }

  /** Read-ahead over the image, as the drive's own buffer would: one large read serves many
   * length words and blocks. Dropped whenever the tape is written or moved. */
  private window: { start: number; bytes: Buffer } | null = null;
  /** The window's memory, read into again at each refill (so what a read returns lasts until
   * the next read, locate or write): a buffer per refill cost the host's thread garbage
   * collections while streaming. */
  private windowMemory: Buffer | null = null;

  private readonly reader: ImageReader = async (position, length) => {
    const window = this.window;
    if (window && position >= window.start && position + length <= window.start + window.bytes.length) {
      return window.bytes.subarray(position - window.start, position - window.start + length);
    }
    const size = Math.max(length, READ_AHEAD_BYTES);
    if (!this.windowMemory || this.windowMemory.length < size) this.windowMemory = Buffer.allocUnsafe(size);
    const buffer = this.windowMemory;
    this.window = null;
    const { bytesRead } = await this.image.read(buffer, 0, size, position);
    this.window = { start: position, bytes: buffer.subarray(0, bytesRead) };
    return buffer.subarray(0, Math.min(length, bytesRead));
  };

  private check(): void {
    if (this.closed) throw new LifeboatError('conflict', `${this.label} has been unloaded`);
  }

  position(): { file: number; block: number } {
    return { file: this.file, block: this.block };
  }

  private async pace(ms: number, signal?: AbortSignal): Promise<void> {
    this.debtMs += ms;
    if (this.debtMs < MIN_SLEEP_MS) return;
    const wait = this.debtMs;
    this.debtMs = 0;
    await sleep(wait, signal);
  }

  private moved(to: number, seconds: number): void {
    this.head = to;
    this.window = null;
    this.cutDone = false;
    this.streaming.restart();
    this.counters.movingSeconds += seconds;
  }

  async rewind(signal?: AbortSignal): Promise<void> {
    this.check();
    const seconds = this.options.model.fullRewindSeconds * Math.min(1, this.head / this.options.capacityBytes);
    await sleep(seconds * this.options.timeScale * 1000, signal);
    this.moved(0, seconds);
    this.file = 0;
    this.block = 0;
  }

  /** Positions at block `block` of file `file` (file 0 starts at the beginning of tape). */
  async locate(file: number, block: number, signal?: AbortSignal): Promise<void> {
    this.check();
    const from = this.head;
    const known = [...this.fileStarts].filter(([number]) => number <= file).sort((a, b) => b[0] - a[0])[0] ?? [0, 0];
    let position = known[1];
    let currentFile = known[0];
    // Spacing reads only the length words; a bounded walk since every object moves forward.
    for (let guard = 0; currentFile < file; guard++) {
      if (guard > 50_000_000) throw new LifeboatError('internal', `${this.label}: locate did not end`);
      const object = await readObject(this.reader, position, { skipData: true, label: this.label }).catch((error: unknown) => {
        if (error instanceof TapeMediumError && error.fault === 'medium') return { kind: 'record' as const, next: skipBadRecord(error) };
        throw error;
      });
      if (object.kind === 'end')
        throw new LifeboatError('not-found', `${this.label} has no file ${file} (it ends after file ${currentFile})`);
      position = object.next;
      if (object.kind === 'mark') {
        currentFile++;
        this.fileStarts.set(currentFile, position);
      }
    }
    for (let skipped = 0; skipped < block; skipped++) {
      const object = await readObject(this.reader, position, { skipData: true, label: this.label });
      if (object.kind !== 'record') throw new LifeboatError('not-found', `${this.label}: file ${file} has fewer than ${block} blocks`);
      position = object.next;
    }
    const model = this.options.model;
    // High-speed locate runs several times faster than streaming; starting and stopping costs a second.
    const seconds = 1 + Math.abs(position - from) / (model.bytesPerSecond * 4);
    await sleep(seconds * this.options.timeScale * 1000, signal);
    this.counters.locates++;
    this.moved(position, seconds);
    this.file = file;
    this.block = block;
  }

  async read(signal?: AbortSignal): Promise<TapeRead> {
    this.check();
    for (let guard = 0; guard < 1_000_000; guard++) {
      let object;
      try {
        object = await readObject(this.reader, this.head, { label: this.label });
      } catch (error) {
        // After a medium error a drive stands past the bad block, so the host may go on.
        if (error instanceof TapeMediumError && error.fault === 'medium') {
          this.head = skipBadRecord(error);
          this.block++;
        }
        throw error;
      }
      if (object.kind === 'end') return { kind: 'end-of-data' };
      this.head = object.next;
      if (object.kind === 'gap') continue;
      if (object.kind === 'mark') {
        this.file++;
        this.block = 0;
        this.fileStarts.set(this.file, this.head);
        return { kind: 'filemark' };
      }
      if (object.data.length !== this.blockSize) {
        throw new LifeboatError(
          'corrupt-backup',
          `${this.label}: block ${this.block} of file ${this.file} is ${object.data.length} bytes; the drive reads fixed blocks of ${this.blockSize}`,
        );
      }
      this.block++;
      this.counters.bytesRead += object.data.length;
      await this.pace(this.streaming.read(object.data.length), signal);
      return { kind: 'block', data: object.data };
    }
    throw new LifeboatError('corrupt-backup', `${this.label}: too many erase gaps in a row`);
  }

  private async append(bytes: Buffer): Promise<void> {
    if (this.options.writeProtected) throw new LifeboatError('conflict', `${this.label} is write-protected; nothing was written`);
    if (this.head + bytes.length > this.options.capacityBytes) {
      throw new LifeboatError('target-full', `${this.label}: end of medium reached at byte ${this.head}`);
    }
    this.window = null;
    if (!this.cutDone) {
      await this.image.truncate(this.head);
      this.cutDone = true;
    }
    await this.image.write(bytes, 0, bytes.length, this.head);
    this.head += bytes.length;
  }

  async write(block: Uint8Array, signal?: AbortSignal): Promise<{ earlyWarning: boolean }> {
    this.check();
    if (block.length !== this.blockSize)
      throw new LifeboatError('bad-request', `the drive writes fixed blocks of ${this.blockSize} bytes, not ${block.length}`);
    await this.append(encodeRecord(block));
    this.block++;
    this.counters.bytesWritten += block.length;
    await this.pace(this.streaming.write(block.length), signal);
    return { earlyWarning: this.head >= this.options.capacityBytes - earlyWarningBytes(this.options.capacityBytes, this.blockSize) };
  }

  async writeFilemarks(count: number): Promise<void> {
    this.check();
    for (let i = 0; i < count; i++) {
      await this.append(encodeTapeMark());
      this.file++;
      this.block = 0;
      this.fileStarts.set(this.file, this.head);
    }
    await this.pace(this.streaming.flush());
    await this.image.sync();
  }

  pause(): void {
    this.streaming.restart();
  }

  stats(): DriveStats {
    return {
      bytesRead: this.counters.bytesRead,
      bytesWritten: this.counters.bytesWritten,
      starvedEvents: this.streaming.starvedEvents,
      locates: this.counters.locates,
      busySeconds: this.streaming.busySeconds + this.counters.movingSeconds,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.image.close();
  }

  /** Where the head is, for rewind timing at unload. */
  headPosition(): number {
    return this.head;
  }
}

/** Room kept past the early-warning point for a file's last blocks and the tape's catalog. */
export function earlyWarningBytes(capacity: number, blockSize: number): number {
  return Math.max(Math.floor(capacity * 0.02), blockSize * 16);
}

/** Where the object after an unreadable block starts (its length words were readable). */
function skipBadRecord(error: TapeMediumError): number {
  const length = error.recordLength ?? 0;
  return error.position + 8 + length + (length & 1);
}
