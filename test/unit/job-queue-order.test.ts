// Which queued job starts when: first come first served among those that may start, at most
// `concurrency` at once, one job per VM at a time, and outside-limit (tape) jobs at once.
import assert from 'node:assert/strict';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { assertState, backupOf, Gate, inState, openQueue, ScriptedWork } from '../helpers/queue-works.ts';

catalogTest('jobs start in the order they were queued', async (t, backend) => {
  const { catalog, queue, started } = await openQueue(t, 1, undefined, backend);
  const gates = [new Gate(), new Gate(), new Gate()];
  const [first, second, third] = ['a', 'b', 'c'].map((vm, index) =>
    queue.submit(backupOf(vm), new ScriptedWork({ gate: gates[index] }).factory),
  );
  assert.ok(first && second && third);
  await inState(catalog, first.id, 'running');
  assertState(catalog, second.id, 'queued');
  gates[2]?.open();
  gates[0]?.open();
  await inState(catalog, second.id, 'running');
  assertState(catalog, third.id, 'queued', 'the third waits for the second, though its own gate is open');
  gates[1]?.open();
  await queue.idle();
  assert.deepEqual(started, [first.id, second.id, third.id]);
});

catalogTest('at most `concurrency` jobs run at once', async (t, backend) => {
  const { catalog, queue, peak } = await openQueue(t, 2, undefined, backend);
  const gate = new Gate();
  const jobs = ['a', 'b', 'c', 'd'].map((vm) => queue.submit(backupOf(vm), new ScriptedWork({ gate }).factory));
  for (const job of jobs.slice(0, 2)) await inState(catalog, job.id, 'running');
  assert.deepEqual(
    jobs.map((job) => catalog.getJob(job.id)?.state),
    ['running', 'running', 'queued', 'queued'],
  );
  gate.open();
  await queue.idle();
  assert.deepEqual(
    jobs.map((job) => catalog.getJob(job.id)?.state),
    ['succeeded', 'succeeded', 'succeeded', 'succeeded'],
  );
  assert.equal(peak(), 2);
});

catalogTest(
  "a VM's second job waits for its first while another VM's job runs; jobs of no VM do not wait for each other",
  async (t, backend) => {
    const { catalog, queue, started } = await openQueue(t, 4, undefined, backend);
    const firstGate = new Gate();
    const otherGate = new Gate();
    const first = queue.submit(backupOf('vm-1'), new ScriptedWork({ gate: firstGate }).factory);
    const second = queue.submit(backupOf('vm-1'), new ScriptedWork().factory);
    const other = queue.submit(backupOf('vm-2'), new ScriptedWork({ gate: otherGate }).factory);
    await inState(catalog, other.id, 'running');
    assertState(catalog, first.id, 'running');
    assertState(catalog, second.id, 'queued');
    firstGate.open();
    await inState(catalog, second.id, 'succeeded');
    assertState(catalog, other.id, 'running');
    assert.deepEqual(started, [first.id, other.id, second.id]);

    const noVmGate = new Gate();
    const unbound = [
      queue.submit(backupOf(null), new ScriptedWork({ gate: noVmGate }).factory),
      queue.submit(backupOf(null), new ScriptedWork({ gate: noVmGate }).factory),
    ];
    for (const job of unbound) await inState(catalog, job.id, 'running');
    noVmGate.open();
    otherGate.open();
    await queue.idle();
  },
);

catalogTest('an outside-limit job starts at once, even with the limit reached and its VM busy, and is not counted', async (t, backend) => {
  const { catalog, queue } = await openQueue(t, 1, undefined, backend);
  const limitedGate = new Gate();
  const tapeGate = new Gate();
  const limited = queue.submit(backupOf('vm-1'), new ScriptedWork({ gate: limitedGate }).factory);
  await inState(catalog, limited.id, 'running');
  const tape = queue.submit(backupOf('vm-1', { kind: 'tape-backup', outsideLimit: true }), new ScriptedWork({ gate: tapeGate }).factory);
  await inState(catalog, tape.id, 'running');
  const next = queue.submit(backupOf('vm-2'), new ScriptedWork().factory);
  assertState(catalog, next.id, 'queued', 'the limit of 1 is taken by the limited job');
  limitedGate.open();
  await inState(catalog, next.id, 'succeeded');
  assertState(catalog, tape.id, 'running', 'the next limited job ran beside the tape job');
  tapeGate.open();
  await queue.idle();
  assertState(catalog, tape.id, 'succeeded');
});
