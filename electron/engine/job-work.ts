// What a job does, apart from queueing and bookkeeping: a plan of named steps, a run for each,
// a cleanup that leaves nothing half-done, and a result worth recording.
import type { StepContext, StepDefinition } from './plan.ts';

export interface JobWork {
  readonly steps: readonly StepDefinition[];
  /** Runs one named step; 'skipped' when the step does not apply to this target. */
  run(step: string, context: StepContext): Promise<'done' | 'skipped' | void>;
  /** Called once after the plan ends; `succeeded` false means undo what was made. */
  finish(succeeded: boolean): Promise<void>;
  result(): Record<string, unknown>;
}
