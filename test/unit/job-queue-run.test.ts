// How the queue runs one job: its steps are its work's plan, each step's outcome shows on the
// job (done, skipped, failed), a failure ends the job with its message and an undo, and progress
// is throttled for the UI while the last figures are kept with the job.
import assert from 'node:assert/strict';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { backupOf, openQueue, ScriptedWork, stepStates } from '../helpers/queue-works.ts';

catalogTest("a job's steps are its work's plan, and a step's result flows to the next", async (t, backend) => {
  const { catalog, queue } = await openQueue(t, 1, undefined, backend);
  const work = new ScriptedWork();
  const job = queue.submit(backupOf('vm-1'), work.factory);
  const planned = ScriptedWork.plan.steps.map((step) => ({ ...step, state: 'pending' }));
  assert.deepEqual(job.steps, planned);
  assert.deepEqual(
    catalog.getJob(job.id)?.steps.map((step) => step.name),
    ['prepare', 'transfer', 'tidy'],
  );
  const ended = await queue.whenEnded(job.id);
  assert.equal(ended.state, 'succeeded');
  assert.deepEqual(stepStates(ended), { prepare: 'done', transfer: 'done', tidy: 'done' });
  assert.equal(ended.currentStep, null);
  assert.deepEqual(ended.result, { blocks: 3, bytes: 3 * 4096 }, 'what prepare returned reached tidy through transfer');
  assert.deepEqual(work.finished, [true]);
  assert.deepEqual(
    catalog.jobEvents(job.id).map((event) => event.message),
    ['step prepare started', 'step transfer started', 'step tidy started', 'job succeeded'],
  );
});

catalogTest('a skipped step shows skipped, and its value still flows on', async (t, backend) => {
  const { queue } = await openQueue(t, 1, undefined, backend);
  const work = new ScriptedWork({ nothingToTidy: true });
  const ended = await queue.whenEnded(queue.submit(backupOf('vm-1'), work.factory).id);
  assert.equal(ended.state, 'succeeded');
  assert.deepEqual(stepStates(ended), { prepare: 'done', transfer: 'done', tidy: 'skipped' });
  assert.deepEqual(ended.result, { blocks: 3, bytes: 3 * 4096 });
  assert.deepEqual(work.finished, [true]);
});

catalogTest('a failing step ends the job failed with its message, and its work undoes what it made', async (t, backend) => {
  const { catalog, queue } = await openQueue(t, 1, undefined, backend);
  const work = new ScriptedWork({ failWith: 'the target disk is full' });
  const job = queue.submit(backupOf('vm-1'), work.factory);
  const ended = await queue.whenEnded(job.id);
  assert.equal(ended.state, 'failed');
  assert.equal(ended.error, 'the target disk is full');
  assert.deepEqual(stepStates(ended), { prepare: 'done', transfer: 'failed', tidy: 'pending' });
  assert.deepEqual(work.finished, [false]);
  assert.deepEqual(
    catalog
      .jobEvents(job.id)
      .filter((event) => event.level === 'error')
      .map(({ step, message }) => ({ step, message })),
    [{ step: 'transfer', message: 'the target disk is full' }],
  );
  const next = queue.submit(backupOf('vm-1'), new ScriptedWork().factory);
  assert.equal((await queue.whenEnded(next.id)).state, 'succeeded', 'the VM is free again');
});

catalogTest('progress events are throttled, the final one always sent, and the last figures kept with the job', async (t, backend) => {
  const { catalog, queue, progress } = await openQueue(t, 1, undefined, backend);
  const reports = Array.from({ length: 701 }, (_, index) => index);
  const partial = queue.submit(backupOf('vm-1'), new ScriptedWork({ progress: { done: reports, total: 1000 } }).factory);
  const ended = await queue.whenEnded(partial.id);
  const sent = progress.filter((report) => report.jobId === partial.id);
  assert.ok(sent.length >= 1 && sent.length < reports.length, `${sent.length} events for ${reports.length} reports`);
  assert.deepEqual([sent[0]?.bytesDone, sent[0]?.bytesTotal, sent[0]?.step], [0, 1000, 'transfer']);
  assert.deepEqual([ended.bytesDone, ended.bytesTotal], [700, 1000], 'the figures the throttle skipped are kept at the end');
  assert.equal(catalog.jobSamples(partial.id).at(-1)?.bytesDone, 700);

  const complete = queue.submit(backupOf('vm-2'), new ScriptedWork({ progress: { done: [...reports, 1000], total: 1000 } }).factory);
  await queue.whenEnded(complete.id);
  const last = progress.filter((report) => report.jobId === complete.id).at(-1);
  assert.deepEqual([last?.bytesDone, last?.bytesTotal], [1000, 1000], 'the last report is sent however soon it comes');
});
