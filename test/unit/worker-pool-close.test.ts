// Closing the block workers: idle ones leave on their own (exit code 0) instead of being
// terminated, also while they are still starting; terminating a starting thread could abort the
// whole process (see WorkerPool.close).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerPool } from '../../electron/workers/pool.ts';
import type { HashFileTask } from '../../electron/workers/messages.ts';

test('a pool closed at once, while its workers still start, sees them all leave on their own', async () => {
  for (let round = 0; round < 8; round++) {
    const pool = new WorkerPool(2);
    assert.deepEqual(await pool.close(), [0, 0]);
  }
});

test('a pool that worked, then closed, sees its workers leave on their own, and refuses new work', async () => {
  const pool = new WorkerPool(2);
  const task: HashFileTask = { type: 'hash-file', path: import.meta.filename, control: new Int32Array(new SharedArrayBuffer(4)) };
  const hashed = await pool.run<{ bytes: number }>(task);
  assert.ok(hashed.bytes > 0);
  assert.deepEqual(await pool.close(), [0, 0]);
  await assert.rejects(pool.run(task), { code: 'unavailable' });
});

test('a pool closed while its workers are busy fails the tasks they had, instead of leaving them unanswered', async () => {
  const pool = new WorkerPool(1);
  // A first task answered: the worker has started (terminating one still starting is what close avoids).
  await pool.run({ type: 'hash-file', path: import.meta.filename, control: new Int32Array(new SharedArrayBuffer(4)) });
  // /dev/zero never ends: the hash runs until the worker is terminated.
  const endless: HashFileTask = { type: 'hash-file', path: '/dev/zero', control: new Int32Array(new SharedArrayBuffer(4)) };
  const running = pool.run(endless);
  const queued = pool.run(endless);
  const exits = pool.close();
  await assert.rejects(running, { code: 'unavailable' });
  await assert.rejects(queued, { code: 'unavailable' });
  assert.equal((await exits).length, 1);
});
