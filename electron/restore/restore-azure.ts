// Restore to Azure Storage: a point's disks as fixed VHDs, uploaded into a container as page blobs
// (empty ranges not sent; an interrupted upload resumes on the next run), with an ARM template
// that imports them as managed disks and creates the VM, uploaded beside them.
import { mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { vhdSize } from '../disks/vhd.ts';
import type { BlobStore } from '../drivers/azure/blob-store.ts';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import { armTemplate } from '../templates/arm.ts';
import { pointShape } from '../templates/vm-shape.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { dataBytesOf } from './disk-transfer.ts';
import { restoreFixedVhd } from './fixed-vhd.ts';
import { diskStems } from './restore-disks.ts';

export const restoreAzureSteps = [
  { name: 'initialize', title: 'Initialization: the chain, the storage account and its container' },
  { name: 'transfer-disks', title: 'Restore the disks as fixed VHDs' },
  { name: 'upload-disks', title: 'Upload the VHDs as page blobs' },
  { name: 'write-template', title: 'Upload the ARM template that creates the VM' },
] as const;

export type RestoreAzureRequest = { vmId: string; pointId: string; account: string; container: string };

type Vhd = { key: string; blob: string; path: string; capacity: number; uri: string };

export class RestoreAzureWork implements LegacyJobWork {
  readonly steps = restoreAzureSteps;
  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly staging: string;
  private readonly request: RestoreAzureRequest;
  private readonly connect: () => Promise<BlobStore>;
  private store: BlobStore | null = null;
  private point: ResolvedPoint | null = null;
  private readonly vhds: Vhd[] = [];
  private readonly uploads: Record<string, unknown>[] = [];
  private template: string | null = null;

  constructor(options: { repository: Repository; pool: WorkerPool; stagingRoot: string; jobId: string; request: RestoreAzureRequest; connect: () => Promise<BlobStore> }) {
    this.repository = options.repository;
    this.pool = options.pool;
    this.staging = join(options.stagingRoot, options.jobId);
    this.request = options.request;
    this.connect = options.connect;
  }

  async run(step: string, context: StepContext): Promise<void> {
    switch (step) {
      case 'initialize':
        return this.initialize(context);
      case 'transfer-disks':
        return this.transfer(context);
      case 'upload-disks':
        return this.upload(context);
      case 'write-template':
        return this.writeTemplate(context);
    }
    throw new LifeboatError('internal', `restore to Azure has no step ${step}`);
  }

  private async initialize(context: StepContext): Promise<void> {
    this.point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    this.store = await this.connect();
    await this.store.container(this.request.container);
    context.resources.record('staging-folder', { path: this.staging });
    await mkdir(this.staging, { recursive: true });
    for (const { key, stem, capacity } of diskStems(this.point)) {
      const blob = `${this.point.point.vmName}/point-${this.point.point.sequence}/${stem}.vhd`;
      this.vhds.push({ key, blob, path: join(this.staging, `${stem}.vhd`), capacity, uri: this.store.blobUrl(this.request.container, blob) });
    }
    context.log(`${this.vhds.length} disk(s) of ${this.point.point.vmName} to container ${this.request.container} of ${this.store.endpoint.accountName}`);
  }

  private async transfer(context: StepContext): Promise<void> {
    const point = this.point as ResolvedPoint;
    const total = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    let done = 0;
    for (const vhd of this.vhds) {
      const disk = point.disks.find((candidate) => candidate.key === vhd.key);
      if (!disk) continue;
      const base = done;
      done += await restoreFixedVhd({ pool: this.pool, point, disk, path: vhd.path, targetLabel: `staging folder ${this.staging}`, context, onProgress: (bytes) => context.progress(base + bytes, total) });
    }
  }

  private async upload(context: StepContext): Promise<void> {
    const point = this.point as ResolvedPoint;
    const total = this.vhds.reduce((sum, vhd) => sum + vhdSize(vhd.capacity) + 512, 0);
    let before = 0;
    for (const vhd of this.vhds) {
      const started = performance.now();
      const outcome = await (this.store as BlobStore).uploadVhd(this.request.container, vhd.blob, vhd.path, { lifeboatpoint: point.point.id, lifeboatdisk: vhd.key.replace(/[^A-Za-z0-9]/g, '_') }, (done) => context.progress(before + done, total), context.signal);
      context.busy('network', (performance.now() - started) / 1000);
      before += vhdSize(vhd.capacity) + 512;
      this.uploads.push({ blob: vhd.blob, ...outcome });
      await rm(vhd.path, { force: true });
      context.log(`${vhd.blob}: ${outcome.sentBytes} bytes sent, ${outcome.emptyBytes} empty bytes skipped${outcome.resumedBytes > 0 ? `, ${outcome.resumedBytes} bytes already there from an interrupted upload` : ''}`);
    }
  }

  private async writeTemplate(context: StepContext): Promise<void> {
    const point = this.point as ResolvedPoint;
    const shape = pointShape(point.point);
    const text = armTemplate(shape, this.vhds.map((vhd) => ({ fileName: basename(vhd.blob), capacity: vhdSize(vhd.capacity), uri: vhd.uri })));
    this.template = await (this.store as BlobStore).uploadText(this.request.container, `${point.point.vmName}/point-${point.point.sequence}/${point.point.vmName}-template.json`, text);
    context.log(`ARM template uploaded: ${this.template}; set its network interface and storage account, then deploy it`);
  }

  async finish(): Promise<void> {
    // A partial upload stays as <name>.partial, unpublished, for the next run to resume.
    await rm(this.staging, { recursive: true, force: true });
  }

  result(): Record<string, unknown> {
    return { account: this.request.account, container: this.request.container, blobs: this.vhds.map((vhd) => vhd.uri), template: this.template, uploads: this.uploads };
  }
}
