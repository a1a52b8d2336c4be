// What a job does, apart from queueing and bookkeeping: a plan of typed steps (plan.ts), a
// cleanup that leaves nothing half-done, and a result worth recording.
import { LifeboatError } from '../errors.ts';
import type { BoundPlan } from './plan.ts';

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
