// One disk task on one mover: `task`, then the disk's stored blocks from the resume watermark, at
// most WINDOW payload bytes ahead of the credit the mover gave back (so a slow writer holds the
// engine's reading, not its memory), then `end`; the mover's checkpoints, credits and stage times
// come back as progress and busy time. A lost connection or a mover that says 'unavailable' ends
// the run with MoverLost (the hub gives the disk to another mover); any other failure is the job's.
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import type { ResolvedDisk, ResolvedPoint } from '../repository/chain.ts';
import { feedBlocks, readingAhead } from './block-feed.ts';
import type { MoverConnection, TaskMessage } from './mover-connection.ts';

/** Payload bytes in flight to one task at most: the mover never holds more of it. */
export const TASK_WINDOW_BYTES = 32 * 1024 * 1024;
/** How long a cancelled task waits for the mover to confirm before the job moves on. */
const CANCEL_WAIT_MS = 2_000;

export class MoverLost extends Error {
  /** Every block below it is on the mover's stable storage. */
  readonly watermark: number;
  /** The first block the mover had not confirmed (credits come in batches, so at least the watermark). */
  readonly atBlock: number;
  constructor(reason: string, watermark: number, atBlock: number) {
    super(reason);
    this.watermark = watermark;
    this.atBlock = atBlock;
  }
}

export type DiskTaskRun = {
  connection: MoverConnection;
  moverName: string;
  task: string;
  jobId: string;
  point: ResolvedPoint;
  disk: ResolvedDisk;
  datastore: string;
  path: string;
  create: boolean;
  resumeFrom: number;
  context: StepContext;
  /** Raw bytes this run has had written (credited by the mover). */
  onProgress(bytes: number): void;
  onCheckpoint(watermark: number): void;
};

type Outcome = { kind: 'done' } | { kind: 'error'; error: Error };

/** Runs the task to its end; returns the raw bytes written in this run. */
export async function runDiskTask(run: DiskTaskRun): Promise<number> {
  const { connection, context, disk, point } = run;
  // Cancelled before the task starts (while a disk was hot-added, say): an aborted signal fires
  // no more 'abort' events, so nothing below would ever end the wait.
  if (context.signal.aborted) throw new LifeboatError('cancelled', 'the job was cancelled by the operator');
  let watermark = run.resumeFrom;
  let inFlight = 0;
  /** Sent blocks not yet credited, oldest first. */
  const unconfirmed: { left: number; raw: number; index: number }[] = [];
  let nextIndex = run.resumeFrom;
  let rawConfirmed = 0;
  let rawSent = 0;
  let outcome: Outcome | null = null;
  /** `end` was sent: a `done` before it is a broken mover's. */
  let ended = false;
  let wake: (() => void) | null = null;
  const awaken = (): void => {
    wake?.();
    wake = null;
  };
  const settle = (value: Outcome): void => {
    outcome ??= value;
    awaken();
  };
  const lostAt = (reason: string): MoverLost => new MoverLost(reason, watermark, Math.max(watermark, unconfirmed[0]?.index ?? nextIndex));

  const onMessage = (message: TaskMessage): void => {
    switch (message.type) {
      case 'credit': {
        inFlight = Math.max(0, inFlight - message.bytes);
        let credit = message.bytes;
        while (credit > 0 && unconfirmed.length > 0) {
          const head = unconfirmed[0] as { left: number; raw: number };
          const used = Math.min(credit, head.left);
          head.left -= used;
          credit -= used;
          if (head.left === 0) {
            rawConfirmed += head.raw;
            unconfirmed.shift();
          }
        }
        run.onProgress(rawConfirmed);
        awaken();
        return;
      }
      case 'checkpoint':
        // Never past what was sent: a mover's word cannot make the engine skip blocks it never had.
        watermark = Math.max(watermark, Math.min(message.watermark, nextIndex));
        run.onCheckpoint(watermark);
        context.busy('decompress', message.stageMs.decompress / 1000);
        context.busy('verify', message.stageMs.verify / 1000);
        context.busy('target write', message.stageMs.write / 1000);
        return;
      case 'done':
        // Done before it was sent every block: a broken mover; its disk goes on elsewhere.
        if (!ended) {
          connection.lose(`protocol error: done for disk ${disk.key} before the engine sent its end`);
          return;
        }
        watermark = disk.blockCount;
        settle({ kind: 'done' });
        return;
      case 'failed':
        if (message.code === 'unavailable') settle({ kind: 'error', error: lostAt(`failed: ${message.message}`) });
        else if (message.code === 'cancelled')
          settle({ kind: 'error', error: new LifeboatError('cancelled', 'the job was cancelled by the operator') });
        else settle({ kind: 'error', error: new LifeboatError(message.code, `mover ${run.moverName}: ${message.message}`) });
        return;
    }
  };
  const unlisten = connection.listen(run.task, {
    onMessage,
    onLost: (reason) => settle({ kind: 'error', error: lostAt(reason) }),
  });
  const onAbort = (): void => {
    connection.send({ type: 'cancel', task: run.task });
    const timer = setTimeout(
      () => settle({ kind: 'error', error: new LifeboatError('cancelled', 'the job was cancelled by the operator') }),
      CANCEL_WAIT_MS,
    );
    timer.unref();
  };
  context.signal.addEventListener('abort', onAbort);
  const waitForCreditOrEnd = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  try {
    connection.send({
      type: 'task',
      task: run.task,
      jobId: run.jobId,
      disk: disk.key,
      datastore: run.datastore,
      path: run.path,
      capacity: disk.capacity,
      blockSize: point.blockSize,
      resumeFrom: run.resumeFrom,
      create: run.create,
      window: TASK_WINDOW_BYTES,
    });
    for await (const block of readingAhead(feedBlocks(point, disk, run.resumeFrom, (seconds) => context.busy('source read', seconds)))) {
      const waiting = performance.now();
      while (outcome === null && inFlight > 0 && inFlight + block.payload.length > TASK_WINDOW_BYTES) await waitForCreditOrEnd();
      if (outcome !== null || context.signal.aborted) break;
      const { payload, ...header } = block;
      inFlight += payload.length;
      unconfirmed.push({ left: payload.length, raw: block.rawLength, index: block.index });
      nextIndex = block.index + 1;
      rawSent += block.rawLength;
      if (!connection.send({ type: 'block', task: run.task, ...header }, payload)) await connection.drained();
      context.busy('network', (performance.now() - waiting) / 1000);
    }
    if (outcome === null && !context.signal.aborted) {
      ended = true;
      connection.send({ type: 'end', task: run.task });
    }
    while (outcome === null) await waitForCreditOrEnd();
    const final = outcome as Outcome;
    if (final.kind === 'error') throw final.error;
    run.onProgress(rawSent);
    return rawSent;
  } catch (error) {
    // The engine's own failure (a damaged stored block): the mover stops the task too.
    if (outcome === null) connection.send({ type: 'cancel', task: run.task });
    throw error;
  } finally {
    context.signal.removeEventListener('abort', onAbort);
    unlisten();
  }
}
