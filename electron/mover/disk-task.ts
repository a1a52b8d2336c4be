// One disk task on a mover: the engine's blocks, in ascending index, decompressed, checked
// (length, SHA-256) and written at index × blockSize into the task's file. Each block's decoding
// runs off the main thread (zlib and the SHA-256 on libuv's thread pool), DECODE_AHEAD blocks at
// once while the one before them is written; writes stay in order. Memory
// is bounded by the engine's window: credit goes back only for written blocks, and a block beyond
// the window ends the task. Every checkpointMs the file is synced and `checkpoint` says which
// blocks are on stable storage; `end` → sync → `done`. A bad block or a failed write ends the
// task with `failed` (the file stays: the engine decides); the connection stays up.
import { webcrypto } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { LifeboatError, isErrnoCode, toWireError } from '../errors.ts';
import { killPoint } from '../kill-point.ts';
import type { MessageOf, MoverMessage } from '../movers/protocol.ts';
import { decompressBlockAsync, isKnownCodec, ENCRYPTED_CODEC } from '../repository/codec.ts';
import type { DatastoreView } from './datastore-view.ts';
import type { EmitEvent } from './mover-events.ts';
import type { MoverTuning } from './mover-options.ts';

const CREDIT_BATCH_BYTES = 4 * 1024 * 1024;
/** Blocks decoded at once ahead of the write: libuv's thread pool has four threads; more would
 * only hold more decoded blocks in memory. */
const DECODE_AHEAD = 4;

/** A block, checked as it arrived (`admitted`: null, or the fault); `decoded` settles with its
 * bytes or the fault once its decoding has started. */
type QueuedBlock = {
  kind: 'block';
  message: MessageOf<'block'>;
  payload: Buffer;
  admitted: Error | null;
  decoded: Promise<Uint8Array> | null;
};
type Queued = QueuedBlock | { kind: 'end' };
export type SendToEngine = (message: MoverMessage) => Promise<boolean>;

const isErrnoLike = (error: unknown): boolean => error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';

export class DiskTask {
  readonly id: string;
  /** Settles when the task has ended (done, failed, cancelled or abandoned); never rejects. */
  readonly finished: Promise<void>;
  private readonly task: MessageOf<'task'>;
  private readonly send: SendToEngine;
  private readonly tuning: MoverTuning;
  private readonly emit: EmitEvent;
  private readonly blockCount: number;
  private readonly creditBatch: number;
  private readonly queue: Queued[] = [];
  private wake: (() => void) | null = null;
  /** cancelled: by the engine, `failed` still to send; over: nothing more is sent (done, failed, or abandoned with its connection). */
  private state: 'running' | 'cancelled' | 'over' = 'running';
  /** Payload bytes received and not yet given back as credit. */
  private outstanding = 0;
  private uncredited = 0;
  /** One past the last block taken: the next must be at least this. */
  private nextIndex: number;
  /** One past the last block written (the watermark once synced). */
  private writtenUpTo: number;
  private checkpointed: number;
  private lastCheckpointAt = Date.now();
  private bytesWritten = 0;
  private stageMs = { decompress: 0, verify: 0, write: 0 };
  private throttleFrom = Date.now();
  private throttledBytes = 0;

  constructor(task: MessageOf<'task'>, view: DatastoreView, send: SendToEngine, tuning: MoverTuning, emit: EmitEvent) {
    this.id = task.task;
    this.task = task;
    this.send = send;
    this.tuning = tuning;
    this.emit = emit;
    this.blockCount = Math.ceil(task.capacity / task.blockSize);
    this.creditBatch = Math.max(1, Math.min(CREDIT_BATCH_BYTES, Math.floor(task.window / 4)));
    this.nextIndex = task.resumeFrom;
    this.writtenUpTo = task.resumeFrom;
    this.checkpointed = task.resumeFrom;
    this.finished = this.run(view);
  }

  /** Whether the engine has heard the task's end (done or failed) or will hear nothing more of it. */
  reported(): boolean {
    return this.state === 'over';
  }

  /** A block from the engine; queued, or the task ends if it breaks the window (one block is
   * always let through when nothing else is outstanding, as the engine sends it). */
  block(message: MessageOf<'block'>, payload: Buffer): void {
    if (this.state !== 'running') return;
    const alone = this.outstanding === 0;
    this.outstanding += payload.length;
    if (!alone && this.outstanding > this.task.window) {
      this.fail(
        new LifeboatError(
          'bad-request',
          `the engine sent ${this.outstanding} bytes of ${this.task.disk} beyond the credit given back (window ${this.task.window})`,
        ),
      );
      return;
    }
    let admitted: Error | null = null;
    try {
      this.admit(message);
    } catch (error) {
      admitted = error as Error;
    }
    this.push({ kind: 'block', message, payload, admitted, decoded: null });
  }

  /** Starts decoding the next blocks in the queue, up to DECODE_AHEAD of them. */
  private decodeAhead(): void {
    for (const item of this.queue.slice(0, DECODE_AHEAD)) {
      if (item.kind !== 'block' || item.decoded) continue;
      item.decoded = item.admitted ? Promise.reject(item.admitted) : this.decode(item.message, item.payload);
      // Awaited when its turn to be written comes; a fault before then must not go unhandled.
      item.decoded.catch(() => undefined);
    }
  }

  /** A block may come only after the one before it, inside the disk, with the disk's length, in a
   * codec a mover decodes: checked as it arrives, in arrival order. */
  private admit(message: MessageOf<'block'>): void {
    const { index, codec, rawLength } = message;
    if (index < this.nextIndex || index >= this.blockCount)
      throw this.fault(message, 'bad-request', `out of order (expected a block from ${this.nextIndex} to ${this.blockCount - 1})`);
    this.nextIndex = index + 1;
    const expected = Math.min(this.task.blockSize, this.task.capacity - index * this.task.blockSize);
    if (rawLength !== expected) throw this.fault(message, 'bad-request', `says ${rawLength} bytes where the disk has ${expected}`);
    if (!isKnownCodec(codec) || codec & ENCRYPTED_CODEC)
      throw this.fault(message, 'bad-request', `codec ${codec} is not one a mover decodes (blocks are unsealed by the engine)`);
  }

  end(): void {
    this.push({ kind: 'end' });
  }

  /** The engine cancels: the block being written finishes, then `failed` (cancelled). */
  cancel(): void {
    if (this.state === 'running') this.halt('cancelled');
  }

  /** The connection is gone: stop quietly (the engine reassigns the task). */
  abandon(): void {
    this.halt('over');
  }

  private halt(state: 'cancelled' | 'over'): void {
    this.state = state;
    this.queue.length = 0;
    this.wake?.();
  }

  private push(item: Queued): void {
    if (this.state !== 'running') return;
    this.queue.push(item);
    this.wake?.();
  }

  /** Waits for a block, `end`, a stop, or (when given) `ms`. */
  private async idle(ms: number | null): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = ms === null ? null : setTimeout(resolve, ms);
      this.wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }

  private async run(view: DatastoreView): Promise<void> {
    let file: FileHandle | null = null;
    try {
      if (this.task.create && this.task.resumeFrom > 0)
        throw new LifeboatError(
          'bad-request',
          `${this.task.disk}: a task that resumes from block ${this.task.resumeFrom} cannot create its file anew`,
        );
      if (this.task.resumeFrom > this.blockCount)
        throw new LifeboatError(
          'bad-request',
          `${this.task.disk}: resume from block ${this.task.resumeFrom} is past its ${this.blockCount} blocks`,
        );
      file = await view.openTarget(this.task);
      while (this.state === 'running') {
        if (this.checkpointDue()) await this.checkpoint(file);
        this.decodeAhead();
        const item = this.queue.shift();
        if (!item) {
          await this.idle(
            this.writtenUpTo > this.checkpointed ? Math.max(0, this.lastCheckpointAt + this.tuning.checkpointMs - Date.now()) : null,
          );
          continue;
        }
        if (item.kind === 'end') {
          await file.datasync();
          await file.close();
          file = null;
          if (this.state !== 'running') break;
          this.state = 'over';
          await this.send({ type: 'done', task: this.id, bytesWritten: this.bytesWritten });
          this.emit({ event: 'task-done', task: this.id, bytesWritten: this.bytesWritten });
          return;
        }
        const data = await (item.decoded as Promise<Uint8Array>);
        this.decodeAhead();
        await this.write(file, item.message, item.payload, data);
      }
      if (this.state === 'cancelled') this.fail(new LifeboatError('cancelled', `${this.task.disk}: cancelled by the engine`));
    } catch (error) {
      this.fail(error);
    } finally {
      await file?.close().catch(() => undefined);
    }
  }

  private checkpointDue(): boolean {
    return this.writtenUpTo > this.checkpointed && Date.now() >= this.lastCheckpointAt + this.tuning.checkpointMs;
  }

  private async checkpoint(file: FileHandle): Promise<void> {
    await file.datasync();
    const watermark = this.writtenUpTo;
    const stageMs = this.stageMs;
    this.stageMs = { decompress: 0, verify: 0, write: 0 };
    this.checkpointed = watermark;
    this.lastCheckpointAt = Date.now();
    if (await this.send({ type: 'checkpoint', task: this.id, watermark, bytesWritten: this.bytesWritten, stageMs }))
      killPoint('mover-checkpoint');
  }

  private fault(message: MessageOf<'block'>, code: LifeboatError['code'], why: string): LifeboatError {
    const offset = message.index * this.task.blockSize;
    return new LifeboatError(code, `disk ${this.task.disk}: block ${message.index} at offset ${offset}: ${why}`);
  }

  /** The block's bytes as they belong on the disk, or the fault that says why not. */
  private async decode(message: MessageOf<'block'>, payload: Buffer): Promise<Uint8Array> {
    const { codec, rawLength } = message;
    let started = performance.now();
    const data = await decompressBlockAsync(payload, codec, rawLength).catch((error: unknown) => {
      // corrupt-backup, or unavailable where this runtime lacks the codec
      throw this.fault(message, error instanceof LifeboatError ? error.code : 'corrupt-backup', (error as Error).message);
    });
    this.stageMs.decompress += performance.now() - started;
    if (data.length !== rawLength) throw this.fault(message, 'corrupt-backup', `it decompresses to ${data.length} bytes, not ${rawLength}`);
    started = performance.now();
    const sha256 = Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex');
    this.stageMs.verify += performance.now() - started;
    if (sha256 !== message.sha256) throw this.fault(message, 'corrupt-backup', 'its SHA-256 does not match the block map');
    return data;
  }

  private async write(file: FileHandle, message: MessageOf<'block'>, payload: Buffer, data: Uint8Array): Promise<void> {
    const started = performance.now();
    try {
      for (let done = 0; done < data.length;) {
        const { bytesWritten } = await file.write(data, done, data.length - done, message.index * this.task.blockSize + done);
        done += bytesWritten;
      }
    } catch (error) {
      const full = isErrnoCode(error, 'ENOSPC') || isErrnoCode(error, 'EDQUOT');
      throw this.fault(
        message,
        full ? 'target-full' : 'unavailable',
        full ? 'the datastore is full' : `cannot be written: ${(error as Error).message}`,
      );
    }
    this.stageMs.write += performance.now() - started;
    this.writtenUpTo = message.index + 1;
    this.bytesWritten += data.length;
    await this.throttle(data.length);
    this.uncredited += payload.length;
    // Credit in batches, and all of it whenever the queue runs dry: the engine never waits on credit we hold.
    if (this.uncredited >= this.creditBatch || this.queue.length === 0) {
      const bytes = this.uncredited;
      this.uncredited = 0;
      this.outstanding -= bytes;
      await this.send({ type: 'credit', task: this.id, bytes });
    }
  }

  /** LIFEBOAT_MOVER_WRITE_BPS: a slow writer for the benches and back-pressure tests. */
  private async throttle(bytes: number): Promise<void> {
    const perSecond = this.tuning.writeBytesPerSecond;
    if (perSecond === null) return;
    this.throttledBytes += bytes;
    const due = this.throttleFrom + (this.throttledBytes * 1000) / perSecond - Date.now();
    if (due > 0) await sleep(due);
  }

  /** Ends the task with `failed` (nothing more is written; the file stays for the engine to judge). */
  private fail(error: unknown): void {
    if (this.state === 'over') return;
    this.halt('over');
    const wire = toWireError(error);
    // A system call's error (EACCES, EIO…) is the datastore's, not a bug of ours.
    const code = wire.code === 'internal' && isErrnoLike(error) ? 'unavailable' : wire.code;
    const sentence = error instanceof LifeboatError ? wire.message : `${this.task.disk}: ${wire.message}`;
    void this.send({ type: 'failed', task: this.id, code, message: sentence });
    this.emit({ event: 'task-failed', task: this.id, code, message: sentence });
  }
}
