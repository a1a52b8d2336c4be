// Restore to Azure Storage: a point's disks as fixed VHDs, uploaded into a container as page blobs
// (empty ranges not sent; an interrupted upload resumes on the next run), with an ARM template
// that imports them as managed disks and creates the VM, uploaded beside them.
import { mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { vhdSize } from '../disks/vhd.ts';
import type { BlobStore } from '../drivers/azure/blob-store.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, type StepContext } from '../jobs/plan.ts';
import { resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import { armTemplate } from '../templates/arm.ts';
import { pointShape } from '../templates/vm-shape.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { dataBytesOf } from './disk-transfer.ts';
import { restoreFixedVhd } from './fixed-vhd.ts';
import { diskStems } from './restore-disks.ts';

export type RestoreAzureRequest = { vmId: string; pointId: string; account: string; container: string };

type Vhd = { key: string; blob: string; path: string; capacity: number; uri: string };
/** The point, the container opened and where each disk goes, for every step after initialization. */
type Opened = { point: ResolvedPoint; store: BlobStore; vhds: Vhd[] };

export class RestoreAzureWork implements JobWork {
  static readonly plan = Plan.of<RestoreAzureWork>()
    .step('initialize', 'Initialization: the chain, the storage account and its container', (work, _none, context) =>
      work.initialize(context),
    )
    .step('transfer-disks', 'Restore the disks as fixed VHDs', (work, opened, context) => work.transfer(opened, context))
    .step('upload-disks', 'Upload the VHDs as page blobs', (work, opened, context) => work.upload(opened, context))
    .step('write-template', 'Upload the ARM template that creates the VM', (work, opened, context) => work.writeTemplate(opened, context));
  readonly plan = RestoreAzureWork.plan.bind(this);
  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly staging: string;
  private readonly request: RestoreAzureRequest;
  private readonly connect: () => Promise<BlobStore>;
  // What result() reports.
  private vhds: Vhd[] = [];
  private readonly uploads: Record<string, unknown>[] = [];
  private template: string | null = null;

  constructor(options: {
    repository: Repository;
    pool: WorkerPool;
    stagingRoot: string;
    jobId: string;
    request: RestoreAzureRequest;
    connect: () => Promise<BlobStore>;
  }) {
    this.repository = options.repository;
    this.pool = options.pool;
    this.staging = join(options.stagingRoot, options.jobId);
    this.request = options.request;
    this.connect = options.connect;
  }

  private async initialize(context: StepContext): Promise<Opened> {
    const point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    const store = await this.connect();
    await store.container(this.request.container);
    context.resources.record('staging-folder', { path: this.staging });
    await mkdir(this.staging, { recursive: true });
    const vhds = diskStems(point).map(({ key, stem, capacity }): Vhd => {
      const blob = `${point.point.vmName}/point-${point.point.sequence}/${stem}.vhd`;
      return { key, blob, path: join(this.staging, `${stem}.vhd`), capacity, uri: store.blobUrl(this.request.container, blob) };
    });
    this.vhds = vhds;
    context.log(`${vhds.length} disk(s) of ${point.point.vmName} to container ${this.request.container} of ${store.endpoint.accountName}`);
    return { point, store, vhds };
  }

  private async transfer(opened: Opened, context: StepContext): Promise<Opened> {
    const { point } = opened;
    const total = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    let done = 0;
    for (const vhd of opened.vhds) {
      const disk = point.disks.find((candidate) => candidate.key === vhd.key);
      if (!disk) continue;
      const base = done;
      done += await restoreFixedVhd({
        pool: this.pool,
        point,
        disk,
        path: vhd.path,
        targetLabel: `staging folder ${this.staging}`,
        context,
        onProgress: (bytes) => context.progress(base + bytes, total),
      });
    }
    return opened;
  }

  private async upload(opened: Opened, context: StepContext): Promise<Opened> {
    const { point, store, vhds } = opened;
    const total = vhds.reduce((sum, vhd) => sum + vhdSize(vhd.capacity) + 512, 0);
    let before = 0;
    for (const vhd of vhds) {
      const started = performance.now();
      const outcome = await store.uploadVhd(
        this.request.container,
        vhd.blob,
        vhd.path,
        { lifeboatpoint: point.point.id, lifeboatdisk: vhd.key.replace(/[^A-Za-z0-9]/g, '_') },
        (done) => context.progress(before + done, total),
        context.signal,
      );
      context.busy('network', (performance.now() - started) / 1000);
      before += vhdSize(vhd.capacity) + 512;
      this.uploads.push({ blob: vhd.blob, ...outcome });
      await rm(vhd.path, { force: true });
      context.log(
        `${vhd.blob}: ${outcome.sentBytes} bytes sent, ${outcome.emptyBytes} empty bytes skipped${outcome.resumedBytes > 0 ? `, ${outcome.resumedBytes} bytes already there from an interrupted upload` : ''}`,
      );
    }
    return opened;
  }

  private async writeTemplate({ point, store, vhds }: Opened, context: StepContext): Promise<void> {
    const shape = pointShape(point.point);
    const text = armTemplate(
      shape,
      vhds.map((vhd) => ({ fileName: basename(vhd.blob), capacity: vhdSize(vhd.capacity), uri: vhd.uri })),
    );
    this.template = await store.uploadText(
      this.request.container,
      `${point.point.vmName}/point-${point.point.sequence}/${point.point.vmName}-template.json`,
      text,
    );
    context.log(`ARM template uploaded: ${this.template}; set its network interface and storage account, then deploy it`);
  }

  async finish(): Promise<void> {
    // A partial upload stays as <name>.partial, unpublished, for the next run to resume.
    await rm(this.staging, { recursive: true, force: true });
  }

  result(): Record<string, unknown> {
    return {
      account: this.request.account,
      container: this.request.container,
      blobs: this.vhds.map((vhd) => vhd.uri),
      template: this.template,
      uploads: this.uploads,
    };
  }
}
