// What an operator does to jobs: release a held job, resume an interrupted one, cancel one in any
// state; and what a caller waits on: one job's end, or the whole queue idle.
import assert from 'node:assert/strict';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { assertState, backupOf, Gate, inState, openQueue, ScriptedWork, stepStates } from '../helpers/queue-works.ts';

catalogTest('a held job waits for its release, which is refused for another reason or an unknown job', async (t, backend) => {
  const { catalog, queue, started } = await openQueue(t, 2, undefined, backend);
  const held = queue.submit(backupOf('vm-1', { holdFor: 'approval', requestedBy: 'local:alice' }), new ScriptedWork().factory);
  assert.equal(held.state, 'waiting-for-operator');
  assert.equal(held.waitingFor, 'approval');
  assert.equal(catalog.getJob(held.id)?.requestedBy, 'local:alice');
  await queue.idle();
  assert.deepEqual(started, [], 'a held job does not start, and idle does not wait for it');
  assert.throws(() => queue.release(held.id, 'tape'), { code: 'conflict', message: /is not waiting for tape/ });
  assert.throws(() => queue.release('no-such-job', 'approval'), { code: 'not-found' });
  const released = queue.release(held.id, 'approval');
  assert.equal(released.waitingFor, null);
  assert.equal((await queue.whenEnded(held.id)).state, 'succeeded');
  assert.throws(() => queue.release(held.id, 'approval'), { code: 'conflict' }, 'released once');
});

catalogTest('an interrupted job is resumed under its own id; any other is refused', async (t, backend) => {
  const { catalog, queue } = await openQueue(t, 1, undefined, backend);
  const blocked = new ScriptedWork({ blockedBy: 'the source is unreadable' });
  const job = queue.submit(backupOf('vm-1'), blocked.factory);
  const interrupted = await queue.whenEnded(job.id);
  assert.equal(interrupted.state, 'interrupted');
  assert.equal(interrupted.error, 'the source is unreadable');
  assert.deepEqual(blocked.finished, [false], 'a backup is not resumable: cleaned up at once');

  const resumed = new ScriptedWork();
  const requeued = queue.requeue(job.id, resumed.factory);
  assert.equal(requeued.id, job.id);
  assert.equal(requeued.error, null);
  const ended = await queue.whenEnded(job.id);
  assert.equal(ended.state, 'succeeded');
  assert.deepEqual(stepStates(ended), { prepare: 'done', transfer: 'done', tidy: 'done' });
  assert.deepEqual(resumed.finished, [true]);
  assert.ok(catalog.jobEvents(job.id).some((event) => event.message === 'resumed by the operator'));

  assert.throws(() => queue.requeue(job.id, new ScriptedWork().factory), {
    code: 'conflict',
    message: /is succeeded; only an interrupted job can be resumed/,
  });
  assert.throws(() => queue.requeue('no-such-job', new ScriptedWork().factory), { code: 'not-found' });
  await queue.close();
  assert.throws(() => queue.requeue(job.id, new ScriptedWork().factory), { code: 'unavailable' });
});

catalogTest(
  'cancel: a queued or held job ends before it starts, a running one is stopped and cleaned up, an ended one is refused',
  async (t, backend) => {
    const { catalog, queue, started } = await openQueue(t, 1, undefined, backend);
    const runningWork = new ScriptedWork({ gate: new Gate() });
    const queuedWork = new ScriptedWork();
    const heldWork = new ScriptedWork();
    const running = queue.submit(backupOf('vm-1'), runningWork.factory);
    const queued = queue.submit(backupOf('vm-2'), queuedWork.factory);
    const held = queue.submit(backupOf('vm-3', { holdFor: 'approval' }), heldWork.factory);
    await inState(catalog, running.id, 'running');

    for (const job of [queued, held]) {
      const cancelled = queue.cancel(job.id);
      assert.equal(cancelled.state, 'cancelled');
      assert.equal(cancelled.error, 'cancelled before it started');
    }
    assert.throws(() => queue.release(held.id, 'approval'), { code: 'conflict' });

    queue.cancel(running.id);
    const stopped = await queue.whenEnded(running.id);
    assert.equal(stopped.state, 'cancelled');
    assert.equal(stopped.error, 'cancelled by the operator');
    assert.deepEqual(stepStates(stopped), { prepare: 'done', transfer: 'failed', tidy: 'pending' });
    assert.deepEqual(runningWork.finished, [false]);

    await queue.idle();
    assert.deepEqual(started, [running.id], 'the cancelled jobs never ran');
    assert.deepEqual([queuedWork.finished, heldWork.finished], [[], []], 'nor needed a cleanup');
    assert.throws(() => queue.cancel(running.id), { code: 'conflict', message: /has already ended \(cancelled\)/ });
    assert.throws(() => queue.cancel('no-such-job'), { code: 'not-found' });
  },
);

catalogTest('whenEnded resolves at the end, at once for an ended job, and refuses an unknown one', async (t, backend) => {
  const { catalog, queue } = await openQueue(t, 1, undefined, backend);
  const gate = new Gate();
  const job = queue.submit(backupOf('vm-1'), new ScriptedWork({ gate }).factory);
  const ending = queue.whenEnded(job.id);
  await inState(catalog, job.id, 'running');
  gate.open();
  assert.equal((await ending).state, 'succeeded');
  assert.equal((await queue.whenEnded(job.id)).state, 'succeeded');
  await assert.rejects(queue.whenEnded('no-such-job'), { code: 'not-found' });
});

catalogTest('idle resolves once nothing is queued or running, held jobs aside', async (t, backend) => {
  const { catalog, queue } = await openQueue(t, 1, undefined, backend);
  const gate = new Gate();
  const running = queue.submit(backupOf('vm-1'), new ScriptedWork({ gate }).factory);
  const queued = queue.submit(backupOf('vm-2'), new ScriptedWork({ gate }).factory);
  const held = queue.submit(backupOf('vm-3', { holdFor: 'approval' }), new ScriptedWork().factory);
  let idle = false;
  const becameIdle = queue.idle().then(() => void (idle = true));
  await inState(catalog, running.id, 'running');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(idle, false, 'a job is running and another queued');
  gate.open();
  await becameIdle;
  assert.deepEqual(
    [running, queued].map((job) => catalog.getJob(job.id)?.state),
    ['succeeded', 'succeeded'],
  );
  assertState(catalog, held.id, 'waiting-for-operator');
});
