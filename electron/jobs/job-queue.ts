// The job queue: jobs are persisted before they run, at most `concurrency` run at once and at
// most one per VM; progress is throttled for the UI; a restart shows interrupted what was running.
import { randomUUID } from 'node:crypto';
import { finishedJobStates, type Job, type JobKind, type JobQueuePlace, type JobStep } from '../../shared/domain.ts';
import type { Catalog, JobPatch } from '../catalog/catalog.ts';
import { LifeboatError, toWireError } from '../errors.ts';
import type { EngineEvents } from './events.ts';
import { ResumeBlocked, type JobWork } from './job-work.ts';
import type { StepContext } from './plan.ts';
import { RateMeter } from './rate-meter.ts';
import { isResumableJob } from './resumable.ts';
import { notTakenOver } from './left-behind.ts';
import { newJobRecord } from './job-record.ts';
import { killPoint } from '../kill-point.ts';
import type { SharedQueue } from './shared-queue.ts';

const PROGRESS_EVENT_MS = 250;
const PROGRESS_PERSIST_MS = 2000;
const PLACES_EVENT_MS = 250;

/** `holdFor`: the job waits in waiting-for-operator until `release` (e.g. 'approval').
 * `outsideLimit`: tape jobs, which wait for each other to share passes: they start at once, not
 * counted in the concurrency limit (the drives pace them), or a pass would wait for a job that
 * waits for a free slot. */
export type JobSpec = {
  kind: JobKind;
  vmId: string | null;
  vmName: string;
  summary: string;
  params: unknown;
  requestedBy?: string;
  holdFor?: string;
  outsideLimit?: boolean;
  /** Why the operator asked for it: the job's first event. */
  reason?: string | undefined;
};
/** Makes the work of the job with this id; called as the job is submitted (its plan gives the
 * job its steps), resumed, or queued again after a restart. */
export type WorkFactory = (jobId: string) => JobWork;
/** The work of a job that is safe to run again from its parameters alone (an index job): such a
 * job the engine stopped stays queued and runs at the next start. Null: not rerunnable. */
export type Rerun = (job: Job) => WorkFactory | null;
/** Engines that share a catalog (serve --shared): the queue they share, and how any engine of the
 * group builds a job's work from the catalog alone. A job that cannot be built so (a tape job, an
 * Instant Recovery, one held for approval) stays with the engine that queued it. */
export type SharedJobs = {
  queue: Pick<SharedQueue, 'enqueue' | 'giveBack' | 'stateOf'>;
  /** Whether any engine of the group can run this job from its record and parameters. */
  portable(job: Job, params: unknown): boolean;
  /** The work of a portable job; `resuming`: an earlier run stopped part way (its engine died or
   * stopped), and the work continues from what that run left. */
  workOf(job: Job, resuming: boolean): Promise<JobWork>;
};
/** Test hook: fail a job right after one of its steps did its work. */
export type FaultInjector = (job: Job, step: string) => boolean;

/** Busy seconds per stage and the stage that took most of them: what limits the job. */
function stageFigures(stages: Record<string, number>): { stages?: Record<string, number>; bottleneck?: string } {
  const entries = Object.entries(stages).filter(([, seconds]) => seconds > 0);
  if (entries.length === 0) return {};
  const [bottleneck] = entries.reduce((most, entry) => (entry[1] > most[1] ? entry : most));
  return { stages: Object.fromEntries(entries.map(([stage, seconds]) => [stage, Math.round(seconds * 1000) / 1000])), bottleneck };
}

type Running = { job: Job; readonly controller: AbortController; done: Promise<void> };

/** The abort reason when the engine stops, told apart from an operator's cancel: such a job ends
 * interrupted (resumable where its kind allows), never "cancelled by the operator". */
class EngineStopping extends Error {
  constructor() {
    super('the engine stopped while this job ran');
  }
}
const STOPPED_BEFORE_START = 'the engine stopped before this job started';
const RUNS_AT_NEXT_START = 'the engine stopped; this job runs again at its next start';
const HANDED_BACK = 'the engine stopped; another engine of the catalog continues this job';
/** How often a shared engine looks again at what it waits for (another engine's job on the same
 * VM, an engine that may have died) and at the jobs of engines that died. */
const SHARED_LOOK_MS = 1000;
const DEAD_ENGINES_LOOK_MS = 5000;

/** Thrown by runShared: the job goes back to the shared queue for another engine. */
class HandedBack extends Error {}
/** The abort reason of a shared job another engine took over (stopTakenAway): this engine leaves
 * the job, its records and what it wrote to that engine. */
class TakenAway extends Error {
  constructor() {
    super('another engine took this job over while this one was cut off from the catalog');
  }
}

export class JobQueue {
  private readonly running = new Map<string, Running>();
  private readonly works = new Map<string, JobWork>();
  private readonly unlimited = new Set<string>();
  /** The places as last told (jobs.queued), so unchanged places are not told again. */
  private told = '';
  private placesTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** Set while cancelMany() goes through its jobs. */
  private pumpHeld = false;
  private readonly catalog: Catalog;
  private readonly events: EngineEvents;
  private readonly concurrency: number;

  private readonly injectFault: FaultInjector | null;
  private readonly rerun: Rerun;
  private readonly shared: SharedJobs | null;
  /** Shared jobs this engine stopped and gives back to the queue. */
  private readonly handedBack = new Set<string>();
  private sharedTimers: ReturnType<typeof setInterval>[] = [];

  constructor(
    catalog: Catalog,
    events: EngineEvents,
    concurrency: number,
    injectFault: FaultInjector | null = null,
    rerun: Rerun = () => null,
    shared: SharedJobs | null = null,
  ) {
    this.catalog = catalog;
    this.events = events;
    this.concurrency = concurrency;
    this.injectFault = injectFault;
    this.rerun = rerun;
    this.shared = shared;
    if (shared) {
      // Another engine's job on a VM ends without an event here; engines die without one.
      this.sharedTimers = [
        setInterval(() => this.quietly(() => (this.stopTakenAway(), this.pump())), SHARED_LOOK_MS),
        setInterval(() => this.quietly(() => this.recoverAfterRestart()), DEAD_ENGINES_LOOK_MS),
      ];
      for (const timer of this.sharedTimers) timer.unref();
    }
  }

  /** Why a job of an engine of a shared catalog that died is interrupted: it was that engine's own. */
  private leftBehind(job: Job): string {
    const engineId = this.catalog.engines.placement(job.id)?.engineId ?? null;
    const engine = engineId === null ? 'the engine that queued it' : this.catalog.engines.describe(engineId);
    const when = job.state === 'queued' ? 'before this job started' : 'while this job ran';
    return `${engine} stopped ${when}; ${notTakenOver(job.kind)}`;
  }

  /** A look made on a timer: a catalog that cannot answer now (the server restarting, or closed
   * under an engine whose start failed) is asked again at the next one. */
  private quietly(look: () => unknown): void {
    try {
      look();
    } catch {
      // The next look tries again.
    }
  }

  /** What a previous engine left unfinished: a rerunnable job is queued again (and starts),
   * any other is marked interrupted. Returns the interrupted ones. */
  recoverAfterRestart(): Job[] {
    if (this.closed) return [];
    const unfinished = this.catalog.jobsInState(['running', 'waiting-for-operator', 'queued']);
    this.lookAtSharedJobs(unfinished);
    const stale = unfinished.filter((job) => this.leftByDeadEngine(job));
    const now = new Date().toISOString();
    const interrupted = stale.flatMap((job) => {
      const factory = job.state === 'waiting-for-operator' ? null : this.rerun(job);
      if (factory) {
        this.catalog.addJobEvent(job.id, { at: now, level: 'info', step: null, message: 'queued again after the engine restarted' });
        this.catalog.updateJob(job.id, {
          state: 'queued',
          error: null,
          endedAt: null,
          currentStep: null,
          steps: job.steps.map((step) => ({ ...step, state: 'pending' })),
        });
        this.works.set(job.id, factory(job.id));
        return [];
      }
      const message = this.shared ? this.leftBehind(job) : job.state === 'queued' ? STOPPED_BEFORE_START : new EngineStopping().message;
      this.catalog.addJobEvent(job.id, { at: now, level: 'warning', step: job.currentStep, message });
      // Heard by consoles and by the prompts the job was waiting on.
      return [this.update(job.id, { state: 'interrupted', endedAt: now, error: message })];
    });
    return interrupted;
  }

  /** Whether no running engine answers for this job: with one engine per catalog, every unfinished
   * job at its start; when engines share it, a job of this engine's own that it does not hold, or a
   * job another engine kept to itself and died with (a shared one waits in the queue for any engine). */
  private leftByDeadEngine(job: Job): boolean {
    if (!this.shared) return true;
    if (this.running.has(job.id) || this.works.has(job.id)) return false;
    const placement = this.catalog.engines.placement(job.id);
    if (!placement || placement.shared) return false;
    return placement.engineId === null || !this.catalog.engines.lives(placement.engineId) || placement.engineId === this.selfId();
  }

  /** Shared jobs whose engine died go back to the queue now, not once the queue has missed their
   * heartbeats; an engine must look dead twice in a row (a catalog connection that dropped and is
   * made again takes its lock back within a look). A shared job the queue will never hand out again
   * (its row ended, or its retries ran out) while the catalog says unfinished ends interrupted. */
  private lookAtSharedJobs(unfinished: Job[]): void {
    const shared = this.shared;
    if (!shared) return;
    for (const job of unfinished) {
      if (this.running.has(job.id) || this.looking.has(job.id)) continue;
      const placement = this.catalog.engines.placement(job.id);
      if (!placement?.shared) continue;
      if (job.state !== 'queued' && this.catalog.engines.lives(placement.engineId)) {
        this.seenDead.delete(job.id);
        continue;
      }
      this.looking.add(job.id);
      void shared.queue
        .stateOf(job.id)
        .then(async (state) => {
          if (state === 'active' && job.state !== 'queued') {
            if (!this.seenDead.delete(job.id)) return void this.seenDead.add(job.id);
            await shared.queue.giveBack(job.id, `${this.catalog.engines.describe(placement.engineId)} stopped while it ran`);
          } else if (state === null || state === 'completed' || state === 'failed' || state === 'cancelled')
            this.endUnqueued(job.id, state);
        })
        .catch(() => undefined)
        .finally(() => this.looking.delete(job.id));
    }
  }

  /** Stops the shared jobs running here that the catalog says another engine holds now: cut off
   * from the catalog for longer than the queue waits, this engine was taken for dead, and the job
   * was given to another (which continues it from its checkpoints). */
  private stopTakenAway(): void {
    for (const [jobId, running] of this.running) {
      const placement = this.catalog.engines.placement(jobId);
      if (placement?.shared && placement.engineId !== this.selfId()) running.controller.abort(new TakenAway());
    }
  }

  /** Shared jobs being looked at (lookAtSharedJobs), and those whose engine looked dead once. */
  private readonly looking = new Set<string>();
  private readonly seenDead = new Set<string>();

  private endUnqueued(jobId: string, state: string | null): void {
    const job = this.closed ? null : this.catalog.getJob(jobId);
    if (!job || this.running.has(jobId) || finishedJobStates.has(job.state)) return;
    const placement = this.catalog.engines.placement(jobId);
    if (job.state !== 'queued' && this.catalog.engines.lives(placement?.engineId ?? null)) return;
    const reason = `the shared job queue no longer hands this job out (${state === null ? 'it has no row for it' : `its row is ${state}`})`;
    const resumable = isResumableJob(this.catalog, jobId);
    this.catalog.addJobEvent(jobId, {
      at: new Date().toISOString(),
      level: 'warning',
      step: job.currentStep,
      message: `${reason}; ${resumable ? '`lifeboat jobs resume` continues it' : 'start it again'}`,
    });
    this.update(jobId, { state: 'interrupted', error: reason, endedAt: new Date().toISOString() });
  }

  private selfId(): string | null {
    return this.catalog.engines.self;
  }

  /** Runs what recoverAfterRestart queued again, once the engine has finished opening (a start
   * that fails must not leave jobs running against a closed catalog). */
  startQueued(): void {
    this.pump();
  }

  submit(spec: JobSpec, factory: WorkFactory): Job {
    if (this.closed) throw new LifeboatError('unavailable', 'the engine is shutting down');
    const id = randomUUID();
    const work = factory(id);
    const job = newJobRecord({
      id,
      kind: spec.kind,
      vmId: spec.vmId,
      vmName: spec.vmName,
      state: spec.holdFor ? 'waiting-for-operator' : 'queued',
      summary: spec.summary,
      steps: work.plan.steps.map((step): JobStep => ({ name: step.name, title: step.title, state: 'pending' })),
      waitingFor: spec.holdFor ?? null,
      requestedBy: spec.requestedBy ?? null,
    });
    const shared = this.shared !== null && !spec.holdFor && !spec.outsideLimit && this.shared.portable(job, spec.params);
    this.catalog.atomically(() => {
      this.catalog.insertJob(job, spec.params, { engineId: shared ? null : this.selfId(), shared });
      if (shared) this.shared?.queue.enqueue(job);
      if (spec.reason) this.catalog.addJobEvent(id, { at: job.createdAt, level: 'info', step: null, message: `reason: ${spec.reason}` });
    });
    killPoint('job-queued');
    if (!shared) this.works.set(job.id, work);
    if (spec.outsideLimit) this.unlimited.add(job.id);
    this.events.emit('job.updated', job);
    this.pump();
    return this.placed([job])[0] ?? job;
  }

  /** The jobs, each queued one with its place in the order the scheduler starts jobs and what
   * holds it now (the same decision pump() acts on). */
  placed(jobs: Job[]): Job[] {
    const places = this.places(this.catalog.jobsInState(['queued']));
    return jobs.map((job) => ({ ...job, queue: (job.state === 'queued' && places.get(job.id)) || null }));
  }

  /** Jobs this queue runs or will run (held jobs aside): what a drain waits for. */
  unfinished(): Job[] {
    return [
      ...[...this.running.values()].map((entry) => entry.job),
      ...this.catalog.jobsInState(['queued']).filter((job) => this.works.has(job.id)),
    ];
  }

  /** Resolves when nothing is queued or running (held jobs aside). */
  async idle(): Promise<void> {
    for (let round = 0; round < 100_000; round++) {
      if (this.closed) return;
      const busy = [...this.running.values()].map((entry) => entry.done);
      if (busy.length === 0 && this.catalog.jobsInState(['queued']).every((job) => !this.works.has(job.id))) return;
      await Promise.allSettled(busy.length > 0 ? busy : [new Promise((resolve) => setTimeout(resolve, 10))]);
    }
  }

  /** Lets a held job (waiting-for-operator) join the queue. */
  release(jobId: string, waitingFor: string): Job {
    const job = this.catalog.getJob(jobId);
    if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
    if (job.state !== 'waiting-for-operator' || job.waitingFor !== waitingFor)
      throw new LifeboatError('conflict', `job ${jobId} is not waiting for ${waitingFor}`);
    if (!this.works.has(jobId))
      throw new LifeboatError('conflict', `job ${jobId} was held by an engine that has stopped; ask for it again`);
    const released = this.update(jobId, { state: 'queued', waitingFor: null });
    this.pump();
    return released;
  }

  /** Runs an interrupted job again under its own id (its work decides what is left to do). */
  requeue(jobId: string, factory: WorkFactory): Job {
    if (this.closed) throw new LifeboatError('unavailable', 'the engine is shutting down');
    const job = this.catalog.getJob(jobId);
    if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
    if (job.state !== 'interrupted')
      throw new LifeboatError('conflict', `job ${jobId} is ${job.state}; only an interrupted job can be resumed`);
    this.catalog.addJobEvent(jobId, { at: new Date().toISOString(), level: 'info', step: null, message: 'resumed by the operator' });
    const work = factory(jobId);
    // Resumed by the operator on this engine: it runs here, whatever queue it was in.
    if (this.catalog.engines.placement(jobId)?.shared) this.catalog.engines.keepHere(jobId);
    const requeued = this.update(jobId, {
      state: 'queued',
      error: null,
      endedAt: null,
      currentStep: null,
      steps: job.steps.map((step) => ({ ...step, state: 'pending' })),
    });
    this.works.set(jobId, work);
    this.pump();
    return requeued;
  }

  cancel(jobId: string): Job {
    const job = this.catalog.getJob(jobId);
    if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
    const running = this.running.get(jobId);
    if (running) {
      running.controller.abort();
      return job;
    }
    if (job.state === 'running' || (job.state === 'waiting-for-operator' && !this.works.has(jobId) && this.shared)) {
      const placement = this.catalog.engines.placement(jobId);
      // Its engine died: nobody else would end it (the queue sees it cancelled if it hands it out).
      if (this.shared && placement?.shared && !this.catalog.engines.lives(placement.engineId))
        return this.update(jobId, {
          state: 'cancelled',
          endedAt: new Date().toISOString(),
          error: 'cancelled by the operator after its engine stopped',
        });
      throw new LifeboatError(
        'conflict',
        `job ${jobId} runs on ${this.catalog.engines.describe(placement?.engineId ?? null)}: cancel it from a console of that engine`,
      );
    }
    if (job.state !== 'queued' && job.state !== 'waiting-for-operator')
      throw new LifeboatError('conflict', `job ${jobId} has already ended (${job.state})`);
    this.works.delete(jobId);
    this.unlimited.delete(jobId);
    const cancelled = this.update(jobId, { state: 'cancelled', endedAt: new Date().toISOString(), error: 'cancelled before it started' });
    // The jobs behind it move up.
    this.pump();
    return cancelled;
  }

  /** Several jobs at once, each as cancel() does; one that cannot be (ended, unknown) is listed
   * with why. The queue moves up once, after all of them: moving up after each would start a job
   * of the same selection only to stop it at the next turn of the loop. */
  cancelMany(jobIds: string[]): { cancelled: Job[]; refused: { jobId: string; message: string }[] } {
    const cancelled: Job[] = [];
    const refused: { jobId: string; message: string }[] = [];
    this.pumpHeld = true;
    try {
      for (const jobId of new Set(jobIds)) {
        try {
          cancelled.push(this.cancel(jobId));
        } catch (error) {
          if (!(error instanceof LifeboatError)) throw error;
          refused.push({ jobId, message: error.message });
        }
      }
    } finally {
      this.pumpHeld = false;
      this.pump();
    }
    return { cancelled, refused };
  }

  /** Resolves when the job has ended (for the CLI, which waits). */
  whenEnded(jobId: string): Promise<Job> {
    return new Promise((resolve, reject) => {
      const settle = (job: Job): boolean => {
        if (!finishedJobStates.has(job.state)) return false;
        off();
        resolve(job);
        return true;
      };
      // Another engine of a shared catalog may run it: its end is read from the catalog.
      const look = this.shared ? setInterval(() => this.lookAgain(jobId, settle), SHARED_LOOK_MS) : null;
      look?.unref();
      const off = (): void => {
        stopListening();
        if (look) clearInterval(look);
      };
      const stopListening = this.events.on('job.updated', (job) => void (job.id === jobId && settle(job)));
      const job = this.catalog.getJob(jobId);
      if (!job) {
        off();
        reject(new LifeboatError('not-found', `job ${jobId} does not exist`));
      } else settle(job);
    });
  }

  /** Reads the job again for whenEnded (not once this engine has stopped: its catalog is closing). */
  private lookAgain(jobId: string, settle: (job: Job) => boolean): void {
    const job = this.closed ? null : this.catalog.getJob(jobId);
    if (job) settle(job);
  }

  private update(jobId: string, patch: JobPatch): Job {
    const job = this.catalog.updateJob(jobId, patch);
    this.events.emit('job.updated', job);
    return job;
  }

  /** What keeps a queued job from starting now, in words, or null: it may start. `vmsAhead`: the
   * VMs of jobs queued before it, which take the VM's lock first. */
  private holdOf(job: Job, vmsAhead: ReadonlySet<string>): string | null {
    if (this.unlimited.has(job.id)) return null;
    const vmBusy =
      job.vmId !== null &&
      (vmsAhead.has(job.vmId) || [...this.running.values()].some((running) => running.job.vmId === job.vmId) || this.vmBusyElsewhere(job));
    // One job per VM: named first, as a freed worker would not start it either.
    if (vmBusy) return `waiting for VM ${job.vmName}'s other job`;
    const limited = [...this.running.keys()].filter((id) => !this.unlimited.has(id)).length;
    return limited >= this.concurrency ? 'waiting for a worker' : null;
  }

  /** Whether another engine of a shared catalog runs a job of this job's VM. */
  private vmBusyElsewhere(job: Job): boolean {
    if (!this.shared || job.vmId === null) return false;
    return this.catalog
      .jobsInState(['running', 'waiting-for-operator'])
      .some((other) => other.vmId === job.vmId && other.id !== job.id && !this.running.has(other.id));
  }

  /** Runs a job the shared queue handed to this engine, and resolves when it has ended here.
   * Rejects (HandedBack) when this engine stops first: the queue gives the job to another engine.
   * A job that another engine still runs is waited for, never run twice; one whose engine died is
   * taken over and continues from what that engine left. */
  async runShared(jobId: string): Promise<void> {
    const shared = this.shared;
    if (!shared) throw new LifeboatError('internal', 'this engine does not share a job queue');
    let job: Job | null = null;
    let holder: string | null = null;
    for (let look = 0; ; look++) {
      if (this.closed) throw new HandedBack(STOPPED_BEFORE_START);
      job = this.catalog.getJob(jobId);
      // Cancelled before any engine took it, or ended: nothing left to run.
      if (!job || (job.state !== 'queued' && job.state !== 'running' && job.state !== 'waiting-for-operator')) return;
      holder = this.catalog.engines.placement(jobId)?.engineId ?? null;
      const elsewhere = job.state !== 'queued' && holder !== null && holder !== this.selfId() && this.catalog.engines.lives(holder);
      // The queue's own limit (its workers here) paces shared jobs; one job per VM holds across engines.
      const vmBusy = job.vmId !== null && [...this.running.values()].some((running) => running.job.vmId === job?.vmId);
      // Taken for this engine in one statement: of two engines that saw it free, one wins.
      if (!elsewhere && !vmBusy && !this.vmBusyElsewhere(job) && this.catalog.engines.claimJob(job, holder)) break;
      if (look > 24 * 3600) throw new HandedBack('waited a day for its turn');
      await new Promise((resolve) => setTimeout(resolve, SHARED_LOOK_MS));
    }
    // Running here from now on: a cancel reaches it, a stop hands it back, a VM's other job waits.
    const controller = new AbortController();
    const entry: Running = { job, controller, done: Promise.resolve() };
    this.running.set(jobId, entry);
    this.unlimited.add(jobId);
    // Run before (its engine died, or stopped and handed it back): continued, not begun again.
    const resuming = job.state !== 'queued' || job.startedAt !== null;
    if (resuming)
      this.catalog.addJobEvent(jobId, {
        at: new Date().toISOString(),
        level: 'warning',
        step: job.currentStep,
        message: `taken over by ${this.catalog.engines.describe(this.selfId())}: ${this.catalog.engines.describe(holder)} stopped while it ran`,
      });
    let work: JobWork;
    try {
      work = await shared.workOf(job, resuming);
    } catch (error) {
      this.running.delete(jobId);
      this.unlimited.delete(jobId);
      const message = toWireError(error).message;
      this.catalog.addJobEvent(jobId, { at: new Date().toISOString(), level: 'error', step: null, message });
      this.end(jobId, false, { state: 'failed', error: message, endedAt: new Date().toISOString() });
      return;
    }
    const steps = job.steps.map((step): JobStep => ({ ...step, state: 'pending' }));
    if (controller.signal.aborted) {
      this.running.delete(jobId);
      this.unlimited.delete(jobId);
      if (!(controller.signal.reason instanceof EngineStopping)) {
        this.end(jobId, false, { state: 'cancelled', endedAt: new Date().toISOString(), error: 'cancelled before it started' });
        return;
      }
      this.update(jobId, { state: 'queued', currentStep: null, steps });
      throw new HandedBack(HANDED_BACK);
    }
    job = this.update(jobId, { state: 'queued', currentStep: null, steps });
    this.start(job, work, entry);
    await entry.done;
    if (this.handedBack.delete(jobId)) throw new HandedBack(HANDED_BACK);
  }

  /** Queued jobs this queue will run, in the order it starts them, with what holds each; and, with
   * a shared catalog, the shared queue's jobs in the order it hands them out (oldest first, as
   * pg-boss fetches), numbered apart. */
  private places(queued: Job[]): Map<string, JobQueuePlace> {
    const places = new Map<string, JobQueuePlace>();
    const vmsAhead = new Set<string>();
    for (const job of queued) {
      if (!this.works.has(job.id)) continue;
      places.set(job.id, { position: places.size + 1, reason: this.holdOf(job, vmsAhead) ?? 'starting' });
      if (job.vmId !== null) vmsAhead.add(job.vmId);
    }
    if (this.shared) this.sharedPlaces(queued, places);
    return places;
  }

  private sharedPlaces(queued: Job[], places: Map<string, JobQueuePlace>): void {
    const shared = this.catalog.engines.sharedQueued();
    const vmsAhead = new Set<string>();
    const vmsRunning = new Set(
      this.catalog
        .jobsInState(['running', 'waiting-for-operator'])
        .map((job) => job.vmId)
        .filter((vmId) => vmId !== null),
    );
    let position = 0;
    for (const job of queued) {
      if (!shared.has(job.id)) continue;
      position += 1;
      const vmBusy = job.vmId !== null && (vmsAhead.has(job.vmId) || vmsRunning.has(job.vmId));
      places.set(job.id, { position, reason: vmBusy ? `waiting for VM ${job.vmName}'s other job` : 'waiting for an engine' });
      if (job.vmId !== null) vmsAhead.add(job.vmId);
    }
  }

  private pump(): void {
    if (this.closed || this.pumpHeld) return;
    const vmsAhead = new Set<string>();
    for (const job of this.catalog.jobsInState(['queued'])) {
      const work = this.works.get(job.id);
      if (!work) continue;
      if (this.holdOf(job, vmsAhead) !== null) {
        if (job.vmId !== null) vmsAhead.add(job.vmId);
        continue;
      }
      this.works.delete(job.id);
      this.start(job, work);
    }
    this.tellPlaces();
  }

  /** Tells the queue's places (jobs.queued) when they changed, at most every PLACES_EVENT_MS:
   * a job starting moves every job behind it up, and one event says so for all of them. */
  private tellPlaces(): void {
    if (this.placesTimer !== null || this.closed) return;
    this.placesTimer = setTimeout(() => {
      this.placesTimer = null;
      if (this.closed) return;
      // A catalog that cannot answer now (a PostgreSQL server gone) is asked again at the next change.
      this.quietly(() => {
        const places = [...this.places(this.catalog.jobsInState(['queued']))].map(([jobId, place]) => ({ jobId, place }));
        const said = places.map(({ jobId, place }) => `${jobId} ${place.position} ${place.reason}`).join('\n');
        if (said === this.told) return;
        this.told = said;
        this.events.emit('jobs.queued', { places });
      });
    }, PLACES_EVENT_MS);
    this.placesTimer.unref();
  }

  /** `entry`: the job's place among the running ones, when it took it before its work was built. */
  private start(
    queued: Job,
    work: JobWork,
    entry: Running = { job: queued, controller: new AbortController(), done: Promise.resolve() },
  ): Running {
    const { controller } = entry;
    entry.job = queued;
    this.running.set(queued.id, entry);
    const ended = (): void => {
      this.running.delete(queued.id);
      this.unlimited.delete(queued.id);
      // Not the ended job's failure: a catalog that cannot answer now is asked at the next change.
      this.quietly(() => this.pump());
    };
    entry.done = this.execute(queued, work, controller.signal).then(ended, (error: unknown) => {
      // Only a catalog that cannot be written ends here: the job stays unfinished in it, and the
      // next start (or another engine) recovers it as it recovers a job whose engine died.
      process.stderr.write(`lifeboat: job ${queued.id}: its end could not be recorded: ${toWireError(error).message}\n`);
      ended();
    });
    return entry;
  }

  private async execute(queued: Job, work: JobWork, signal: AbortSignal): Promise<void> {
    const jobId = queued.id;
    let job = this.update(jobId, { state: 'running', startedAt: new Date().toISOString() });
    killPoint('job-running');
    let currentStep: string | null = null;
    const meter = new RateMeter();
    let lastEvent = 0;
    let lastPersist = 0;
    // The latest figures, persisted with the job's end whatever the throttling skipped.
    const last = { bytesDone: 0, bytesTotal: 0 };
    const stages: Record<string, number> = {};
    const log = (message: string, level: 'info' | 'warning' | 'error' = 'info'): void => {
      this.catalog.addJobEvent(jobId, { at: new Date().toISOString(), level, step: currentStep, message });
    };
    const context: StepContext = {
      signal,
      log,
      busy: (stage, seconds) => {
        stages[stage] = (stages[stage] ?? 0) + seconds;
      },
      waiting: (what) => {
        if (signal.aborted) return;
        job = this.update(
          jobId,
          what === null ? { state: 'running', waitingFor: null } : { state: 'waiting-for-operator', waitingFor: what },
        );
      },
      resources: {
        record: (kind, ref) => this.catalog.recordResource(jobId, kind, ref),
        update: (id, ref) => this.catalog.updateResource(id, ref),
      },
      progress: (bytesDone, bytesTotal) => {
        last.bytesDone = bytesDone;
        last.bytesTotal = bytesTotal;
        const now = Date.now();
        meter.sample(now, bytesDone);
        const final = bytesDone >= bytesTotal;
        if (!final && now - lastEvent < PROGRESS_EVENT_MS) return;
        lastEvent = now;
        const rate = meter.bytesPerSecond();
        this.events.emit('job.progress', {
          jobId,
          at: now,
          step: currentStep ?? '',
          bytesDone,
          bytesTotal,
          bytesPerSecond: rate,
          etaSeconds: rate > 0 ? Math.max(0, (bytesTotal - bytesDone) / rate) : null,
          ...stageFigures(stages),
        });
        if (final || now - lastPersist >= PROGRESS_PERSIST_MS) {
          lastPersist = now;
          this.catalog.updateJob(jobId, { bytesDone, bytesTotal });
          this.catalog.addJobSample(jobId, now, bytesDone);
        }
      },
    };
    const setStep = (name: string, state: JobStep['state']): void => {
      job = this.update(jobId, { steps: job.steps.map((step) => (step.name === name ? { ...step, state } : step)), currentStep });
    };
    let succeeded = false;
    try {
      await work.plan.run(context, {
        stepStarted: (step) => {
          currentStep = step;
          setStep(step, 'running');
          log(`step ${step} started`);
        },
        stepFinished: (step, outcome) => setStep(step, outcome),
        afterStep: (step) => {
          if (this.injectFault?.(job, step)) throw new LifeboatError('internal', `injected fault after step ${step}`);
        },
      });
      succeeded = true;
    } catch (error) {
      if (signal.reason instanceof TakenAway) {
        log(signal.reason.message, 'warning');
        this.handedBack.add(jobId);
        return;
      }
      if (signal.reason instanceof EngineStopping) {
        if (this.shared && this.catalog.engines.placement(jobId)?.shared) {
          // Its resources stay for the engine that continues it.
          log(HANDED_BACK, 'warning');
          this.handedBack.add(jobId);
          this.update(jobId, { state: 'queued', currentStep: null, steps: job.steps.map((step) => ({ ...step, state: 'pending' })) });
        } else if (this.rerun(job)) {
          log(RUNS_AT_NEXT_START, 'warning');
          const cleaned = await this.cleanUp(work, false, log);
          this.end(jobId, cleaned, { state: 'queued', currentStep: null, steps: job.steps.map((step) => ({ ...step, state: 'pending' })) });
        } else await this.endInterrupted(jobId, work, new EngineStopping().message, log);
        return;
      }
      if (error instanceof ResumeBlocked) {
        await this.endInterrupted(jobId, work, error.message, log);
        return;
      }
      const wire = toWireError(error);
      const cancelled = wire.code === 'cancelled' || signal.aborted;
      log(cancelled ? 'cancelled by the operator' : wire.message, cancelled ? 'warning' : 'error');
      const cleaned = await this.cleanUp(work, false, log);
      this.end(jobId, cleaned, {
        ...last,
        state: cancelled ? 'cancelled' : 'failed',
        error: cancelled ? 'cancelled by the operator' : wire.message,
        endedAt: new Date().toISOString(),
        result: { ...work.result(), ...stageFigures(stages) },
      });
      return;
    }
    const cleaned = await this.cleanUp(work, succeeded, log);
    killPoint('job-succeeding');
    log('job succeeded');
    this.catalog.addJobSample(jobId, Date.now(), last.bytesDone);
    // Until this commits, the job is unfinished: an engine dying before it leaves it to resume.
    this.end(jobId, cleaned, {
      ...last,
      state: 'succeeded',
      endedAt: new Date().toISOString(),
      result: { ...work.result(), ...stageFigures(stages) },
      currentStep: null,
    });
  }

  /** The work's own cleanup; false when it failed (its records stay for the janitor). */
  private async cleanUp(
    work: JobWork | null,
    succeeded: boolean,
    log: (message: string, level?: 'info' | 'warning' | 'error') => void,
  ): Promise<boolean> {
    try {
      await work?.finish(succeeded);
      return true;
    } catch (error) {
      log(
        `cleanup${succeeded ? ' after success' : ''} failed, the janitor will retry at the next start: ${toWireError(error).message}`,
        succeeded ? 'warning' : 'error',
      );
      return false;
    }
  }

  /** Ends a job; with `release`, its records go in the same transaction (see Catalog.endJob). */
  private end(jobId: string, release: boolean, patch: JobPatch): void {
    this.events.emit('job.updated', release ? this.catalog.endJob(jobId, patch) : this.catalog.updateJob(jobId, patch));
  }

  /** A job the engine stopped, or a resume that cannot go on yet: interrupted. A resumable one
   * keeps what its resume needs (its records stay open, and the janitor keeps them); any other
   * is cleaned up now. */
  private async endInterrupted(
    jobId: string,
    work: JobWork | null,
    reason: string,
    log: (message: string, level?: 'info' | 'warning' | 'error') => void,
  ): Promise<void> {
    const resumable = isResumableJob(this.catalog, jobId);
    log(
      `${reason}; ${resumable ? '`lifeboat jobs resume` continues it, `lifeboat jobs discard` removes what it left' : 'start it again'}`,
      'warning',
    );
    const cleaned = !resumable && (await this.cleanUp(work, false, log));
    this.end(jobId, cleaned, { state: 'interrupted', error: reason, endedAt: new Date().toISOString(), result: work?.result() ?? null });
  }

  /** Stops the queue as the engine stops: nothing new is taken, running jobs end interrupted
   * ("the engine stopped"), and jobs that had not started are marked so at once; rerunnable
   * ones stay queued for the next start instead. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.placesTimer !== null) clearTimeout(this.placesTimer);
    for (const timer of this.sharedTimers) clearInterval(timer);
    for (const running of this.running.values()) running.controller.abort(new EngineStopping());
    await Promise.allSettled([...this.running.values()].map((running) => running.done));
    const now = new Date().toISOString();
    // A catalog that cannot be written now leaves them queued: the next start says the same.
    this.quietly(() => {
      for (const jobId of this.works.keys()) {
        const job = this.catalog.getJob(jobId);
        if (job?.state !== 'queued') continue;
        const rerunnable = this.rerun(job) !== null;
        this.catalog.addJobEvent(jobId, {
          at: now,
          level: 'warning',
          step: null,
          message: rerunnable ? RUNS_AT_NEXT_START : STOPPED_BEFORE_START,
        });
        if (!rerunnable) this.update(jobId, { state: 'interrupted', endedAt: now, error: STOPPED_BEFORE_START });
      }
    });
    this.works.clear();
  }
}
