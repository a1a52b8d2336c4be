// The queue tells why a job ended: an operator's cancel, or its engine stopping (interrupted,
// never "by the operator"); a rerunnable job stopped stays queued for the next start.
import assert from 'node:assert/strict';
import type { Catalog } from '../../electron/catalog/catalog.ts';
import { EngineEvents } from '../../electron/jobs/events.ts';
import { JobQueue, type JobSpec, type WorkFactory } from '../../electron/jobs/job-queue.ts';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { Gate, ScriptedWork } from '../helpers/queue-works.ts';

/** Works that run until their job is stopped (their gate never opens), kept to read their cleanups. */
function untilStopped(works: ScriptedWork[]): WorkFactory {
  return (job) => {
    const work = new ScriptedWork({ gate: new Gate() });
    works.push(work);
    return work.factory(job);
  };
}

const spec = (kind: JobSpec['kind'], vmId: string): JobSpec => ({ kind, vmId, vmName: vmId, summary: `${kind} of ${vmId}`, params: {} });

async function started(catalog: Catalog, jobId: string): Promise<void> {
  for (let round = 0; round < 1000 && catalog.getJob(jobId)?.state !== 'running'; round++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(catalog.getJob(jobId)?.state, 'running');
}

catalogTest('an operator cancel and an engine stop end a job differently', async (_t, backend) => {
  const catalog = await backend.open();
  const works: ScriptedWork[] = [];
  const queue = new JobQueue(catalog, new EngineEvents(), 2, null, (job) => (job.kind === 'index' ? untilStopped(works) : null));
  try {
    const cancelled = queue.submit(spec('backup', 'a'), untilStopped(works));
    await started(catalog, cancelled.id);
    queue.cancel(cancelled.id);
    const ended = await queue.whenEnded(cancelled.id);
    assert.equal(ended.state, 'cancelled');
    assert.equal(ended.error, 'cancelled by the operator');

    const stopped = queue.submit(spec('backup', 'b'), untilStopped(works));
    const rerunnable = queue.submit(spec('index', 'c'), untilStopped(works));
    const waiting = queue.submit(spec('verify', 'd'), untilStopped(works));
    await started(catalog, stopped.id);
    await queue.close();
    const interrupted = catalog.getJob(stopped.id);
    assert.equal(interrupted?.state, 'interrupted');
    assert.equal(interrupted?.error, 'the engine stopped while this job ran');
    assert.ok(!catalog.jobEvents(stopped.id).some((event) => /operator/.test(event.message)));
    assert.equal(catalog.getJob(rerunnable.id)?.state, 'queued', 'an index job stays queued for the next start');
    assert.equal(catalog.getJob(waiting.id)?.state, 'interrupted', 'a job that had not started is marked at once');
    assert.equal(catalog.getJob(waiting.id)?.error, 'the engine stopped before this job started');
    assert.deepEqual(
      works.flatMap((work) => work.finished),
      [false, false, false],
      'the stopped jobs (not resumable) were cleaned up',
    );
    assert.throws(() => queue.submit(spec('backup', 'e'), untilStopped(works)), { code: 'unavailable' });

    const next = new JobQueue(catalog, new EngineEvents(), 2, null, (job) => (job.kind === 'index' ? untilStopped(works) : null));
    next.recoverAfterRestart();
    next.startQueued();
    await started(catalog, rerunnable.id);
    await next.close();
  } finally {
    catalog.close();
  }
});
