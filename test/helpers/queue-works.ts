// A job queue on a fresh catalog for the queue's unit tests, and a job work written with the Plan
// API whose script the test chooses: its transfer step waits at a gate the test opens (or until
// its job is stopped), reports progress, fails or cannot resume; its steps pass typed values on;
// it records each cleanup. The queue's bench records the order jobs started and how many ran at once.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { finishedJobStates, type Job, type JobProgress, type JobState } from '../../shared/domain.ts';
import { Catalog } from '../../electron/catalog/catalog.ts';
import { EngineEvents } from '../../electron/jobs/events.ts';
import { JobQueue, type JobSpec, type Rerun, type WorkFactory } from '../../electron/jobs/job-queue.ts';
import { newJobRecord } from '../../electron/jobs/job-record.ts';
import { ResumeBlocked, type JobWork } from '../../electron/jobs/job-work.ts';
import { Plan, skip, throwIfCancelled, type Skipped, type StepContext } from '../../electron/jobs/plan.ts';
import type { CatalogBackend } from './catalog-backends.ts';
import { tempDir, until } from './env.ts';

/** Held shut until the test opens it. */
export class Gate {
  private release: () => void = () => undefined;
  readonly opened = new Promise<void>((resolve) => {
    this.release = resolve;
  });
  open(): void {
    this.release();
  }
}

export type Script = {
  /** The transfer step waits for this gate to open, or for its job to be stopped. */
  gate?: Gate;
  /** Progress the transfer step reports: each of `done`, bytes of `total`. */
  progress?: { done: readonly number[]; total: number };
  /** The transfer step fails with this message. */
  failWith?: string;
  /** The transfer step cannot go on yet (a resume that finds its source unreadable). */
  blockedBy?: string;
  /** The tidy step finds nothing to do (skipped). */
  nothingToTidy?: boolean;
};

type Prepared = { blocks: number };
type Moved = { blocks: number; bytes: number };

const BLOCK = 4096;

function stopped(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

export class ScriptedWork implements JobWork {
  static readonly plan = Plan.of<ScriptedWork>()
    .step('prepare', 'Prepare', async (work) => work.prepare())
    .step('transfer', 'Transfer', (work, prepared, context) => work.transfer(prepared, context))
    .step('tidy', 'Tidy', async (work, moved) => work.tidy(moved));
  readonly plan = ScriptedWork.plan.bind(this);
  /** `succeeded` of each finish call, in order. */
  readonly finished: boolean[] = [];
  private readonly script: Script;
  private moved: Moved | null = null;

  constructor(script: Script = {}) {
    this.script = script;
  }

  /** The factory the queue calls as the job is submitted. */
  get factory(): WorkFactory {
    return () => this;
  }

  private prepare(): Prepared {
    return { blocks: 3 };
  }

  private async transfer(prepared: Prepared, context: StepContext): Promise<Moved> {
    const { gate, progress, failWith, blockedBy } = this.script;
    if (gate) await Promise.race([gate.opened, stopped(context.signal)]);
    throwIfCancelled(context.signal);
    if (progress) for (const done of progress.done) context.progress(done, progress.total);
    if (blockedBy) throw new ResumeBlocked('conflict', blockedBy);
    if (failWith) throw new Error(failWith);
    return { blocks: prepared.blocks, bytes: prepared.blocks * BLOCK };
  }

  private tidy(moved: Moved): Moved | Skipped<Moved> {
    this.moved = moved;
    return this.script.nothingToTidy ? skip(moved) : moved;
  }

  async finish(succeeded: boolean): Promise<void> {
    this.finished.push(succeeded);
  }

  result(): Record<string, unknown> {
    return this.moved ? { ...this.moved } : {};
  }
}

/** A job row as an engine writes it, for tests that put one in a catalog themselves: the fields a
 * test does not name are those of a job that never ran. */
export function jobRecord(fields: Pick<Job, 'id' | 'kind' | 'state'> & Partial<Job>): Job {
  return newJobRecord({ vmName: 'vm', summary: `${fields.kind} job`, ...fields });
}

/** A backup of `vmId` (null: a job of no VM), without steps: the work's plan gives them. */
export function backupOf(vmId: string | null, more: Partial<JobSpec> = {}): JobSpec {
  return { kind: 'backup', vmId, vmName: vmId ?? 'no VM', summary: `backup of ${vmId ?? 'no VM'}`, params: {}, ...more };
}

export type QueueBench = {
  catalog: Catalog;
  events: EngineEvents;
  queue: JobQueue;
  /** Ids of the jobs in the order they started running. */
  started: string[];
  /** The most jobs running at once so far. */
  peak: () => number;
  progress: JobProgress[];
};

/** A queue of `concurrency` on a new catalog, both closed after the test. */
/** `backend`: the catalog's (catalog-backends.ts); a SQLite file without one. */
export async function openQueue(t: TestContext, concurrency: number, rerun?: Rerun, backend?: CatalogBackend): Promise<QueueBench> {
  const catalog = backend ? await backend.open() : Catalog.open(join(await tempDir(), 'catalog.sqlite'));
  const events = new EngineEvents();
  const queue = new JobQueue(catalog, events, concurrency, null, rerun);
  const started: string[] = [];
  const running = new Set<string>();
  let peak = 0;
  events.on('job.updated', (job) => {
    if (job.state === 'running' && !running.has(job.id)) {
      running.add(job.id);
      if (!started.includes(job.id)) started.push(job.id);
      peak = Math.max(peak, running.size);
    }
    if (finishedJobStates.has(job.state) || job.state === 'queued') running.delete(job.id);
  });
  const progress: JobProgress[] = [];
  events.on('job.progress', (report) => void progress.push(report));
  t.after(async () => {
    await queue.close();
    catalog.close();
  });
  return { catalog, events, queue, started, peak: () => peak, progress };
}

/** Waits (bounded) until the job is in `state`; returns it. */
export function inState(catalog: Catalog, jobId: string, state: JobState): Promise<Job> {
  return until(`job ${jobId} ${state}`, () => {
    const job = catalog.getJob(jobId);
    return job?.state === state ? job : undefined;
  });
}

/** The state of each step of a job, by name. */
export function stepStates(job: Job): Record<string, string> {
  return Object.fromEntries(job.steps.map((step) => [step.name, step.state]));
}

export function assertState(catalog: Catalog, jobId: string, state: JobState, message?: string): void {
  assert.equal(catalog.getJob(jobId)?.state, state, message);
}
