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

/** Hooks that report nothing: for a plan run inside one step of another job (a rehearsal's restores). */
export const quietHooks: PlanHooks = { stepStarted: () => undefined, stepFinished: () => undefined };

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new LifeboatError('cancelled', 'the job was cancelled by the operator');
}

/** What a step that does not apply to this job returns (e.g. no snapshot to remove): it is shown
 * as skipped, and `value` is passed on to the next step as a done step's result would be. */
export class Skipped<T> {
  // A private brand makes the type nominal: a step's own result with a `value` field is not a Skipped.
  declare private readonly brand: never;
  readonly value: T;
  constructor(value: T) {
    this.value = value;
  }
}
export function skip(): Skipped<void>;
export function skip<T>(value: T): Skipped<T>;
export function skip<T>(value?: T): Skipped<T | undefined> {
  return new Skipped(value);
}

type StepRun<Self, In, Out> = (self: Self, input: In, context: StepContext) => Promise<Out | Skipped<Out>>;

// The plan's entries with their types erased: Plan's methods are the only way to add one, and
// they check that each step takes what the step before returns.
type Entry =
  | { kind: 'step'; definition: StepDefinition; run: StepRun<unknown, unknown, unknown> }
  | { kind: 'plan'; declared: readonly StepDefinition[]; open: (self: unknown, input: unknown) => BoundPlan<unknown> };

/** A job's steps, declared once and in order (named after the seeds' phases): each step's run
 * is given the job's work (`self`) and what the step before returned, so state passes from one
 * step to the next typed, never read back from fields that an earlier step may have filled.
 * Declared as a static member of the work's class; an instance runs it through `bind(this)`. */
export class Plan<Self, Out = void> {
  private readonly entries: readonly Entry[];

  private constructor(entries: readonly Entry[]) {
    this.entries = entries;
  }

  /** An empty plan for works of type Self; its first step gets `undefined`. */
  static of<Self>(): Plan<Self, void> {
    return new Plan<Self, void>([]);
  }

  get steps(): readonly StepDefinition[] {
    return stepsOf(this.entries);
  }

  /** Adds a step. */
  step<Next>(name: string, title: string, run: StepRun<Self, Out, Next>): Plan<Self, Next> {
    return new Plan<Self, Next>([
      ...this.entries,
      { kind: 'step', definition: { name, title }, run: run as StepRun<unknown, unknown, unknown> },
    ]);
  }

  /** Adds the steps of another work's plan, which the step before opens at run time (a staged
   * restore opens its restore once the backup is staged). `declared` are that plan's steps,
   * known before it exists so the job can list them; a plan that opens with others is refused. */
  then<Next>(declared: readonly StepDefinition[], open: (self: Self, input: Out) => BoundPlan<Next>): Plan<Self, Next> {
    return new Plan<Self, Next>([
      ...this.entries,
      { kind: 'plan', declared, open: open as (self: unknown, input: unknown) => BoundPlan<unknown> },
    ]);
  }

  /** The plan of one work, ready to run. */
  bind(self: Self): BoundPlan<Out> {
    return new BoundPlan<Out>(self, this.entries, null);
  }
}

function stepsOf(entries: readonly Entry[]): readonly StepDefinition[] {
  return entries.flatMap((entry) => (entry.kind === 'step' ? [entry.definition] : entry.declared));
}

/** A plan bound to its work: what the job queue runs. */
export class BoundPlan<Out> {
  private readonly self: unknown;
  private readonly entries: readonly Entry[];
  private readonly prelude: ((context: StepContext) => void) | null;

  constructor(self: unknown, entries: readonly Entry[], prelude: ((context: StepContext) => void) | null) {
    this.self = self;
    this.entries = entries;
    this.prelude = prelude;
  }

  get steps(): readonly StepDefinition[] {
    return stepsOf(this.entries);
  }

  /** The same plan, with `first` called as its first step starts (to log which copy it reads). */
  withPrelude(first: (context: StepContext) => void): BoundPlan<Out> {
    const earlier = this.prelude;
    return new BoundPlan<Out>(this.self, this.entries, (context) => {
      earlier?.(context);
      first(context);
    });
  }

  /** Runs the steps in order, each with what the one before returned; the signal is checked
   * before each step. Returns what the last step returned. */
  async run(context: StepContext, hooks: PlanHooks): Promise<Out> {
    // The prelude speaks as the first step starts, so its lines are that step's (and a job
    // cancelled before it says nothing).
    let prelude = this.prelude;
    const stepHooks: PlanHooks = {
      ...hooks,
      stepStarted: (step) => {
        hooks.stepStarted(step);
        prelude?.(context);
        prelude = null;
      },
    };
    let value: unknown = undefined;
    for (const entry of this.entries) {
      if (entry.kind === 'plan') {
        const opened = entry.open(this.self, value);
        const names = (steps: readonly StepDefinition[]): string => steps.map((step) => step.name).join(', ');
        if (names(opened.steps) !== names(entry.declared))
          throw new LifeboatError(
            'internal',
            `the plan opened has the steps ${names(opened.steps)}, not the declared ${names(entry.declared)}`,
          );
        value = await opened.run(context, stepHooks);
        continue;
      }
      const { definition, run } = entry;
      throwIfCancelled(context.signal);
      stepHooks.stepStarted(definition.name);
      try {
        const outcome = await run(this.self, value, context);
        hooks.afterStep?.(definition.name);
        hooks.stepFinished(definition.name, outcome instanceof Skipped ? 'skipped' : 'done');
        value = outcome instanceof Skipped ? outcome.value : outcome;
      } catch (error) {
        hooks.stepFinished(definition.name, 'failed');
        throw error;
      }
    }
    return value as Out;
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
