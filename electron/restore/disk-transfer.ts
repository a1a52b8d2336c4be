// The restore data path shared by every target: one disk of a resolved point written into a
// sparse file (its data's room reserved first, reserve-room.ts) by the block workers (read,
// decompress, verify SHA-256, write), with progress, cancel, and errors that name VM, point, disk
// and offset.
import { open, stat } from 'node:fs/promises';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { dataBytesAt } from '../repository/block-map.ts';
import type { ResolvedDisk, ResolvedPoint } from '../repository/chain.ts';
import type { StepContext } from '../jobs/plan.ts';
import type { DiskCheckpoint } from '../catalog/catalog.ts';
import { syncPath } from '../fs/durable.ts';
import { STAGES, type RestoreStripeResult } from '../workers/messages.ts';
import { WorkerTaskError, type WorkerPool } from '../workers/pool.ts';
import { killPoint } from '../kill-point.ts';
import { reserveDataRoom } from './reserve-room.ts';

const PROGRESS_POLL_MS = 200;

/** Bytes of data (not holes) a disk of a point holds: what a restore has to write. */
export function dataBytesOf(disk: ResolvedDisk): number {
  let bytes = 0;
  for (let index = 0; index < disk.blockCount; index++) bytes += dataBytesAt(disk.map, index);
  return bytes;
}

export type DiskTransfer = {
  pool: WorkerPool;
  point: ResolvedPoint;
  disk: ResolvedDisk;
  /** The file to write: sparse, full size, holes never written. It must not exist, unless
   * `replace` says it is a placeholder the hypervisor made or what an interrupted run of this
   * job left without a checkpoint (its content is discarded). */
  path: string;
  replace?: boolean;
  /** Where the file lives, for the out-of-space sentence. */
  targetLabel: string;
  context: StepContext;
  /** Called with this disk's bytes written so far. */
  onProgress(bytes: number): void;
  /** Checkpoints: where a resumed restore starts, and where progress is recorded. */
  checkpoints?: Checkpoints;
};

export type Checkpoints = { initial: DiskCheckpoint | null; save(checkpoint: DiskCheckpoint): void };

/** How often a restore records which blocks are on stable storage (each time: one fdatasync and
 * one catalog row). */
const CHECKPOINT_MS = Number(process.env.LIFEBOAT_CHECKPOINT_MS ?? '2000');

export async function restoreDiskToFile(transfer: DiskTransfer): Promise<number> {
  const resuming = transfer.checkpoints?.initial ?? null;
  if (!resuming) {
    const handle = await open(transfer.path, transfer.replace ? 'w' : 'wx', 0o644);
    await handle.truncate(transfer.disk.capacity);
    await handle.close();
    killPoint('disk-created');
  }
  const { disk, point } = transfer;
  const unreserved = await reserveDataRoom(
    transfer.path,
    { map: disk.map, blockCount: disk.blockCount, blockSize: point.blockSize },
    transfer.targetLabel,
  );
  if (unreserved) transfer.context.log(`disk ${disk.key}: its room was not reserved before writing: ${unreserved}`);
  return (await runStripes(transfer, transfer.path, false)).bytes;
}

/** Reads, decompresses and checks every block of a disk of a point, writing nothing. */
export async function verifyDisk(transfer: Omit<DiskTransfer, 'path' | 'replace' | 'targetLabel'>): Promise<number> {
  return (await runStripes({ ...transfer, path: '', targetLabel: 'verification' }, null, false)).bytes;
}

/** Quick rollback of an existing disk file of the same size: every block is compared with the
 * point and only those that differ are written (holes as zeros). Progress counts bytes compared. */
export async function rollbackDiskInPlace(
  transfer: DiskTransfer,
): Promise<{ bytesWritten: number; unchangedBlocks: number; blocks: number }> {
  const { size } = await stat(transfer.path);
  if (size !== transfer.disk.capacity) {
    throw new LifeboatError(
      'conflict',
      `disk ${transfer.disk.key} is ${size} bytes on the target and ${transfer.disk.capacity} in the restore point; quick rollback needs the same size`,
    );
  }
  const outcome = await runStripes(transfer, transfer.path, true);
  return { bytesWritten: outcome.bytes, unchangedBlocks: outcome.unchangedBlocks, blocks: transfer.disk.blockCount };
}

/** Reads a restored disk file and compares every block with the point (hash, holes as zeros);
 * writes nothing. Returns how many blocks differ. */
export async function compareDiskToFile(
  transfer: Omit<DiskTransfer, 'replace' | 'checkpoints'>,
): Promise<{ blocks: number; differing: number }> {
  const { size } = await stat(transfer.path);
  if (size !== transfer.disk.capacity) return { blocks: transfer.disk.blockCount, differing: transfer.disk.blockCount };
  const outcome = await runStripes(transfer, transfer.path, true, true);
  return { blocks: transfer.disk.blockCount, differing: transfer.disk.blockCount - outcome.unchangedBlocks };
}

async function runStripes(
  transfer: DiskTransfer,
  targetPath: string | null,
  rollback: boolean,
  compareOnly = false,
): Promise<{ bytes: number; unchangedBlocks: number }> {
  const { pool, point, disk, context } = transfer;
  const slots = pool.size;
  const control = new Int32Array(new SharedArrayBuffer(4));
  const progress = new Float64Array(new SharedArrayBuffer(8 * slots));
  const watermarks = new Int32Array(new SharedArrayBuffer(4 * slots));
  const initial = transfer.checkpoints?.initial;
  // A checkpoint taken with another number of workers stripes differently: start that disk over.
  if (initial && initial.watermarks.length === slots) watermarks.set(initial.watermarks);
  const onAbort = (): void => void Atomics.store(control, 0, 1);
  context.signal.addEventListener('abort', onAbort);
  const timings = new Float64Array(new SharedArrayBuffer(8 * slots * STAGES.length));
  const reported = new Float64Array(STAGES.length);
  const reportBusy = (): void => {
    STAGES.forEach((stage, index) => {
      let total = 0;
      for (let slot = 0; slot < slots; slot++) total += timings[slot * STAGES.length + index] as number;
      if (total > (reported[index] as number)) context.busy(stage, (total - (reported[index] as number)) / 1000);
      reported[index] = total;
    });
  };
  const timer = setInterval(() => {
    reportBusy();
    transfer.onProgress(progress.reduce((a, b) => a + b, 0));
  }, PROGRESS_POLL_MS);
  const checkpointer = transfer.checkpoints && targetPath ? startCheckpointing(targetPath, watermarks, transfer.checkpoints) : null;
  try {
    const results = await Promise.allSettled(
      Array.from({ length: slots }, (_, slot) =>
        pool.run<RestoreStripeResult>({
          type: 'restore-stripe',
          map: disk.map,
          blockSize: point.blockSize,
          capacity: disk.capacity,
          dataFiles: [...point.dataFiles],
          dataKey: point.dataKey,
          targetPath,
          slot,
          slots,
          control,
          progress,
          rollback,
          compareOnly,
          watermarks,
          timings,
        }),
      ),
    );
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
    // Report the stripe that failed first, not the ones it stopped.
    const failure = failures.find((error) => !(error instanceof WorkerTaskError && error.code === 'cancelled')) ?? failures[0];
    if (failure) throw explain(failure, transfer);
    const done = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const bytes = done.reduce((sum, result) => sum + result.bytes, 0);
    transfer.onProgress(rollback ? disk.capacity : bytes);
    if (checkpointer && targetPath) {
      await checkpointer.stop();
      await syncPath(targetPath);
      transfer.checkpoints?.save({ watermarks: [...watermarks], complete: true });
    }
    return { bytes, unchangedBlocks: done.reduce((sum, result) => sum + result.unchangedBlocks, 0) };
  } finally {
    clearInterval(timer);
    reportBusy();
    await checkpointer?.stop();
    // Stopped (the engine stops, or the operator cancels): the workers have left, so their
    // watermarks are final; recorded now, a resume redoes nothing they finished.
    if (checkpointer && targetPath && context.signal.aborted) await checkpointer.final();
    context.signal.removeEventListener('abort', onAbort);
  }
}

/** A checkpoint's sync makes the data movers' writes wait while the kernel flushes the file:
 * the next checkpoint waits this many times as long as the last sync took, so checkpoints cost
 * at most about a tenth of the restore's time (every 2 s, they tripled the time spent writing). */
const CHECKPOINT_SPACING = 10;

/** Every CHECKPOINT_MS (or CHECKPOINT_SPACING times the last sync, if longer): note the
 * watermarks, sync the target, then record them, so a recorded block is always on stable storage. */
function startCheckpointing(
  path: string,
  watermarks: Int32Array,
  checkpoints: Checkpoints,
): { stop(): Promise<void>; final(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let recorded = 0;
  const record = async (): Promise<number> => {
    const snapshot = [...watermarks];
    const started = performance.now();
    await syncPath(path);
    checkpoints.save({ watermarks: snapshot, complete: false });
    killPoint('checkpoint');
    // How many checkpoints a disk gets depends on the machine's speed; its first one does not,
    // nor does the first that records some blocks written (as fast as the restore may be).
    if (recorded++ === 0) killPoint('first-checkpoint');
    if (snapshot.some((mark) => mark > 0)) killPoint('partial-checkpoint');
    return performance.now() - started;
  };
  const schedule = (delay: number): void => {
    timer = setTimeout(() => {
      running = running
        .then(async () => {
          if (stopped) return;
          // A failed sync records nothing; the next one tries again.
          const took = await record().catch(() => 0);
          if (!stopped) schedule(Math.max(CHECKPOINT_MS, CHECKPOINT_SPACING * took));
        })
        .catch(() => undefined);
    }, delay);
  };
  schedule(CHECKPOINT_MS);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    final: () =>
      record().then(
        () => undefined,
        () => undefined,
      ),
  };
}

function explain(error: Error, transfer: DiskTransfer): Error {
  const { point, disk, context } = transfer;
  if (context.signal.aborted) return new LifeboatError('cancelled', 'the job was cancelled by the operator');
  if (isErrnoCode(error, 'ENOSPC') || /ENOSPC/.test(error.message))
    return new LifeboatError('target-full', `${transfer.targetLabel} ran out of space while writing disk ${disk.key}`);
  if (error instanceof WorkerTaskError && error.blockIndex !== undefined) {
    const offset = error.blockIndex * point.blockSize;
    return new LifeboatError(
      'corrupt-backup',
      `VM ${point.point.vmName}, point ${point.point.sequence}, disk ${disk.key} (${disk.fileName}), offset ${offset}: corrupt block, nothing written for it (${error.message})`,
    );
  }
  return error;
}
