// A real tape drive (SSC) behind the engine's TapeDrive. Reads run ahead of the consumer and
// writes run behind the producer, each through a bounded queue, so the drive sees its commands
// back to back while the host keeps up; one command is in flight at a time, in tape order.
// The position is counted here (READ POSITION, when the drive answers it truthfully, checks it
// after every move); a locate is one LOCATE to a logical object learned while reading or
// writing, else a rewind (when going back) and SPACE over filemarks and blocks.
import { LifeboatError } from '../../errors.ts';
import { TapeMediumError, type DriveModel, type DriveStats, type TapeDrive, type TapeRead } from '../../drivers/tape/tape-driver.ts';
import { driveFault, isEndOfData, isRefused, isShortSpace } from './drive-faults.ts';
import { StreamClock } from './drive-stream.ts';
import type { ScsiDevice } from './scsi-device.ts';
import { locate as locateObject, readBlock, readPosition, rewind, space, writeBlock, writeFilemarks } from './ssc.ts';
import { PositionBook, samePlace, type TapePosition } from './tape-position.ts';
import { Wakeup } from './wakeup.ts';

/** Read-ahead and write-behind each hold at most this much (a few seconds of an LTO drive). */
export const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;

export type ScsiDriveOptions = {
  index: number;
  barcode: string;
  device: ScsiDevice;
  blockSize: number;
  model: DriveModel;
  writeProtected: boolean;
  /** READ POSITION tells the truth (it said "beginning of tape" right after the rewind at load). */
  positionReporting: boolean;
  queueBytes?: number;
};

export class ScsiTapeDrive implements TapeDrive {
  readonly index: number;
  readonly barcode: string;
  readonly blockSize: number;
  readonly writeProtected: boolean;
  readonly device: ScsiDevice;
  private readonly positionReporting: boolean;
  private readonly queueBytes: number;
  private readonly clock: StreamClock;
  private readonly book = new PositionBook();
  /** Where the host is: past the last object read() returned, or the last block write() took. */
  private host: TapePosition;
  /** Where the drive is: past the last command that completed. */
  private drive: TapePosition;
  /** A command failed midway: the drive's position is unknown until a rewind or a LOCATE. */
  private lost = false;
  private locateSupported: boolean | null = null;
  private paused = false;
  private closed = false;
  private readonly counters = { bytesRead: 0, bytesWritten: 0, locates: 0 };
  private readonly stopAll = new AbortController();
  private readonly wake = new Wakeup();

  private readonly ahead: TapeRead[] = [];
  private aheadBytes = 0;
  private reader: Promise<void> | null = null;
  private stopReading = false;
  private readError: unknown = null;

  private readonly behind: Uint8Array[] = [];
  private behindBytes = 0;
  private writer: Promise<void> | null = null;
  private writeError: unknown = null;
  /** Sticky once the drive said so: every later write() reports it, until the tape moves. */
  private earlyWarning = false;

  constructor(options: ScsiDriveOptions) {
    this.index = options.index;
    this.barcode = options.barcode;
    this.blockSize = options.blockSize;
    this.writeProtected = options.writeProtected;
    this.device = options.device;
    this.positionReporting = options.positionReporting;
    this.queueBytes = Math.max(options.queueBytes ?? DEFAULT_QUEUE_BYTES, options.blockSize);
    this.clock = new StreamClock(options.model);
    this.host = this.book.origin();
    this.drive = this.book.origin();
  }

  private get label(): string {
    return `tape ${this.barcode} in drive ${this.index + 1}`;
  }

  private check(): void {
    if (this.closed) throw new LifeboatError('conflict', `${this.label} has been unloaded`);
  }

  private fault(error: unknown, at: TapePosition | null): unknown {
    return driveFault(error, { label: this.label, barcode: this.barcode, object: at?.object ?? null });
  }

  position(): { file: number; block: number } {
    return { file: this.host.file, block: this.host.block };
  }

  // ---- reading ----

  async read(signal?: AbortSignal): Promise<TapeRead> {
    this.check();
    this.paused = false;
    await this.finishWrites();
    if (this.drifted()) await this.moveTo(this.host, signal);
    for (let guard = 0; guard < 1_000_000; guard++) {
      const next = this.ahead.shift();
      if (next) {
        this.aheadBytes -= next.kind === 'block' ? next.data.length : 0;
        if (next.kind !== 'end-of-data') this.host = this.book.after(this.host, next.kind);
        // Read-ahead stops at a filemark: the next file is read only if the host asks for it.
        if (next.kind === 'block') this.startReading();
        return next;
      }
      if (this.readError !== null) {
        const error = this.readError;
        this.readError = null;
        // Like a drive after an unreadable block: the host may go on past it.
        if (error instanceof TapeMediumError) this.host = this.book.after(this.host, 'block');
        throw error;
      }
      this.startReading();
      await this.wake.wait(signal);
    }
    throw new LifeboatError('internal', `${this.label}: the read-ahead never answered`);
  }

  private startReading(): void {
    if (this.reader || this.readError !== null || this.closed || this.aheadBytes >= this.queueBytes) return;
    const last = this.ahead.at(-1);
    if (last && last.kind !== 'block') return;
    this.stopReading = false;
    // Cleared in a callback, never inside the loop: that might end before this assignment.
    this.reader = this.readAhead().finally(() => {
      this.reader = null;
      this.loopEnded();
    });
  }

  /** The read-ahead or write-behind loop stopped: a pause on purpose ends the streaming run. */
  private loopEnded(): void {
    if (this.paused) this.clock.stop();
    this.wake.notify();
  }

  private async readAhead(): Promise<void> {
    while (!this.stopReading && this.aheadBytes < this.queueBytes) {
      let result: TapeRead;
      try {
        result = await this.clock.timed('data', () => readBlock(this.device, this.blockSize, { signal: this.stopAll.signal }));
      } catch (error) {
        this.lost = true;
        this.readError = this.fault(error, this.drive);
        break;
      }
      if (result.kind === 'block') {
        this.counters.bytesRead += result.data.length;
        if (result.data.length !== this.blockSize) {
          this.drive = this.book.after(this.drive, 'block');
          this.readError = new LifeboatError(
            'corrupt-backup',
            `${this.label}: block ${this.drive.block - 1} of file ${this.drive.file} is ${result.data.length} bytes; the tape's blocks are ${this.blockSize}`,
          );
          break;
        }
      }
      if (result.kind !== 'end-of-data') this.drive = this.book.after(this.drive, result.kind);
      this.ahead.push(result);
      this.aheadBytes += result.kind === 'block' ? result.data.length : 0;
      this.wake.notify();
      if (result.kind !== 'block') {
        this.clock.stop();
        break;
      }
    }
  }

  /** Stops the read-ahead; blocks read but not taken are dropped (the drive is then ahead). */
  private async stopReadAhead(): Promise<void> {
    if (this.reader) {
      this.stopReading = true;
      await this.reader;
    }
    this.ahead.length = 0;
    this.aheadBytes = 0;
    this.readError = null;
  }

  /** The drive does not stand where the host does, and nothing queued explains it. */
  private drifted(): boolean {
    return !this.reader && !this.writer && this.ahead.length === 0 && (this.lost || !samePlace(this.host, this.drive));
  }

  // ---- writing ----

  async write(block: Uint8Array, signal?: AbortSignal): Promise<{ earlyWarning: boolean }> {
    this.check();
    this.paused = false;
    if (block.length !== this.blockSize)
      throw new LifeboatError('bad-request', `the drive writes blocks of ${this.blockSize} bytes, not ${block.length}`);
    this.refuseIfProtected();
    this.throwWriteError();
    if (this.reader || this.ahead.length > 0) await this.stopReadAhead();
    if (this.drifted()) await this.moveTo(this.host, signal);
    // The caller reuses its buffer: the queue keeps a copy.
    this.behind.push(Uint8Array.prototype.slice.call(block));
    this.behindBytes += block.length;
    this.host = this.book.after(this.host, 'block');
    if (!this.writer)
      this.writer = this.writeBehind().finally(() => {
        this.writer = null;
        this.loopEnded();
      });
    while (this.behindBytes > this.queueBytes && this.writeError === null) await this.wake.wait(signal);
    this.throwWriteError();
    return { earlyWarning: this.earlyWarning };
  }

  private refuseIfProtected(): void {
    if (this.writeProtected) throw new LifeboatError('conflict', `tape ${this.barcode} is write-protected; nothing was written to it`);
  }

  private throwWriteError(): void {
    if (this.writeError === null) return;
    const error = this.writeError;
    this.writeError = null;
    throw error;
  }

  private async writeBehind(): Promise<void> {
    for (let block = this.behind[0]; block; block = this.behind[0]) {
      const data = block;
      let result: { earlyWarning: boolean };
      try {
        result = await this.clock.timed('data', () => writeBlock(this.device, data, { signal: this.stopAll.signal }));
      } catch (error) {
        this.lost = true;
        this.writeError = this.fault(error, this.drive);
        // What the host queued after the failed block never reached the tape.
        this.behind.length = 0;
        this.behindBytes = 0;
        this.host = { ...this.drive };
        break;
      }
      this.behind.shift();
      this.behindBytes -= data.length;
      this.counters.bytesWritten += data.length;
      this.drive = this.book.after(this.drive, 'block');
      if (result.earlyWarning) this.earlyWarning = true;
      this.wake.notify();
    }
  }

  /** Waits until every queued block is on its way to the tape; throws the first write error. */
  private async finishWrites(): Promise<void> {
    for (let guard = 0; this.writer && guard < 1_000_000; guard++) await this.writer;
    this.throwWriteError();
  }

  async writeFilemarks(count: number): Promise<void> {
    this.check();
    if (!Number.isInteger(count) || count < 0) throw new LifeboatError('bad-request', `cannot write ${count} filemarks`);
    this.refuseIfProtected();
    await this.stopReadAhead();
    await this.finishWrites();
    if (this.drifted()) await this.moveTo(this.host);
    try {
      const { earlyWarning } = await this.clock.timed('move', () => writeFilemarks(this.device, count));
      if (earlyWarning) this.earlyWarning = true;
    } catch (error) {
      this.lost = true;
      throw this.fault(error, this.drive);
    } finally {
      this.clock.stop();
    }
    for (let i = 0; i < count; i++) this.drive = this.book.after(this.drive, 'filemark');
    this.host = { ...this.drive };
  }

  // ---- moving ----

  async rewind(signal?: AbortSignal): Promise<void> {
    this.check();
    await this.stopReadAhead();
    // A write that failed unseen is reported after the tape is back at its beginning.
    const pending = await this.finishWrites().then(
      () => null,
      (error: unknown) => error,
    );
    await this.toBeginning(signal);
    this.host = { ...this.drive };
    if (pending !== null) throw pending;
  }

  async locate(file: number, block: number, signal?: AbortSignal): Promise<void> {
    this.check();
    if (![file, block].every((n) => Number.isInteger(n) && n >= 0))
      throw new LifeboatError('bad-request', `cannot locate to file ${file}, block ${block}`);
    if (this.skipQueued(file, block)) return;
    await this.stopReadAhead();
    await this.finishWrites();
    await this.moveTo(this.book.at(file, block), signal);
    this.counters.locates++;
  }

  /** A short move forward within what the read-ahead already holds costs no command. */
  private skipQueued(file: number, block: number): boolean {
    if (this.lost || this.writer || file !== this.host.file || block < this.host.block) return false;
    const skip = block - this.host.block;
    if (skip === 0) return !this.drifted();
    if (this.ahead.slice(0, skip).filter((item) => item.kind === 'block').length < skip) return false;
    for (const item of this.ahead.splice(0, skip)) {
      this.aheadBytes -= item.kind === 'block' ? item.data.length : 0;
      this.host = this.book.after(this.host, 'block');
    }
    this.startReading();
    return true;
  }

  private async toBeginning(signal?: AbortSignal): Promise<void> {
    try {
      await this.clock.timed('move', () => rewind(this.device, signal));
    } catch (error) {
      this.lost = true;
      throw this.fault(error, null);
    } finally {
      this.clock.stop();
    }
    this.lost = false;
    this.earlyWarning = false;
    this.drive = this.book.origin();
    await this.checkPosition();
  }

  /** Puts the drive at `target` (the host's position follows). An early warning is learnt
   * again from the drive if the target lies past it. */
  private async moveTo(target: TapePosition, signal?: AbortSignal): Promise<void> {
    this.earlyWarning = false;
    const object = this.book.objectOf(target.file, target.block);
    if (object !== null && this.locateSupported !== false && !samePlace(target, this.drive)) {
      try {
        await this.clock.timed('move', () => locateObject(this.device, object));
        this.locateSupported = true;
        this.lost = false;
        this.drive = { file: target.file, block: target.block, object };
        await this.checkPosition();
        this.host = { ...this.drive };
        return;
      } catch (error) {
        // The first refusal teaches that this drive has no LOCATE: space from now on.
        if (this.locateSupported !== null || !isRefused(error)) {
          this.lost = true;
          if (isEndOfData(error))
            throw new LifeboatError(
              'not-found',
              `${this.label} has no block ${target.block} in file ${target.file} (LOCATE met the end of data)`,
            );
          throw this.fault(error, this.drive);
        }
        this.locateSupported = false;
      } finally {
        this.clock.stop();
      }
    }
    const behind = target.file < this.drive.file || (target.file === this.drive.file && target.block < this.drive.block);
    if (this.lost || behind) await this.toBeginning(signal);
    if (target.file > this.drive.file) {
      await this.spaceOver('filemarks', target.file - this.drive.file, target);
      this.drive = this.book.at(target.file, 0);
    }
    if (target.block > this.drive.block) {
      await this.spaceOver('blocks', target.block - this.drive.block, target);
      const object = this.drive.object === null ? null : this.drive.object + (target.block - this.drive.block);
      this.drive = { file: target.file, block: target.block, object };
    }
    await this.checkPosition();
    this.host = { ...this.drive };
  }

  private async spaceOver(what: 'filemarks' | 'blocks', count: number, target: TapePosition): Promise<void> {
    try {
      await this.clock.timed('move', () => space(this.device, what, count));
    } catch (error) {
      this.lost = true;
      if (isShortSpace(error)) {
        const place = what === 'filemarks' ? `file ${target.file}` : `block ${target.block} in file ${target.file}`;
        throw new LifeboatError('not-found', `${this.label} has no ${place} (the drive met the end of what is written first)`);
      }
      throw this.fault(error, this.drive);
    } finally {
      this.clock.stop();
    }
  }

  /** Asks the drive where it stands, when it answers truthfully: a disagreement means the count
   * here is wrong, and nothing may be read or written on a guess. */
  private async checkPosition(): Promise<void> {
    if (!this.positionReporting) return;
    const reported = await readPosition(this.device);
    const expected = this.drive.object;
    if (expected !== null && reported.logicalObject !== expected) {
      this.lost = true;
      throw new LifeboatError(
        'unavailable',
        `${this.label}: the drive reports logical object ${reported.logicalObject} where ${expected} was expected; its position is lost`,
      );
    }
    this.drive = this.book.learn(this.drive, reported.logicalObject);
  }

  // ---- the rest of TapeDrive ----

  pause(): void {
    this.paused = true;
    // The read-ahead stops after its current READ; the next read() starts it again.
    if (this.reader) this.stopReading = true;
    this.clock.stop();
  }

  stats(): DriveStats {
    return {
      bytesRead: this.counters.bytesRead,
      bytesWritten: this.counters.bytesWritten,
      starvedEvents: this.clock.starvedEvents,
      locates: this.counters.locates,
      busySeconds: this.clock.busyMs / 1000,
    };
  }

  /** Lets go of the tape (the library then rewinds and moves it): stops the read-ahead, waits
   * for queued writes, and returns a write error the host has not seen yet. */
  async release(): Promise<unknown> {
    if (this.closed) return null;
    await this.stopReadAhead();
    const pending = await this.finishWrites().then(
      () => null,
      (error: unknown) => error,
    );
    this.closed = true;
    this.stopAll.abort();
    return pending;
  }
}
