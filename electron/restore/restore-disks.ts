// Restore disks + template: a point's disks restored without creating a VM, with a template to
// create one from them that the operator edits first. OVF: monolithicFlat VMDKs and an OVF 1.0
// descriptor, for vSphere or any hypervisor. ARM: fixed VHDs (whole MiB, as Azure imports them)
// and an Azure Resource Manager template importing them as managed disks.
import { stat, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { writeFlatDescriptor } from '../disks/vmdk-descriptor.ts';
import { vhdSize } from '../disks/vhd.ts';
import { LocalVmFolder, stagingFolderName } from '../drivers/local-datastore/local-datastore.ts';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import { armTemplate } from '../templates/arm.ts';
import { ovfDescriptor } from '../templates/ovf.ts';
import { pointShape } from '../templates/vm-shape.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { dataBytesOf, restoreDiskToFile } from './disk-transfer.ts';
import { restoreFixedVhd } from './fixed-vhd.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';

export const restoreDisksSteps = [
  { name: 'initialize', title: 'Initialization: check the chain and the target' },
  { name: 'transfer-disks', title: 'Restore the disks' },
  { name: 'write-template', title: 'Write the template to create the VM' },
  { name: 'finalize', title: 'Finalize: sync and publish the files' },
] as const;

export type TemplateKind = 'ovf' | 'arm';
export type RestoreDisksRequest = { vmId: string; pointId: string; targetPath: string; template: TemplateKind };

type Written = { key: string; stem: string; capacity: number; file: string; flat: string };

/** Each disk's file name without its extension, as backed up, made unique within the VM. */
export function diskStems(point: ResolvedPoint): { key: string; stem: string; capacity: number }[] {
  const used = new Set<string>();
  return point.disks.map((disk, index) => {
    const fileName = point.point.disks.find((entry) => entry.key === disk.key)?.fileName ?? `disk${index}.vmdk`;
    let stem = basename(fileName, extname(fileName));
    while (used.has(stem)) stem = `${stem}_${index}`;
    used.add(stem);
    return { key: disk.key, stem, capacity: disk.capacity };
  });
}

export class RestoreDisksWork implements LegacyJobWork {
  readonly steps = restoreDisksSteps;
  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly jobId: string;
  private readonly request: RestoreDisksRequest;
  private point: ResolvedPoint | null = null;
  private folder: LocalVmFolder | null = null;
  private readonly written: Written[] = [];
  private published: string[] = [];

  constructor(repository: Repository, pool: WorkerPool, jobId: string, request: RestoreDisksRequest) {
    this.repository = repository;
    this.pool = pool;
    this.jobId = jobId;
    this.request = request;
  }

  async run(step: string, context: StepContext): Promise<void> {
    switch (step) {
      case 'initialize':
        return this.initialize(context);
      case 'transfer-disks':
        return this.transfer(context);
      case 'write-template':
        return this.writeTemplate(context);
      case 'finalize': {
        this.published = await (this.folder as LocalVmFolder).publish((path) => context.resources.record('published-file', { path }));
        context.log(`published ${this.published.length} file(s) in ${(this.folder as LocalVmFolder).path}`);
        return;
      }
    }
    throw new LifeboatError('internal', `restore disks has no step ${step}`);
  }

  private async initialize(context: StepContext): Promise<void> {
    const point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    this.point = point;
    const target = resolve(this.request.targetPath);
    context.resources.record('target-folder', { path: target });
    context.resources.record('staging-folder', { path: join(target, stagingFolderName(this.jobId)) });
    this.folder = await LocalVmFolder.claim(target, this.jobId);
    const needed = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    const free = await this.folder.freeBytes();
    if (free < needed) throw new LifeboatError('target-full', `target ${this.folder.path} has ${free} bytes free; the disks need ${needed}`);
    for (const { key, stem, capacity } of diskStems(point)) {
      const file = this.request.template === 'ovf' ? `${stem}.vmdk` : `${stem}.vhd`;
      this.written.push({ key, stem, capacity, file, flat: this.request.template === 'ovf' ? `${stem}-flat.vmdk` : file });
    }
    context.log(`${point.disks.length} disk(s) of ${point.point.vmName}, point ${point.point.sequence}, as ${this.request.template === 'ovf' ? 'monolithicFlat VMDKs with an OVF descriptor' : 'fixed VHDs with an ARM template'}`);
  }

  private async transfer(context: StepContext): Promise<void> {
    const point = this.point as ResolvedPoint;
    const folder = this.folder as LocalVmFolder;
    const total = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    let done = 0;
    for (const written of this.written) {
      const disk = point.disks.find((candidate) => candidate.key === written.key);
      if (!disk) continue;
      const base = done;
      const path = folder.stagedPath(written.flat);
      const transfer = { pool: this.pool, point, disk, path, targetLabel: `target ${folder.path}`, context, onProgress: (bytes: number) => context.progress(base + bytes, total) };
      if (this.request.template === 'ovf') {
        done += await restoreDiskToFile(transfer);
        await writeFile(folder.stagedPath(written.file), writeFlatDescriptor(disk.capacity, written.flat));
      } else done += await restoreFixedVhd(transfer);
      context.log(`disk ${written.key} restored as ${written.file}`);
    }
  }

  private async writeTemplate(context: StepContext): Promise<void> {
    const point = this.point as ResolvedPoint;
    const folder = this.folder as LocalVmFolder;
    const shape = pointShape(point.point);
    const name = `${escapeGuestName(point.point.vmName).name}.${this.request.template === 'ovf' ? 'ovf' : 'json'}`; // the VM's name is outside input
    const text =
      this.request.template === 'ovf'
        ? ovfDescriptor(shape, await Promise.all(this.written.map(async (disk) => ({ fileName: disk.file, fileSize: (await stat(folder.stagedPath(disk.file))).size, capacity: disk.capacity }))))
        : armTemplate(shape, this.written.map((disk) => ({ fileName: disk.file, capacity: vhdSize(disk.capacity) })));
    await writeFile(folder.stagedPath(name), text);
    context.log(`template ${name} written: edit it (size, availability set, networks) before you create the VM`);
  }

  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) await this.folder?.discard();
  }

  result(): Record<string, unknown> {
    return { template: this.request.template, files: this.published, target: this.folder?.path ?? this.request.targetPath };
  }
}
