// A plan's run on its own: values flow from step to step, a prelude (which copy a restore reads)
// speaks once as the first step starts, also through a plan opened by `then`, and a job stopped
// before its first step hears no prelude.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Plan, quietHooks, skip, type PlanHooks, type StepContext } from '../../electron/jobs/plan.ts';

/** A context whose log and hooks write one shared record of what happened, in order. */
function recorder(signal = new AbortController().signal): { context: StepContext; hooks: PlanHooks; said: string[] } {
  const said: string[] = [];
  const context: StepContext = {
    signal,
    resources: { record: () => 0, update: () => undefined },
    progress: () => undefined,
    log: (message) => void said.push(`log ${message}`),
    waiting: () => undefined,
    busy: () => undefined,
  };
  const hooks: PlanHooks = {
    stepStarted: (step) => void said.push(`start ${step}`),
    stepFinished: (step, outcome) => void said.push(`${outcome} ${step}`),
  };
  return { context, hooks, said };
}

class Inner {
  static readonly plan = Plan.of<Inner>()
    .step('read', 'Read', async (_work, _none, context) => {
      context.log('inner read');
      return 2;
    })
    .step('write', 'Write', async (_work, blocks) => blocks * 10);
  readonly plan = Inner.plan.bind(this);
}

class Outer {
  static readonly plan = Plan.of<Outer>()
    .step('open', 'Open', async () => 'staged')
    .step('check', 'Check', async (_work, staged) => skip(staged.length))
    .then(Inner.plan.steps, () => new Inner().plan);
  readonly plan = Outer.plan.bind(this);
}

test('each step gets what the one before returned; a skipped step passes its value on', async () => {
  const { context, said } = recorder();
  const hooks: PlanHooks = { ...quietHooks, stepFinished: (step, outcome) => void said.push(`${outcome} ${step}`) };
  assert.equal(await new Outer().plan.run(context, hooks), 20);
  assert.deepEqual(
    Outer.plan.steps.map((step) => step.name),
    ['open', 'check', 'read', 'write'],
  );
  assert.deepEqual(
    said.filter((line) => !line.startsWith('log')),
    ['done open', 'skipped check', 'done read', 'done write'],
  );
});

test('a prelude speaks once, as the first step starts, inside that step', async () => {
  const { context, hooks, said } = recorder();
  await new Outer().plan.withPrelude((step) => step.log('reading the primary')).run(context, hooks);
  assert.deepEqual(said.slice(0, 3), ['start open', 'log reading the primary', 'done open']);
  assert.equal(said.filter((line) => line === 'log reading the primary').length, 1);
  // A plan opened by `then` has its own prelude: it too speaks as its first step starts.
  const inner = recorder();
  await new Inner().plan.withPrelude((step) => step.log('from copy far')).run(inner.context, inner.hooks);
  assert.deepEqual(inner.said.slice(0, 3), ['start read', 'log from copy far', 'log inner read']);
});

test('a job stopped before its first step hears no prelude', async () => {
  const stop = new AbortController();
  stop.abort();
  const { context, hooks, said } = recorder(stop.signal);
  await assert.rejects(new Outer().plan.withPrelude((step) => step.log('reading the primary')).run(context, hooks), { code: 'cancelled' });
  assert.deepEqual(said, []);
});

test('a plan that opens with other steps than it declared is refused', async () => {
  const wrong = Plan.of<null>()
    .step('open', 'Open', async () => undefined)
    .then([{ name: 'restore', title: 'Restore' }], () => new Inner().plan);
  const { context, hooks } = recorder();
  await assert.rejects(wrong.bind(null).run(context, hooks), { code: 'internal', message: /not the declared restore/ });
});
