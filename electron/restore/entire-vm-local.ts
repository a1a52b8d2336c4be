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
import { ResumeBlocked, type LegacyJobWork } from '../jobs/job-work.ts';
import type { StepContext } from '../jobs/plan.ts';
import { LocalVmWriter } from './local-vm-writer.ts';

export const restoreSteps = [
  { name: 'initialize', title: 'Initialization: check the chain and the target, start data movers' },
  { name: 'restore-configuration', title: 'Restore the VM configuration' },
  { name: 'create-snapshot', title: 'Create a VM snapshot' },
  { name: 'transfer-disks', title: 'Transfer disk data' },
  { name: 'commit-snapshot', title: 'Commit the VM snapshot' },
  { name: 'finalize', title: 'Finalize: sync and publish the VM files' },
] as const;

export type RestoreRequest = { vmId: string; pointId: string; targetPath: string; newName?: string | undefined };

/** Where a restore keeps its per-disk checkpoints (the catalog), and, when it resumes, what its
 * earlier run had published. */
export type CheckpointStore = { load(diskKey: string): DiskCheckpoint | null; save(diskKey: string, checkpoint: DiskCheckpoint): void; resuming: Resuming | null };

/** The size of a file, or null when there is none. */
async function sizeOf(path: string): Promise<number | null> {
  return stat(path).then((stats) => stats.size, () => null);
}

export class EntireVmLocalRestore implements LegacyJobWork {
  readonly steps = restoreSteps;
  private point: ResolvedPoint | null = null;
  private writer: LocalVmWriter | null = null;
  private bytesTotal = 0;
  private bytesWritten = 0;

  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly jobId: string;
  private readonly request: RestoreRequest;

  private readonly checkpoints: CheckpointStore | null;

  constructor(repository: Repository, pool: WorkerPool, jobId: string, request: RestoreRequest, checkpoints: CheckpointStore | null = null) {
    this.checkpoints = checkpoints;
    this.repository = repository;
    this.pool = pool;
    this.jobId = jobId;
    this.request = request;
  }

  async run(step: string, context: StepContext): Promise<'done' | 'skipped' | void> {
    switch (step) {
      case 'initialize':
        return this.initialize(context);
      case 'restore-configuration':
        return (this.writer as LocalVmWriter).writeConfiguration(context);
      case 'create-snapshot':
      case 'commit-snapshot':
        context.log('a local datastore folder has no hypervisor to snapshot the VM; step skipped');
        return 'skipped';
      case 'transfer-disks':
        return this.transferDisks(context);
      case 'finalize':
        return (this.writer as LocalVmWriter).publish(context);
    }
    throw new LifeboatError('internal', `restore has no step ${step}`);
  }

  private async initialize(context: StepContext): Promise<void> {
    try {
      await this.claim(context);
    } catch (error) {
      // Nothing of the earlier run was touched before the claim: keep it for another resume.
      if (this.checkpoints?.resuming && !this.writer && error instanceof Error) throw new ResumeBlocked(error instanceof LifeboatError ? error.code : 'internal', `cannot resume yet: ${error.message}`);
      throw error;
    }
    context.log(`data movers: ${this.pool.size} worker threads read, decompress, verify and write in parallel`);
  }

  private async claim(context: StepContext): Promise<void> {
    const point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    this.point = point;
    this.bytesTotal = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    context.log(`point ${point.point.sequence} of ${point.point.vmName} (${point.chain.length} link(s) in its chain), ${this.bytesTotal} bytes of data to write`);
    this.writer = await LocalVmWriter.claim({ target: this.request.targetPath, jobId: this.jobId, resuming: this.checkpoints?.resuming ?? null, manifest: point.point, newName: this.request.newName, bytesNeeded: this.bytesTotal, context });
  }

  private async transferDisks(context: StepContext): Promise<void> {
    const point = this.point as ResolvedPoint;
    const writer = this.writer as LocalVmWriter;
    context.progress(0, this.bytesTotal);
    for (const disk of point.disks) {
      const path = await writer.prepareDisk(disk.key, disk.capacity, false);
      const checkpoints = this.checkpoints;
      const resuming = checkpoints?.resuming ?? null;
      const initial = resuming ? await this.usableCheckpoint(disk.key, disk.capacity, path, context) : null;
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
        onProgress: (bytes) => context.progress(base + bytes, this.bytesTotal),
      });
      context.log(`disk ${disk.key} restored to ${writer.files(disk.key).descriptor}`);
    }
  }

  /** A disk's checkpoint, if the file it describes is still there at full size: in the staging
   * folder, or (complete) already published. Otherwise the disk starts over. */
  private async usableCheckpoint(diskKey: string, capacity: number, stagedPath: string, context: StepContext): Promise<DiskCheckpoint | null> {
    const checkpoint = this.checkpoints?.load(diskKey) ?? null;
    if (!checkpoint) return null;
    const writer = this.writer as LocalVmWriter;
    const published = join(writer.folder.path, writer.files(diskKey).flat);
    if ((await sizeOf(stagedPath)) === capacity || (checkpoint.complete && (await sizeOf(published)) === capacity && writer.folder.hasPublished(published))) return checkpoint;
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
