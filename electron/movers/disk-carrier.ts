// Carrying one disk through data movers: its task on the mover the transport decision chose, and
// when that mover is lost mid-disk (connection gone, or it says 'unavailable'), on another that
// can take it — or the same one back — from the last checkpoint, waiting a while for one to
// (re)join; a disk no mover can finish fails saying why for each.
import { randomUUID } from 'node:crypto';
import type { MoverTask } from '../../shared/domain.ts';
import { LifeboatError } from '../errors.ts';
import type { StepContext } from '../jobs/plan.ts';
import type { ResolvedDisk, ResolvedPoint } from '../repository/chain.ts';
import { rawBytesBelow } from './block-feed.ts';
import { MoverLost, runDiskTask } from './disk-task.ts';
import type { MoverConnection } from './mover-connection.ts';
import type { MoverLive } from './mover-handlers.ts';
import type { RateMeter } from './rate-meter.ts';

export type DiskTaskRequest = {
  jobId: string;
  context: StepContext;
  point: ResolvedPoint;
  disk: ResolvedDisk;
  datastore: string;
  /** Relative to the datastore's root (protocol.ts DatastorePath). */
  path: string;
  /** true: the mover makes the file (or replaces a placeholder); false: it exists at full size. */
  create: boolean;
  /** The mover the transport decision chose. */
  first: string;
  /** Why this mover cannot take the disk (transport, datastore, busy), or null. */
  eligible(mover: MoverLive & { name: string }): string | null;
  /** This disk's raw bytes written so far. */
  onProgress(bytes: number): void;
  /** Runs before the disk moves to another mover (a hot-added disk follows it). */
  onReassign?(from: string, to: string): Promise<void>;
};

/** How long a disk whose mover was lost waits for one that can finish it. */
export function moverRejoinMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.LIFEBOAT_MOVER_REJOIN_MS ?? '30000');
  return Number.isFinite(value) && value >= 0 ? value : 30_000;
}

/** The usual eligibility of a restore's disk: the transport, the datastore, a free slot. */
export function eligibleFor(transport: 'san' | 'hotadd' | 'nbd', datastore: string): DiskTaskRequest['eligible'] {
  return (mover) => {
    if (!mover.connected) return 'is not connected';
    if (!mover.transports.includes(transport)) return `does not offer ${transport}`;
    if (!mover.datastores[datastore]) return `cannot see datastore ${datastore}`;
    if (mover.tasks.length >= mover.slots) return `is busy (${mover.tasks.length} of ${mover.slots} tasks running)`;
    return null;
  };
}

/** Movers lost in a row with no new checkpoint between them: then the disk fails instead of
 * going round (a mover that takes a task and drops at once, again and again). */
const MAX_LOSSES_WITHOUT_PROGRESS = 5;

/** What the carrier needs of a mover the hub knows. */
export type CarrierState = {
  record: { name: string; removed: boolean };
  connection: MoverConnection | null;
  tasks: Map<string, MoverTask>;
  lastError: string | null;
  meter: RateMeter;
};

/** The hub's movers, as the carrier chooses among them. */
export type CarrierPool<S extends CarrierState> = {
  states(): Iterable<S>;
  liveOf(state: S): MoverLive;
  /** A task ended: a waiting disk looks again. */
  changed(): void;
  /** Resolves when a mover connects, leaves or frees a slot, after `ms`, or on abort. */
  waitForChange(ms: number, signal: AbortSignal): Promise<void>;
};

/** Writes one disk through movers, from the one the transport decision chose; a lost mover's
 * disk continues from its last checkpoint on another. Returns the raw bytes written and the
 * movers that carried it, in order. */
export async function carryDisk<S extends CarrierState>(
  pool: CarrierPool<S>,
  request: DiskTaskRequest,
): Promise<{ bytes: number; carriedBy: string[] }> {
  const { context, disk } = request;
  const carriedBy: string[] = [];
  let watermark = 0;
  let lost: { from: string; error: MoverLost } | null = null;
  let lossesWithoutProgress = 0;
  for (;;) {
    const chosen: { state: S } | { reason: string } =
      lost === null ? usable(pool, request, request.first) : { state: await waitForMover(pool, request) };
    if (!('state' in chosen)) {
      lost = { from: request.first, error: new MoverLost(chosen.reason, 0, 0) };
      continue;
    }
    const { state } = chosen;
    const name: string = state.record.name;
    const startedFrom = watermark;
    const base = rawBytesBelow(disk, watermark);
    const task = randomUUID();
    const total = rawBytesBelow(disk, disk.blockCount);
    const entry: MoverTask = { jobId: request.jobId, disk: disk.key, bytesDone: base, bytesTotal: total };
    // The slot is this disk's from the moment the mover is chosen: another disk waiting for a
    // mover must not take it while this one's hot-added disk moves over.
    state.tasks.set(task, entry);
    let reported = 0;
    try {
      if (lost) {
        context.log(
          `mover ${lost.from} lost at block ${lost.error.atBlock} (${lost.error.message}); disk ${disk.key} continues from checkpoint ${watermark} on mover ${name}`,
        );
        if (lost.from !== name) await request.onReassign?.(lost.from, name);
      }
      if (carriedBy.at(-1) !== name) carriedBy.push(name);
      const written = await runDiskTask({
        connection: state.connection as MoverConnection,
        moverName: name,
        task,
        jobId: request.jobId,
        point: request.point,
        disk,
        datastore: request.datastore,
        path: request.path,
        create: request.create && watermark === 0,
        resumeFrom: watermark,
        context,
        onProgress: (bytes) => {
          state.meter.add(bytes - reported);
          reported = bytes;
          entry.bytesDone = base + bytes;
          request.onProgress(base + bytes);
        },
        onCheckpoint: (reached) => (watermark = reached),
      });
      return { bytes: base + written, carriedBy };
    } catch (error) {
      if (!(error instanceof MoverLost)) {
        state.lastError = (error as Error).message;
        throw error;
      }
      state.lastError = `lost disk ${disk.key} of job ${request.jobId}: ${error.message}`;
      watermark = Math.max(watermark, error.watermark);
      lossesWithoutProgress = watermark > startedFrom ? 1 : lossesWithoutProgress + 1;
      lost = { from: name, error };
      if (lossesWithoutProgress >= MAX_LOSSES_WITHOUT_PROGRESS)
        throw new LifeboatError(
          'unavailable',
          `disk ${disk.key}: ${lossesWithoutProgress} movers in a row were lost without writing past block ${watermark} (last: mover ${name}, ${error.message})`,
        );
    } finally {
      state.tasks.delete(task);
      pool.changed();
    }
  }
}

/** The mover named `name` if it is connected and can take the request, else why not. */
function usable<S extends CarrierState>(pool: CarrierPool<S>, request: DiskTaskRequest, name: string): { state: S } | { reason: string } {
  const state = [...pool.states()].find((candidate) => candidate.record.name === name && !candidate.record.removed);
  if (!state?.connection || state.connection.lost) return { reason: 'it is not connected' };
  const reason = request.eligible({ ...pool.liveOf(state), name });
  return reason === null ? { state } : { reason: `it ${reason}` };
}

/** A mover that can take the request, waiting up to LIFEBOAT_MOVER_REJOIN_MS for one to
 * (re)join or free a slot; none → 'unavailable' with each mover's reason. */
async function waitForMover<S extends CarrierState>(pool: CarrierPool<S>, request: DiskTaskRequest): Promise<S> {
  const deadline = Date.now() + moverRejoinMs();
  const { signal } = request.context;
  for (;;) {
    if (signal.aborted) throw new LifeboatError('cancelled', 'the job was cancelled by the operator');
    const reasons: string[] = [];
    for (const state of pool.states()) {
      const name = state.record.name;
      if (state.record.removed) continue;
      if (!state.connection || state.connection.lost) reasons.push(`mover ${name} is not connected`);
      else {
        const reason = request.eligible({ ...pool.liveOf(state), name });
        if (reason === null) return state;
        reasons.push(`mover ${name} ${reason}`);
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new LifeboatError(
        'unavailable',
        `no mover can finish disk ${request.disk.key}: ${reasons.join('; ') || 'no mover is known'} (waited ${Math.round(moverRejoinMs() / 1000)} s for one to join)`,
      );
    }
    await pool.waitForChange(left, signal);
  }
}
