// A job that was running when its engine died shows as interrupted on the next start, and the
// inventory is rebuilt from the repository if the catalog missed a committed point.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../electron/catalog/catalog.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { tempDir } from '../helpers/env.ts';
import { jobRecord } from '../helpers/queue-works.ts';

test('running and queued jobs of a dead engine are interrupted on restart', async () => {
  const home = join(await tempDir(), 'home');
  const first = await openServedEngine({ home, workerThreads: 2 });
  await first.close();
  const catalog = Catalog.open(join(home, 'catalog.sqlite'));
  const base = {
    kind: 'restore-entire-vm' as const,
    vmId: 'vm-1',
    summary: 's',
    currentStep: 'transfer-disks',
    bytesDone: 5,
    bytesTotal: 10,
  };
  catalog.insertJob(jobRecord({ ...base, id: 'running-job', state: 'running' }), {});
  catalog.insertJob(jobRecord({ ...base, id: 'queued-job', state: 'queued' }), {});
  catalog.close();
  const second = await openServedEngine({ home, workerThreads: 2 });
  try {
    const running = second.catalog.getJob('running-job');
    assert.equal(running?.state, 'interrupted');
    assert.match(running?.error ?? '', /stopped while this job ran/);
    assert.equal(second.catalog.getJob('queued-job')?.state, 'interrupted');
    assert.ok(second.catalog.jobEvents('running-job').some((event) => event.level === 'warning'));
  } finally {
    await second.close();
  }
});

test('one engine per home: a second one is refused, and the home is free again after close', async () => {
  const home = join(await tempDir(), 'home');
  const first = await openServedEngine({ home, workerThreads: 2 });
  try {
    await assert.rejects(openServedEngine({ home, workerThreads: 2 }), {
      code: 'conflict',
      message: /another engine already serves this home/,
    });
  } finally {
    await first.close();
  }
  const again = await openServedEngine({ home, workerThreads: 2 });
  await again.close();
});
