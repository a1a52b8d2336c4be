// A job runs as a plan of named steps (named after the seeds' phases). Each step reports its
// progress through the context; cancellation is an AbortSignal checked between units of work.
import { LifeboatError } from '../errors.ts';
import type { ResourceKind } from '../catalog/catalog.ts';
import type { Stage } from '../workers/messages.ts';

export type StepDefinition = { name: string; title: string };

/** Records what a job is about to create (before creating it), for cleanup after a crash. */
export type ResourceLog = {
  record(kind: ResourceKind, ref: Record<string, string>): number;
  update(id: number, ref: Record<string, string>): void;
};

export type StepContext = {
  signal: AbortSignal;
  resources: ResourceLog;
  /** Bytes done of the job's whole transfer. */
  progress(bytesDone: number, bytesTotal: number): void;
  log(message: string, level?: 'info' | 'warning' | 'error'): void;
  /** The job waits for an operator (what for), or (null) runs again. */
  waiting(what: string | null): void;
  /** Seconds the data movers were busy in a stage, added up (for the bottleneck display). */
  busy(stage: Stage, seconds: number): void;
};

export type PlanHooks = {
  stepStarted(step: string): void;
  stepFinished(step: string, outcome: 'done' | 'failed' | 'skipped'): void;
  /** Fault injection: throwing here fails the step after its work is done. */
  afterStep?(step: string): void;
};

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new LifeboatError('cancelled', 'the job was cancelled by the operator');
}

/** Runs the steps in order; a step returning 'skipped' is shown as such (e.g. no snapshot). */
export async function runPlan(
  steps: readonly StepDefinition[],
  run: (step: string) => Promise<'done' | 'skipped' | void>,
  hooks: PlanHooks,
  signal: AbortSignal,
): Promise<void> {
  for (const step of steps) {
    throwIfCancelled(signal);
    hooks.stepStarted(step.name);
    try {
      const outcome = (await run(step.name)) ?? 'done';
      hooks.afterStep?.(step.name);
      hooks.stepFinished(step.name, outcome);
    } catch (error) {
      hooks.stepFinished(step.name, 'failed');
      throw error;
    }
  }
}

/** Runs fn(0..count-1) with at most `window` calls in flight, stopping at the first error. */
export async function forEachWindowed(count: number, window: number, fn: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const lane = async (): Promise<void> => {
    while (next < count && failure === null) {
      const index = next++;
      try {
        await fn(index);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  if (failure !== null) throw failure;
}
