// A fixed set of block workers. Each worker has up to TASKS_PER_WORKER tasks posted to it, so it
// starts its next one as soon as it ends one, not after a round trip through this thread (which
// may be busy, or collecting garbage, just then); the rest queue here. A worker that dies takes
// its tasks down with a clear error and is replaced.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LifeboatError, type ErrorCode } from '../errors.ts';
import { LEAVE, type DecodeBlockResult, type DecodeBlockTask, type WorkerReply, type WorkerTask } from './messages.ts';
import type { BlockDecoder } from '../repository/point-disk.ts';

export class WorkerTaskError extends LifeboatError {
  readonly blockIndex: number | undefined;
  constructor(code: ErrorCode, message: string, blockIndex: number | undefined) {
    super(code, message);
    this.blockIndex = blockIndex;
  }
}

type Pending = { task: WorkerTask; transfer: ArrayBuffer[]; resolve: (value: unknown) => void; reject: (error: Error) => void };
/** Tasks posted to one worker, by id. */
type Slot = { worker: Worker; busy: Map<number, Pending> };

/** Tasks posted to one worker at once: the one it runs and the one it starts next. */
const TASKS_PER_WORKER = 2;
/** Tasks of a few milliseconds, behind which another may wait on the same worker. A task is
 * never posted behind a long one (a restore stripe, a file copy or hash), where it would wait
 * for it even after another worker fell free. */
const SHORT_TASKS: ReadonlySet<WorkerTask['type']> = new Set([
  'decode-block',
  'decode-run',
  'write-blocks',
  'scan-blocks',
  'compress-blocks',
  'pack-blocks',
]);

/** The worker entry: the .ts source when running from source, the bundle's .mjs when bundled. */
function workerUrl(): URL {
  const bundled = !import.meta.url.endsWith('.ts');
  return new URL(bundled ? './block-worker.mjs' : './block-worker.ts', import.meta.url);
}

export function defaultWorkerCount(): number {
  return Math.max(2, Math.min(4, availableParallelism()));
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  readonly size: number;

  constructor(size = defaultWorkerCount()) {
    this.size = size;
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(workerUrl()), busy: new Map() };
    slot.worker.on('message', (reply: WorkerReply) => {
      const pending = slot.busy.get(reply.id);
      if (!pending) return;
      slot.busy.delete(reply.id);
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(new WorkerTaskError(reply.error.code as ErrorCode, reply.error.message, reply.error.blockIndex));
      this.pump();
    });
    slot.worker.on('error', (error) => this.replace(slot, error));
    slot.worker.on('exit', (code) => {
      if (!this.closed) this.replace(slot, new Error(`block worker exited with code ${code}`));
    });
    slot.worker.unref();
    return slot;
  }

  private replace(slot: Slot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    for (const pending of slot.busy.values()) pending.reject(new LifeboatError('internal', `block worker failed: ${error.message}`));
    slot.busy.clear();
    void slot.worker.terminate();
    if (this.closed) return;
    this.slots[index] = this.spawn();
    this.pump();
  }

  run<T>(task: WorkerTask, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new LifeboatError('unavailable', 'the engine is shutting down'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ task, transfer, resolve: resolve as (value: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    // Level by level: every idle worker gets a task before any gets a second one.
    for (let depth = 1; depth <= TASKS_PER_WORKER; depth++) {
      for (const slot of this.slots) {
        if (slot.busy.size >= depth || ![...slot.busy.values()].every((posted) => SHORT_TASKS.has(posted.task.type))) continue;
        const pending = this.queue.shift();
        if (!pending) break;
        const id = this.nextId++;
        slot.busy.set(id, pending);
        slot.worker.ref();
        slot.worker.postMessage({ id, task: pending.task }, pending.transfer);
      }
    }
    for (const slot of this.slots) if (slot.busy.size === 0) slot.worker.unref();
  }

  /** Idle workers are asked to leave and end on their own; only a busy one, or one that does not
   * leave in time, is terminated. Terminating a thread that is still starting (its modules and the
   * WebAssembly hasher compiling) aborted the whole process now and then (V8 OS::Abort on a
   * platform thread), and an engine opened and closed at once stops its workers just then. */
  /** Resolves with the workers' exit codes: 0 for one that left on its own. */
  async close(): Promise<number[]> {
    this.closed = true;
    const shuttingDown = (): LifeboatError => new LifeboatError('unavailable', 'the engine is shutting down');
    for (const pending of this.queue.splice(0)) pending.reject(shuttingDown());
    // Tasks posted to a worker that is terminated now never answer: their callers hear it here.
    const busy = this.slots.map((slot) => slot.busy.size > 0);
    for (const slot of this.slots) {
      for (const pending of slot.busy.values()) pending.reject(shuttingDown());
      slot.busy.clear();
    }
    return Promise.all(this.slots.map((slot, index) => (busy[index] ? slot.worker.terminate() : leave(slot.worker))));
  }
}

/** How long an idle worker may take to leave before it is terminated after all. */
const LEAVE_MS = 10_000;

async function leave(worker: Worker): Promise<number> {
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), LEAVE_MS)));
  worker.ref();
  worker.postMessage(LEAVE);
  try {
    const code = await Promise.race([exited, late]);
    return code === 'late' ? worker.terminate() : code;
  } finally {
    clearTimeout(timer);
  }
}

/** A buffer that can be moved to a worker: it must own its whole ArrayBuffer. */
export function ownedCopy(data: Uint8Array): Uint8Array {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer)) return data;
  return new Uint8Array(data);
}

/** Decodes stored blocks in the pool's workers (for readers of a point outside a restore). */
export function workerDecoder(pool: WorkerPool): BlockDecoder {
  return async (payload, codec, rawLength, sha256, dataKey) => {
    const owned = ownedCopy(payload);
    const task: DecodeBlockTask = { type: 'decode-block', payload: owned, codec, rawLength, sha256, dataKey };
    return (await pool.run<DecodeBlockResult>(task, [owned.buffer as ArrayBuffer])).data;
  };
}
