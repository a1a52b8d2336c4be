// Restore through a staging repository, first half: the backup restore job copies a VM's copy
// from tape into a staging repository and registers it there as a temporary imported backup.
// The VM restore job waits for it, restores normally, and removes the staging copy at its end.
import { rm } from 'node:fs/promises';
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, type BoundPlan, type StepContext, type StepDefinition } from '../jobs/plan.ts';
import type { Job } from '../../shared/domain.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint } from '../repository/chain.ts';
import { Repository } from '../repository/repository.ts';
import type { PassCoordinator } from './pass-coordinator.ts';
import { StagingConsumer } from './staging-consumer.ts';
import type { TapeReport } from './tape-pass.ts';
import { checkCopyComplete } from './tape-restore.ts';

export type TapeStageOptions = { copy: TapeCopy; stagingPath: string; jobId: string; coordinator: PassCoordinator };

export class TapeStageWork implements JobWork {
  static readonly plan = Plan.of<TapeStageWork>()
    .step('initialize', 'Initialization: find the tapes in the catalog', (work, _none, context) => work.openStaging(context))
    .step('copy-from-tape', 'Copy the backup from tape to the staging repository', (work, staging, context) =>
      work.copyFromTape(staging, context),
    )
    .step('register', 'Register the staged backup as a temporary imported backup', (work, staging, context) =>
      work.register(staging, context),
    );
  readonly plan = TapeStageWork.plan.bind(this);
  private readonly options: TapeStageOptions;
  // Kept for result(): what the copy from tape did.
  private tapes: TapeReport[] = [];
  private stagedBytes = 0;

  constructor(options: TapeStageOptions) {
    this.options = options;
  }

  private async openStaging(context: StepContext): Promise<Repository> {
    const { copy } = this.options;
    checkCopyComplete(copy);
    context.resources.record('staging-folder', { path: this.options.stagingPath });
    const staging = await Repository.openOrCreate(this.options.stagingPath, `staging-${this.options.jobId}`, copy.manifest.blockSize);
    context.log(
      `staging repository ${this.options.stagingPath}: ${copy.storedBytes} bytes to copy from media set ${copy.mediaSetId.slice(0, 8)}`,
    );
    return staging;
  }

  private async copyFromTape(staging: Repository, context: StepContext): Promise<Repository> {
    const { copy } = this.options;
    const consumer = new StagingConsumer({
      jobId: this.options.jobId,
      label: copy.manifest.vmName,
      copy,
      context,
      repository: staging,
      onBytes: (bytes) => {
        this.stagedBytes = bytes;
        context.progress(bytes, copy.storedBytes);
      },
    });
    await consumer.open();
    context.progress(0, copy.storedBytes);
    this.tapes = await this.options.coordinator.joinAndReport(consumer);
    return staging;
  }

  private async register(staging: Repository, context: StepContext): Promise<void> {
    const { copy } = this.options;
    // Reading it back proves the staged chain is whole before the VM restore relies on it.
    const point = await resolvePoint(staging, copy.manifest.vmId, copy.manifest.id);
    context.log(
      `registered ${copy.manifest.vmName} point ${copy.manifest.sequence} as an imported backup in ${this.options.stagingPath} (${point.disks.length} disk(s))`,
    );
  }

  /** On failure the staging copy goes at once; on success the VM restore job removes it. */
  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) await rm(this.options.stagingPath, { recursive: true, force: true });
  }

  result(): Record<string, unknown> {
    return {
      vmName: this.options.copy.manifest.vmName,
      pointId: this.options.copy.manifest.id,
      staging: this.options.stagingPath,
      stagedBytes: this.stagedBytes,
      tapes: this.tapes,
    };
  }
}

export type StagedRestoreOptions = {
  stagingPath: string;
  /** The steps of the restore that `openRestore` makes, listed before the backup is staged. */
  restoreSteps: readonly StepDefinition[];
  stageEnded(signal: AbortSignal): Promise<Job>;
  openRestore(staging: Repository): JobWork;
};

/** The VM restore job of a staged restore: pending until the backup restore job has staged the
 * backup, then a normal restore from the staging repository; the staging copy goes at the end,
 * whatever the outcome. */
export class StagedRestore implements JobWork {
  /** The job's steps: the wait, then those of the restore it opens (which depend on its target). */
  private static planFor(restoreSteps: readonly StepDefinition[]): Plan<StagedRestore, unknown> {
    return Plan.of<StagedRestore>()
      .step('wait-for-staging', 'Pending: wait for the backup restore job', (work, _none, context) => work.waitForStaging(context))
      .then(restoreSteps, (_work, restore) => restore.plan);
  }
  readonly plan: BoundPlan<unknown>;
  private readonly options: StagedRestoreOptions;
  // Kept for finish() and result(): the restore opened once the backup was staged.
  private restore: JobWork | null = null;

  constructor(options: StagedRestoreOptions) {
    this.options = options;
    this.plan = StagedRestore.planFor(options.restoreSteps).bind(this);
  }

  private async waitForStaging(context: StepContext): Promise<JobWork> {
    context.resources.record('staging-folder', { path: this.options.stagingPath });
    const stage = await this.options.stageEnded(context.signal);
    if (stage.state !== 'succeeded')
      throw new LifeboatError(
        'unavailable',
        `the backup restore job ${stage.id.slice(0, 8)} ${stage.state}: ${stage.error ?? 'no backup was staged'}`,
      );
    const staging = await Repository.openOrCreate(this.options.stagingPath, 'staging');
    this.restore = this.options.openRestore(staging);
    context.log(`backup staged in ${this.options.stagingPath}; the restore starts`);
    return this.restore;
  }

  async finish(succeeded: boolean): Promise<void> {
    try {
      await this.restore?.finish(succeeded);
    } finally {
      await rm(this.options.stagingPath, { recursive: true, force: true });
    }
  }

  result(): Record<string, unknown> {
    return { ...(this.restore?.result() ?? {}), staging: this.options.stagingPath, stagingRemoved: true };
  }
}
