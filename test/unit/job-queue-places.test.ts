// Where a queued job stands and why, from the scheduler's own decision: one job per VM, the
// worker limit; the places move up (and are told in one jobs.queued event) as jobs start or are
// cancelled; cancelMany
// cancels what it can and lists the rest.
import assert from 'node:assert/strict';
import type { Job } from '../../shared/domain.ts';
import { jobsHandlers } from '../../electron/engine/jobs-handlers.ts';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { backupOf, Gate, inState, openQueue, ScriptedWork } from '../helpers/queue-works.ts';
import { until } from '../helpers/env.ts';

const placesOf = (jobs: Job[]): (string | null)[] => jobs.map((job) => (job.queue ? `${job.queue.position}: ${job.queue.reason}` : null));

catalogTest("jobs queued behind a VM's running job and behind the worker limit: positions and reasons", async (t, backend) => {
  const { catalog, queue, events } = await openQueue(t, 2, undefined, backend);
  const gate = new Gate();
  const submitted = ['web-01', 'web-01', 'db-01', 'web-01', 'app-01', 'mail-01'].map((vm) =>
    queue.submit(backupOf(vm), new ScriptedWork({ gate }).factory),
  );
  const ids = submitted.map((job) => job.id);
  await inState(catalog, ids[2] as string, 'running');
  const told: { jobId: string; place: { position: number; reason: string } }[][] = [];
  events.on('jobs.queued', ({ places }) => void told.push(places));
  const listed = (): Job[] => queue.placed(ids.map((id) => catalog.getJob(id) as Job));
  assert.deepEqual(placesOf(listed()), [
    null,
    "1: waiting for VM web-01's other job",
    null,
    "2: waiting for VM web-01's other job",
    '3: waiting for a worker',
    '4: waiting for a worker',
  ]);
  assert.equal(submitted[5]?.queue?.position, 4, 'submit answers with the new job in its place');

  // Cancelling the first queued job moves the others up, and says so in job.updated.
  const handlers = jobsHandlers(catalog, queue);
  const caller = { caller: { via: 'os', name: 'root', role: 'administrator' } } as unknown as Parameters<
    (typeof handlers)['jobs.cancelMany']
  >[1];
  const answer = await handlers['jobs.cancelMany']({ jobIds: [ids[1] as string, 'no-such-job'] }, caller);
  assert.deepEqual(
    answer.cancelled.map((job) => job.state),
    ['cancelled'],
  );
  assert.deepEqual(answer.refused, [{ jobId: 'no-such-job', message: 'job no-such-job does not exist' }]);
  assert.deepEqual(placesOf(listed()), [
    null,
    null,
    null,
    "1: waiting for VM web-01's other job",
    '2: waiting for a worker',
    '3: waiting for a worker',
  ]);
  // One jobs.queued event tells the places that moved up.
  const lastTold = await until('the new places told', () => told.find((places) => places.length === 3));
  assert.deepEqual(
    lastTold.map(({ jobId, place }) => [ids.indexOf(jobId), place.position]),
    [
      [3, 1],
      [4, 2],
      [5, 3],
    ],
  );

  gate.open();
  await queue.idle();
  const ended = await handlers['jobs.cancelMany']({ jobIds: [ids[0] as string] }, caller);
  assert.equal(ended.cancelled.length, 0);
  assert.match(ended.refused[0]?.message ?? '', /already ended \(succeeded\)/);
  assert.deepEqual(placesOf(listed()), [null, null, null, null, null, null]);
  const listedByHandler = await handlers['jobs.list']({}, caller);
  assert.ok(listedByHandler.every((job) => job.queue === null));
});
