// Restore through a staging repository, first half: the backup restore job copies a VM's copy
// from tape into a staging repository and registers it there as a temporary imported backup.
// The VM restore job waits for it, restores normally, and removes the staging copy at its end.
import { rm } from 'node:fs/promises';
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import type { JobWork, LegacyJobWork } from '../jobs/job-work.ts';
import { Plan, type BoundPlan, type StepContext, type StepDefinition } from '../jobs/plan.ts';
import type { Job } from '../../shared/domain.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint } from '../repository/chain.ts';
import { Repository } from '../repository/repository.ts';
import type { PassCoordinator } from './pass-coordinator.ts';
import { StagingConsumer } from './staging-consumer.ts';
import type { TapeReport } from './tape-pass.ts';
import { checkCopyComplete } from './tape-restore.ts';

export const tapeStageSteps = [
  { name: 'initialize', title: 'Initialization: find the tapes in the catalog' },
  { name: 'copy-from-tape', title: 'Copy the backup from tape to the staging repository' },
  { name: 'register', title: 'Register the staged backup as a temporary imported backup' },
] as const;

export type TapeStageOptions = { copy: TapeCopy; stagingPath: string; jobId: string; coordinator: PassCoordinator };

export class TapeStageWork implements LegacyJobWork {
  readonly steps = tapeStageSteps;
  private readonly options: TapeStageOptions;
  private repository: Repository | null = null;
  private tapes: TapeReport[] = [];
  private stagedBytes = 0;

  constructor(options: TapeStageOptions) {
    this.options = options;
  }

  async run(step: string, context: StepContext): Promise<void> {
    const { copy } = this.options;
    switch (step) {
      case 'initialize':
        checkCopyComplete(copy);
        context.resources.record('staging-folder', { path: this.options.stagingPath });
        this.repository = await Repository.openOrCreate(this.options.stagingPath, `staging-${this.options.jobId}`, copy.manifest.blockSize);
        context.log(`staging repository ${this.options.stagingPath}: ${copy.storedBytes} bytes to copy from media set ${copy.mediaSetId.slice(0, 8)}`);
        return;
      case 'copy-from-tape':
        return this.copyFromTape(context);
      case 'register': {
        // Reading it back proves the staged chain is whole before the VM restore relies on it.
        const point = await resolvePoint(this.repository as Repository, copy.manifest.vmId, copy.manifest.id);
        context.log(`registered ${copy.manifest.vmName} point ${copy.manifest.sequence} as an imported backup in ${this.options.stagingPath} (${point.disks.length} disk(s))`);
        return;
      }
    }
    throw new LifeboatError('internal', `staging has no step ${step}`);
  }

  private async copyFromTape(context: StepContext): Promise<void> {
    const { copy } = this.options;
    const consumer = new StagingConsumer({
      jobId: this.options.jobId,
      label: copy.manifest.vmName,
      copy,
      context,
      repository: this.repository as Repository,
      onBytes: (bytes) => {
        this.stagedBytes = bytes;
        context.progress(bytes, copy.storedBytes);
      },
    });
    await consumer.open();
    context.progress(0, copy.storedBytes);
    this.tapes = await this.options.coordinator.joinAndReport(consumer);
  }

  /** On failure the staging copy goes at once; on success the VM restore job removes it. */
  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) await rm(this.options.stagingPath, { recursive: true, force: true });
  }

  result(): Record<string, unknown> {
    return { vmName: this.options.copy.manifest.vmName, pointId: this.options.copy.manifest.id, staging: this.options.stagingPath, stagedBytes: this.stagedBytes, tapes: this.tapes };
  }
}

/** The VM restore job of a staged restore: pending until the backup restore job has staged the
 * backup, then a normal restore from the staging repository; the staging copy goes at the end,
 * whatever the outcome. */
export class StagedRestore implements JobWork {
  // Built per job: the restore's steps (declared up front) depend on its target.
  readonly plan: BoundPlan<unknown>;
  private readonly options: { stagingPath: string; innerSteps: readonly StepDefinition[]; stageEnded(signal: AbortSignal): Promise<Job>; openInner(repository: Repository): JobWork };
  private inner: JobWork | null = null;

  constructor(options: { stagingPath: string; innerSteps: readonly StepDefinition[]; stageEnded(signal: AbortSignal): Promise<Job>; openInner(repository: Repository): JobWork }) {
    this.options = options;
    this.plan = Plan.of<StagedRestore>()
      .step('wait-for-staging', 'Pending: wait for the backup restore job to stage the backup', (work, _none, context) => work.waitForStaging(context))
      .then(options.innerSteps, (_work, inner) => inner.plan)
      .bind(this);
  }

  private async waitForStaging(context: StepContext): Promise<JobWork> {
    context.resources.record('staging-folder', { path: this.options.stagingPath });
    const stage = await this.options.stageEnded(context.signal);
    if (stage.state !== 'succeeded') throw new LifeboatError('unavailable', `the backup restore job ${stage.id.slice(0, 8)} ${stage.state}: ${stage.error ?? 'no backup was staged'}`);
    const repository = await Repository.openOrCreate(this.options.stagingPath, 'staging');
    const inner = this.options.openInner(repository);
    this.inner = inner;
    context.log(`backup staged in ${this.options.stagingPath}; the restore starts`);
    return inner;
  }

  async finish(succeeded: boolean): Promise<void> {
    try {
      await this.inner?.finish(succeeded);
    } finally {
      await rm(this.options.stagingPath, { recursive: true, force: true });
    }
  }

  result(): Record<string, unknown> {
    return { ...(this.inner?.result() ?? {}), staging: this.options.stagingPath, stagingRemoved: true };
  }
}
