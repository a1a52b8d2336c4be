// Restore disks + template: a point's disks restored without creating a VM, with a template to
// create one from them that the operator edits first. OVF: monolithicFlat VMDKs and an OVF 1.0
// descriptor, for vSphere or any hypervisor. ARM: fixed VHDs (whole MiB, as Azure imports them)
// and an Azure Resource Manager template importing them as managed disks.
import { stat, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { writeFlatDescriptor } from '../disks/vmdk-descriptor.ts';
import { vhdSize } from '../disks/vhd.ts';
import { LocalVmFolder, stagingFolderName } from '../drivers/local-datastore/local-datastore.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, type StepContext } from '../jobs/plan.ts';
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

export type TemplateKind = 'ovf' | 'arm';
export type RestoreDisksRequest = { vmId: string; pointId: string; targetPath: string; template: TemplateKind };

type Written = { key: string; stem: string; capacity: number; file: string; flat: string };
/** The point, the target folder claimed and the files each disk becomes, for every step after initialization. */
type Claimed = { point: ResolvedPoint; folder: LocalVmFolder; written: Written[] };

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

export class RestoreDisksWork implements JobWork {
  static readonly plan = Plan.of<RestoreDisksWork>()
    .step('initialize', 'Initialization: check the chain and the target', (work, _none, context) => work.initialize(context))
    .step('transfer-disks', 'Restore the disks', (work, claimed, context) => work.transfer(claimed, context))
    .step('write-template', 'Write the template to create the VM', (work, claimed, context) => work.writeTemplate(claimed, context))
    .step('finalize', 'Finalize: sync and publish the files', (work, folder, context) => work.publish(folder, context));
  readonly plan = RestoreDisksWork.plan.bind(this);
  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly jobId: string;
  private readonly request: RestoreDisksRequest;
  // What finish() and result() need: the folder to discard, what was published.
  private folder: LocalVmFolder | null = null;
  private published: string[] = [];

  constructor(repository: Repository, pool: WorkerPool, jobId: string, request: RestoreDisksRequest) {
    this.repository = repository;
    this.pool = pool;
    this.jobId = jobId;
    this.request = request;
  }

  private async initialize(context: StepContext): Promise<Claimed> {
    const point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    const target = resolve(this.request.targetPath);
    context.resources.record('target-folder', { path: target });
    context.resources.record('staging-folder', { path: join(target, stagingFolderName(this.jobId)) });
    const folder = await LocalVmFolder.claim(target, this.jobId);
    this.folder = folder;
    const needed = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    const free = await folder.freeBytes();
    if (free < needed) throw new LifeboatError('target-full', `target ${folder.path} has ${free} bytes free; the disks need ${needed}`);
    const written = diskStems(point).map(({ key, stem, capacity }): Written => {
      const file = this.request.template === 'ovf' ? `${stem}.vmdk` : `${stem}.vhd`;
      return { key, stem, capacity, file, flat: this.request.template === 'ovf' ? `${stem}-flat.vmdk` : file };
    });
    context.log(
      `${point.disks.length} disk(s) of ${point.point.vmName}, point ${point.point.sequence}, as ${this.request.template === 'ovf' ? 'monolithicFlat VMDKs with an OVF descriptor' : 'fixed VHDs with an ARM template'}`,
    );
    return { point, folder, written };
  }

  private async transfer(claimed: Claimed, context: StepContext): Promise<Claimed> {
    const { point, folder } = claimed;
    const total = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    let done = 0;
    for (const written of claimed.written) {
      const disk = point.disks.find((candidate) => candidate.key === written.key);
      if (!disk) continue;
      const base = done;
      const path = folder.stagedPath(written.flat);
      const transfer = {
        pool: this.pool,
        point,
        disk,
        path,
        targetLabel: `target ${folder.path}`,
        context,
        onProgress: (bytes: number) => context.progress(base + bytes, total),
      };
      if (this.request.template === 'ovf') {
        done += await restoreDiskToFile(transfer);
        await writeFile(folder.stagedPath(written.file), writeFlatDescriptor(disk.capacity, written.flat));
      } else done += await restoreFixedVhd(transfer);
      context.log(`disk ${written.key} restored as ${written.file}`);
    }
    return claimed;
  }

  private async writeTemplate({ point, folder, written }: Claimed, context: StepContext): Promise<LocalVmFolder> {
    const shape = pointShape(point.point);
    const name = `${escapeGuestName(point.point.vmName).name}.${this.request.template === 'ovf' ? 'ovf' : 'json'}`; // the VM's name is outside input
    const text =
      this.request.template === 'ovf'
        ? ovfDescriptor(
            shape,
            await Promise.all(
              written.map(async (disk) => ({
                fileName: disk.file,
                fileSize: (await stat(folder.stagedPath(disk.file))).size,
                capacity: disk.capacity,
              })),
            ),
          )
        : armTemplate(
            shape,
            written.map((disk) => ({ fileName: disk.file, capacity: vhdSize(disk.capacity) })),
          );
    await writeFile(folder.stagedPath(name), text);
    context.log(`template ${name} written: edit it (size, availability set, networks) before you create the VM`);
    return folder;
  }

  private async publish(folder: LocalVmFolder, context: StepContext): Promise<void> {
    this.published = await folder.publish((path) => context.resources.record('published-file', { path }));
    context.log(`published ${this.published.length} file(s) in ${folder.path}`);
  }

  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) await this.folder?.discard();
  }

  result(): Record<string, unknown> {
    return { template: this.request.template, files: this.published, target: this.folder?.path ?? this.request.targetPath };
  }
}
