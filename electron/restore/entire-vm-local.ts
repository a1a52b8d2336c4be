// Entire VM restore to a local datastore folder, in the phases of a hypervisor restore:
// initialization, VM configuration, snapshot, disk transport, snapshot commit, finalization.
// A local folder has no hypervisor, so the two snapshot steps are shown as skipped.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskCheckpoint } from '../catalog/catalog.ts';
import type { Resuming } from '../drivers/local-datastore/local-datastore.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { dataBytesOf, restoreDiskToFile } from './disk-transfer.ts';
import { ResumeBlocked, type JobWork } from '../jobs/job-work.ts';
import { Plan, skip, type Skipped, type StepContext } from '../jobs/plan.ts';
import { LocalVmWriter } from './local-vm-writer.ts';

/** The titles of an entire-VM restore's steps, the same wherever the VM goes (local folder or
 * vSphere): the operator sees one set of phases. */
export const entireVmStepTitles = {
  initialize: 'Initialization: check the chain and the target, start data movers',
  'restore-configuration': 'Restore the VM configuration',
  'create-snapshot': 'Create a VM snapshot',
  'transfer-disks': 'Transfer disk data',
  'commit-snapshot': 'Commit the VM snapshot',
  finalize: 'Finalize: sync and publish the VM files',
} as const;

export type RestoreRequest = { vmId: string; pointId: string; targetPath: string; newName?: string | undefined };

/** Where a restore keeps its per-disk checkpoints (the catalog), and, when it resumes, what its
 * earlier run had published. */
export type CheckpointStore = {
  load(diskKey: string): DiskCheckpoint | null;
  save(diskKey: string, checkpoint: DiskCheckpoint): void;
  resuming: Resuming | null;
};

/** The size of a file, or null when there is none. */
async function sizeOf(path: string): Promise<number | null> {
  return stat(path).then(
    (stats) => stats.size,
    () => null,
  );
}

/** The point being restored and the target folder claimed for it, for every step after initialization. */
type Claimed = { point: ResolvedPoint; writer: LocalVmWriter; bytesTotal: number };

export class EntireVmLocalRestore implements JobWork {
  static readonly plan = Plan.of<EntireVmLocalRestore>()
    .step('initialize', entireVmStepTitles.initialize, (work, _none, context) => work.initialize(context))
    .step('restore-configuration', entireVmStepTitles['restore-configuration'], async (_work, claimed, context) => {
      await claimed.writer.writeConfiguration(context);
      return claimed;
    })
    .step('create-snapshot', entireVmStepTitles['create-snapshot'], async (_work, claimed, context) => noHypervisor(claimed, context))
    .step('transfer-disks', entireVmStepTitles['transfer-disks'], (work, claimed, context) => work.transferDisks(claimed, context))
    .step('commit-snapshot', entireVmStepTitles['commit-snapshot'], async (_work, claimed, context) => noHypervisor(claimed, context))
    .step('finalize', entireVmStepTitles.finalize, (_work, claimed, context) => claimed.writer.publish(context));
  readonly plan = EntireVmLocalRestore.plan.bind(this);
  // What finish() and result() need: the point restored, the folder to publish or discard.
  private point: ResolvedPoint | null = null;
  private writer: LocalVmWriter | null = null;
  private bytesWritten = 0;

  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly jobId: string;
  private readonly request: RestoreRequest;

  private readonly checkpoints: CheckpointStore | null;

  constructor(
    repository: Repository,
    pool: WorkerPool,
    jobId: string,
    request: RestoreRequest,
    checkpoints: CheckpointStore | null = null,
  ) {
    this.checkpoints = checkpoints;
    this.repository = repository;
    this.pool = pool;
    this.jobId = jobId;
    this.request = request;
  }

  private async initialize(context: StepContext): Promise<Claimed> {
    let claimed: Claimed;
    try {
      claimed = await this.claim(context);
    } catch (error) {
      // Nothing of the earlier run was touched before the claim: keep it for another resume.
      if (this.checkpoints?.resuming && !this.writer && error instanceof Error)
        throw new ResumeBlocked(error instanceof LifeboatError ? error.code : 'internal', `cannot resume yet: ${error.message}`);
      throw error;
    }
    context.log(`data movers: ${this.pool.size} worker threads read, decompress, verify and write in parallel`);
    return claimed;
  }

  private async claim(context: StepContext): Promise<Claimed> {
    const point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    this.point = point;
    const bytesTotal = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    context.log(
      `point ${point.point.sequence} of ${point.point.vmName} (${point.chain.length} link(s) in its chain), ${bytesTotal} bytes of data to write`,
    );
    const writer = await LocalVmWriter.claim({
      target: this.request.targetPath,
      jobId: this.jobId,
      resuming: this.checkpoints?.resuming ?? null,
      manifest: point.point,
      newName: this.request.newName,
      bytesNeeded: bytesTotal,
      context,
    });
    this.writer = writer;
    return { point, writer, bytesTotal };
  }

  private async transferDisks(claimed: Claimed, context: StepContext): Promise<Claimed> {
    const { point, writer, bytesTotal } = claimed;
    context.progress(0, bytesTotal);
    for (const disk of point.disks) {
      const path = await writer.prepareDisk(disk.key, disk.capacity, false);
      const checkpoints = this.checkpoints;
      const resuming = checkpoints?.resuming ?? null;
      const initial = resuming ? await this.usableCheckpoint(writer, disk.key, disk.capacity, path, context) : null;
      if (initial?.complete) {
        this.bytesWritten += dataBytesOf(disk);
        context.log(`disk ${disk.key} was complete before the interruption; not written again`);
        continue;
      }
      if (initial) context.log(`disk ${disk.key}: resuming from its checkpoint`);
      const base = this.bytesWritten;
      this.bytesWritten += await restoreDiskToFile({
        ...(checkpoints ? { checkpoints: { initial, save: (checkpoint: DiskCheckpoint) => checkpoints.save(disk.key, checkpoint) } } : {}),
        pool: this.pool,
        point,
        disk,
        path,
        // A resumed disk without a checkpoint starts over, whatever its earlier run left there.
        replace: resuming !== null,
        targetLabel: `target ${writer.folder.path}`,
        context,
        onProgress: (bytes) => context.progress(base + bytes, bytesTotal),
      });
      context.log(`disk ${disk.key} restored to ${writer.files(disk.key).descriptor}`);
    }
    return claimed;
  }

  /** A disk's checkpoint, if the file it describes is still there at full size: in the staging
   * folder, or (complete) already published. Otherwise the disk starts over. */
  private async usableCheckpoint(
    writer: LocalVmWriter,
    diskKey: string,
    capacity: number,
    stagedPath: string,
    context: StepContext,
  ): Promise<DiskCheckpoint | null> {
    const checkpoint = this.checkpoints?.load(diskKey) ?? null;
    if (!checkpoint) return null;
    const published = join(writer.folder.path, writer.files(diskKey).flat);
    if (
      (await sizeOf(stagedPath)) === capacity ||
      (checkpoint.complete && (await sizeOf(published)) === capacity && writer.folder.hasPublished(published))
    )
      return checkpoint;
    context.log(`disk ${diskKey} has a checkpoint but not the file it describes; that disk starts over`, 'warning');
    return null;
  }

  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) await this.writer?.discard();
  }

  result(): Record<string, unknown> {
    return {
      vmName: this.writer?.vmName ?? this.request.newName ?? '',
      pointId: this.point?.point.id ?? this.request.pointId,
      target: this.writer?.folder.path ?? this.request.targetPath,
      files: this.writer?.published ?? [],
      bytesWritten: this.bytesWritten,
    };
  }
}

/** A local datastore folder has no hypervisor: both snapshot steps are shown as skipped. */
function noHypervisor(claimed: Claimed, context: StepContext): Skipped<Claimed> {
  context.log('a local datastore folder has no hypervisor to snapshot the VM; step skipped');
  return skip(claimed);
}
