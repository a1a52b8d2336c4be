// Entire VM restore to a local datastore folder, in the phases of a hypervisor restore:
// initialization, VM configuration, snapshot, disk transport, snapshot commit, finalization.
// A local folder has no hypervisor, so the two snapshot steps are shown as skipped.
import { writeFile } from 'node:fs/promises';
import type { DiskCheckpoint } from '../catalog/catalog.ts';
import { basename, extname, join, resolve } from 'node:path';
import { writeFlatDescriptor } from '../disks/vmdk-descriptor.ts';
import { parseVmx, rewriteVmx } from '../disks/vmx.ts';
import { LocalVmFolder, stagingFolderName } from '../drivers/local-datastore/local-datastore.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { dataBytesOf, restoreDiskToFile } from './disk-transfer.ts';
import { syncPath } from '../fs/durable.ts';
import type { JobWork } from '../engine/job-work.ts';
import type { StepContext } from '../engine/plan.ts';

export const restoreSteps = [
  { name: 'initialize', title: 'Initialization: check the chain and the target, start data movers' },
  { name: 'restore-configuration', title: 'Restore the VM configuration' },
  { name: 'create-snapshot', title: 'Create a VM snapshot' },
  { name: 'transfer-disks', title: 'Transfer disk data' },
  { name: 'commit-snapshot', title: 'Commit the VM snapshot' },
  { name: 'finalize', title: 'Finalize: sync and publish the VM files' },
] as const;

export type RestoreRequest = { vmId: string; pointId: string; targetPath: string; newName?: string | undefined };

/** Where a restore keeps its per-disk checkpoints (the catalog), and whether it resumes. */
export type CheckpointStore = { load(diskKey: string): DiskCheckpoint | null; save(diskKey: string, checkpoint: DiskCheckpoint): void; resume: boolean };

export class EntireVmLocalRestore implements JobWork {
  readonly steps = restoreSteps;
  private point: ResolvedPoint | null = null;
  private folder: LocalVmFolder | null = null;
  private vmName = '';
  private diskFiles = new Map<string, { descriptor: string; flat: string }>();
  private published: string[] = [];
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
        return this.restoreConfiguration(context);
      case 'create-snapshot':
      case 'commit-snapshot':
        context.log('a local datastore folder has no hypervisor to snapshot the VM; step skipped');
        return 'skipped';
      case 'transfer-disks':
        return this.transferDisks(context);
      case 'finalize':
        return this.finalize(context);
    }
    throw new LifeboatError('internal', `restore has no step ${step}`);
  }

  private async initialize(context: StepContext): Promise<void> {
    const point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    this.point = point;
    this.vmName = this.request.newName ?? point.point.vmName;
    this.bytesTotal = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    context.log(`point ${point.point.sequence} of ${point.point.vmName} (${point.chain.length} link(s) in its chain), ${this.bytesTotal} bytes of data to write`);
    const target = resolve(this.request.targetPath);
    context.resources.record('target-folder', { path: target });
    context.resources.record('staging-folder', { path: join(target, stagingFolderName(this.jobId)) });
    this.folder = await LocalVmFolder.claim(target, this.jobId, this.checkpoints?.resume ?? false);
    const free = await this.folder.freeBytes();
    if (free < this.bytesTotal) {
      throw new LifeboatError('target-full', `target ${this.folder.path} has ${free} bytes free; the VM needs ${this.bytesTotal}`);
    }
    context.log(`data movers: ${this.pool.size} worker threads read, decompress, verify and write in parallel`);
  }

  private async restoreConfiguration(context: StepContext): Promise<void> {
    const point = this.point as ResolvedPoint;
    const folder = this.folder as LocalVmFolder;
    const vmx = parseVmx(point.point.vmConfig.text, `${point.point.vmName} configuration`);
    const renamed = this.request.newName !== undefined && this.request.newName !== point.point.vmName;
    const used = new Set<string>();
    point.disks.forEach((disk, index) => {
      let base = renamed ? (index === 0 ? this.vmName : `${this.vmName}_${index}`) : basename(disk.fileName, extname(disk.fileName));
      while (used.has(base)) base = `${base}_${index}`;
      used.add(base);
      this.diskFiles.set(disk.key, { descriptor: `${base}.vmdk`, flat: `${base}-flat.vmdk` });
    });
    const text = rewriteVmx(vmx, {
      displayName: this.vmName,
      diskFiles: new Map([...this.diskFiles].map(([key, files]) => [key, files.descriptor])),
      newIdentity: renamed,
    });
    await writeFile(folder.stagedPath(`${this.vmName}.vmx`), text);
    context.log(`configuration written as ${this.vmName}.vmx${renamed ? ' (new name, new identity)' : ''}`);
  }

  private async transferDisks(context: StepContext): Promise<void> {
    const point = this.point as ResolvedPoint;
    const folder = this.folder as LocalVmFolder;
    context.progress(0, this.bytesTotal);
    for (const disk of point.disks) {
      const files = this.diskFiles.get(disk.key) as { descriptor: string; flat: string };
      await writeFile(folder.stagedPath(files.descriptor), writeFlatDescriptor(disk.capacity, files.flat));
      const checkpoints = this.checkpoints;
      const initial = checkpoints?.resume ? checkpoints.load(disk.key) : null;
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
        path: folder.stagedPath(files.flat),
        targetLabel: `target ${folder.path}`,
        context,
        onProgress: (bytes) => context.progress(base + bytes, this.bytesTotal),
      });
      context.log(`disk ${disk.key} restored to ${files.descriptor}`);
    }
  }

  private async finalize(context: StepContext): Promise<void> {
    const folder = this.folder as LocalVmFolder;
    for (const files of this.diskFiles.values()) await syncPath(folder.stagedPath(files.flat));
    this.published = await folder.publish();
    context.log(`published ${this.published.length} file(s) in ${folder.path}`);
  }

  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) await this.folder?.discard();
  }

  result(): Record<string, unknown> {
    return {
      vmName: this.vmName,
      pointId: this.point?.point.id ?? this.request.pointId,
      target: this.folder?.path ?? this.request.targetPath,
      files: this.published,
      bytesWritten: this.bytesWritten,
    };
  }
}
