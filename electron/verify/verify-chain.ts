// A verify job: every point chosen is checked on its own, as a restore would read it, writing
// nothing: its metadata (manifest against its recorded hash, sense, the points it depends on),
// then every block of every disk decompressed and checked against its SHA-256. A damaged point
// is reported with its reason and the others are still checked; the job fails at the end
// naming every damaged point, and its result lists each point's state.
import { LifeboatError } from '../errors.ts';
import { resolvePoint } from '../repository/chain.ts';
import { pointHealth } from '../repository/point-health.ts';
import type { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, type StepContext } from '../jobs/plan.ts';
import { dataBytesOf, verifyDisk } from '../restore/disk-transfer.ts';

/** A point the catalog lists, to be verified. */
export type PointToVerify = { id: string; sequence: number };
type PointResult = { sequence: number; state: 'ok' | 'damaged'; reason: string | null };

export class VerifyWork implements JobWork {
  static readonly plan = Plan.of<VerifyWork>()
    .step('initialize', "Initialization: read every point's manifest, check it against its recorded hash", (work, _none, context) =>
      work.checkMetadata(context),
    )
    .step('verify-blocks', 'Read and check every block hash', (work, _none, context) => work.checkBlocks(context));
  readonly plan = VerifyWork.plan.bind(this);
  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly vmId: string;
  private readonly points: PointToVerify[];
  private readonly results = new Map<string, PointResult>();
  private bytesChecked = 0;
  private pointsChecked = 0;

  constructor(repository: Repository, pool: WorkerPool, vmId: string, points: PointToVerify[]) {
    this.repository = repository;
    this.pool = pool;
    this.vmId = vmId;
    this.points = [...points].sort((a, b) => a.sequence - b.sequence);
  }

  private async checkMetadata(context: StepContext): Promise<void> {
    if (this.points.length === 0) throw new LifeboatError('not-found', `VM ${this.vmId} has no restore points to verify`);
    context.log(`verifying ${this.points.length} point(s): ${this.points.map((point) => point.sequence).join(', ')}`);
    const entries = await this.repository.scanPoints(this.vmId);
    for (const point of this.points) {
      const health = pointHealth(entries, point.id);
      if (health.state === 'damaged') this.damaged(point, health.reason ?? 'damaged', context);
      else if (health.state === 'legacy') context.log(`point ${point.sequence}: ${health.reason}`, 'warning');
    }
  }

  private async checkBlocks(context: StepContext): Promise<void> {
    const resolved = [];
    for (const point of this.points.filter((candidate) => !this.results.has(candidate.id))) {
      try {
        resolved.push({ point, resolved: await resolvePoint(this.repository, this.vmId, point.id) });
      } catch (error) {
        if (!(error instanceof LifeboatError && error.code === 'corrupt-backup')) throw error;
        this.damaged(point, error.message, context);
      }
    }
    const total = resolved.reduce((sum, { resolved: point }) => sum + point.disks.reduce((disks, disk) => disks + dataBytesOf(disk), 0), 0);
    context.progress(0, total);
    for (const { point, resolved: chain } of resolved) {
      try {
        for (const disk of chain.disks) {
          const base = this.bytesChecked;
          this.bytesChecked += await verifyDisk({
            pool: this.pool,
            point: chain,
            disk,
            context,
            onProgress: (bytes) => context.progress(base + bytes, total),
          });
        }
      } catch (error) {
        if (!(error instanceof LifeboatError && error.code === 'corrupt-backup')) throw error;
        this.damaged(point, error.message, context);
        continue;
      }
      this.pointsChecked++;
      this.results.set(point.id, { sequence: point.sequence, state: 'ok', reason: null });
      context.log(`point ${point.sequence}: every block of ${chain.disks.length} disk(s) matches its hash`);
    }
    const damaged = [...this.results.values()].filter((result) => result.state === 'damaged');
    if (damaged.length > 0) {
      throw new LifeboatError(
        'corrupt-backup',
        `${damaged.length} of ${this.points.length} point(s) of ${this.vmId} are damaged: ${damaged.map((result) => `point ${result.sequence}: ${result.reason}`).join('; ')}`,
      );
    }
  }

  private damaged(point: PointToVerify, reason: string, context: StepContext): void {
    this.results.set(point.id, { sequence: point.sequence, state: 'damaged', reason });
    context.log(`point ${point.sequence} is damaged: ${reason}`, 'error');
  }

  async finish(): Promise<void> {}

  result(): Record<string, unknown> {
    const results = this.points.flatMap((point) => {
      const result = this.results.get(point.id);
      return result ? [result] : [];
    });
    return {
      pointsChecked: this.pointsChecked,
      bytesChecked: this.bytesChecked,
      points: this.points.map((point) => point.sequence),
      results,
    };
  }
}
