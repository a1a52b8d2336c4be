// A verify job: every block of every disk of the chosen points is read, decompressed and checked
// against its SHA-256, as a restore would, writing nothing. The first damaged block fails the
// job naming VM, point, disk and offset; a clean run reports what it checked.
import { LifeboatError } from '../errors.ts';
import { resolvePoint } from '../repository/chain.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import type { JobWork } from '../engine/job-work.ts';
import type { StepContext } from '../engine/plan.ts';
import { dataBytesOf, verifyDisk } from '../restore/disk-transfer.ts';

export const verifySteps = [
  { name: 'initialize', title: 'Initialization: read the chain, check every link and file' },
  { name: 'verify-blocks', title: 'Read and check every block hash' },
] as const;

export class VerifyWork implements JobWork {
  readonly steps = verifySteps;
  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly vmId: string;
  private readonly pointIds: string[] | null;
  private points: Manifest[] = [];
  private bytesChecked = 0;
  private pointsChecked = 0;

  /** `pointIds` null: every point of the chain. */
  constructor(repository: Repository, pool: WorkerPool, vmId: string, pointIds: string[] | null) {
    this.repository = repository;
    this.pool = pool;
    this.vmId = vmId;
    this.pointIds = pointIds;
  }

  async run(step: string, context: StepContext): Promise<'done' | void> {
    if (step === 'initialize') {
      const all = await this.repository.listPoints(this.vmId);
      this.points = this.pointIds ? all.filter((point) => this.pointIds?.includes(point.id)) : all;
      if (this.points.length === 0) throw new LifeboatError('not-found', `VM ${this.vmId} has no restore points to verify`);
      context.log(`verifying ${this.points.length} point(s): ${this.points.map((point) => point.sequence).join(', ')}`);
      return;
    }
    if (step !== 'verify-blocks') throw new LifeboatError('internal', `verify has no step ${step}`);
    const resolved = [];
    for (const point of this.points) resolved.push(await resolvePoint(this.repository, this.vmId, point.id));
    const total = resolved.reduce((sum, point) => sum + point.disks.reduce((disks, disk) => disks + dataBytesOf(disk), 0), 0);
    context.progress(0, total);
    for (const point of resolved) {
      for (const disk of point.disks) {
        const base = this.bytesChecked;
        this.bytesChecked += await verifyDisk({ pool: this.pool, point, disk, context, onProgress: (bytes) => context.progress(base + bytes, total) });
      }
      this.pointsChecked++;
      context.log(`point ${point.point.sequence}: every block of ${point.disks.length} disk(s) matches its hash`);
    }
  }

  async finish(): Promise<void> {}

  result(): Record<string, unknown> {
    return { pointsChecked: this.pointsChecked, bytesChecked: this.bytesChecked, points: this.points.map((point) => point.sequence) };
  }
}
