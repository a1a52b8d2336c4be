// What a job does, apart from queueing and bookkeeping: a plan of typed steps (plan.ts), a
// cleanup that leaves nothing half-done, and a result worth recording.
import { LifeboatError } from '../errors.ts';
import { legacyPlan, type BoundPlan, type StepContext, type StepDefinition } from './plan.ts';

/** A resumed job that cannot go on yet, with its earlier run untouched (e.g. its source is
 * unreadable, or someone put a file in its target): it stays interrupted, keeping all it had,
 * so it can be resumed again once that is fixed, or discarded. */
export class ResumeBlocked extends LifeboatError {}

export interface JobWork {
  readonly plan: BoundPlan<unknown>;
  /** Called once after the plan ends; `succeeded` false means undo what was made. */
  finish(succeeded: boolean): Promise<void>;
  result(): Record<string, unknown>;
}

/** A work still written as a step list and a run per step name; only while the job classes move to Plan. */
export interface LegacyJobWork {
  readonly steps: readonly StepDefinition[];
  run(step: string, context: StepContext): Promise<'done' | 'skipped' | void>;
  finish(succeeded: boolean): Promise<void>;
  result(): Record<string, unknown>;
}

/** The plan of either kind of work. */
export function planOf(work: JobWork | LegacyJobWork): BoundPlan<unknown> {
  return 'run' in work ? legacyPlan(work.steps, (step, context) => work.run(step, context)) : work.plan;
}
