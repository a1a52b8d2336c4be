// What a new engine's queue does with the jobs a previous engine left unfinished: a rerunnable
// one (an index job) is queued again and runs once the engine has opened; any other, or one held
// for an operator, is marked interrupted, saying whether it had started.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Job, JobStep } from '../../shared/domain.ts';
import type { Catalog } from '../../electron/catalog/catalog.ts';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { assertState, inState, jobRecord, openQueue, ScriptedWork, stepStates } from '../helpers/queue-works.ts';

const AT = '2025-01-01T00:00:00.000Z';

const NOT_STARTED: readonly JobStep['state'][] = ['pending', 'pending', 'pending'];
const IN_TRANSFER: readonly JobStep['state'][] = ['done', 'running', 'pending'];

/** A job as the previous engine left it in the catalog, its steps in these states. */
function leftBehind(catalog: Catalog, kind: Job['kind'], state: Job['state'], states: readonly JobStep['state'][]): Job {
  const steps = ScriptedWork.plan.steps.map((step, index) => ({ ...step, state: states[index] ?? 'pending' }));
  const currentStep = steps.find((step) => step.state === 'running')?.name ?? null;
  const job = jobRecord({
    id: randomUUID(),
    kind,
    vmId: randomUUID(),
    vmName: 'web',
    state,
    summary: `${kind} of web`,
    steps,
    currentStep,
    createdAt: AT,
    startedAt: currentStep === null ? null : AT,
    waitingFor: state === 'waiting-for-operator' ? 'approval' : null,
  });
  catalog.insertJob(job, {});
  return job;
}

catalogTest('after a restart, rerunnable jobs are queued again and run; the others are interrupted', async (t, backend) => {
  const rerunWorks: ScriptedWork[] = [];
  const { catalog, queue, started } = await openQueue(
    t,
    1,
    (job) => {
      if (job.kind !== 'index') return null;
      const work = new ScriptedWork();
      rerunWorks.push(work);
      return work.factory;
    },
    backend,
  );
  const indexRunning = leftBehind(catalog, 'index', 'running', IN_TRANSFER);
  const indexQueued = leftBehind(catalog, 'index', 'queued', NOT_STARTED);
  const indexHeld = leftBehind(catalog, 'index', 'waiting-for-operator', NOT_STARTED);
  const backupRunning = leftBehind(catalog, 'backup', 'running', IN_TRANSFER);
  const backupQueued = leftBehind(catalog, 'backup', 'queued', NOT_STARTED);
  const done = leftBehind(catalog, 'backup', 'succeeded', ['done', 'done', 'done']);

  const interrupted = queue.recoverAfterRestart();
  assert.deepEqual(
    interrupted.map((job) => job.id),
    [indexHeld.id, backupRunning.id, backupQueued.id],
  );
  assert.deepEqual(
    interrupted.map((job) => [job.state, job.error]),
    [
      ['interrupted', 'the engine stopped while this job ran'],
      ['interrupted', 'the engine stopped while this job ran'],
      ['interrupted', 'the engine stopped before this job started'],
    ],
  );
  assert.deepEqual(
    catalog.jobEvents(backupRunning.id).map(({ level, step }) => ({ level, step })),
    [{ level: 'warning', step: 'transfer' }],
  );
  assertState(catalog, done.id, 'succeeded', 'an ended job is left as it was');

  const requeued = catalog.getJob(indexRunning.id);
  assert.equal(requeued?.state, 'queued');
  assert.equal(requeued?.currentStep, null);
  assert.deepEqual(requeued && stepStates(requeued), { prepare: 'pending', transfer: 'pending', tidy: 'pending' });
  assert.deepEqual(
    catalog.jobEvents(indexRunning.id).map((event) => event.message),
    ['queued again after the engine restarted'],
  );
  assertState(catalog, indexQueued.id, 'queued');
  assert.deepEqual(started, [], 'nothing runs before the engine has opened');

  queue.startQueued();
  for (const job of [indexRunning, indexQueued]) await inState(catalog, job.id, 'succeeded');
  assert.deepEqual(started, [indexRunning.id, indexQueued.id]);
  assert.deepEqual(
    rerunWorks.map((work) => work.finished),
    [[true], [true]],
  );
});
