// The lock file that takes turns on 2049/111: waiters in separate processes that all find a dead
// holder's lock take it over one at a time — never two inside at once — and a lock of a live
// holder is left alone.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/env.ts';

const run = promisify(execFile);
const lockModule = join(import.meta.dirname, '..', '..', 'scripts', 'peers', 'port-lock.ts');

/** A pid that ran and has ended (its process waited for). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(child.pid);
  return child.pid;
}

test('waiters that all see a dead holder take the lock one at a time', async () => {
  const dir = await tempDir();
  const lock = join(dir, 'ports.lock');
  const inside = join(dir, 'inside');
  // Inside the lock each waiter makes a marker that only one may hold, keeps it a moment, removes it.
  const waiter = join(dir, 'waiter.ts');
  await writeFile(
    waiter,
    `import { open, rm } from 'node:fs/promises';
import { withLockFile } from ${JSON.stringify(lockModule)};
await withLockFile(${JSON.stringify(lock)}, async () => {
  const marker = await open(${JSON.stringify(inside)}, 'wx'); // EEXIST: two waiters inside at once
  await marker.close();
  await new Promise((resolve) => setTimeout(resolve, 30));
  await rm(${JSON.stringify(inside)});
});
`,
  );
  for (let round = 0; round < 2; round++) {
    await writeFile(lock, String(await deadPid()));
    const waiters = Array.from({ length: 4 }, () => run(process.execPath, [waiter], { timeout: 60_000 }));
    const results = await Promise.allSettled(waiters);
    assert.deepEqual(
      results.filter((result) => result.status === 'rejected').map((result) => String(result.reason)),
      [],
      `round ${round}: no two waiters inside at once`,
    );
    assert.deepEqual(await readdir(dir), ['waiter.ts'], 'the lock is gone and nothing was left aside');
  }
});

test("a live holder's lock is waited for, not taken over", async () => {
  const dir = await tempDir();
  const lock = join(dir, 'ports.lock');
  const { withLockFile } = await import('../../scripts/peers/port-lock.ts');
  // pid 1 always runs (as root: a test not run as root gets EPERM from kill(1, 0), also "alive").
  await writeFile(lock, '1');
  const waiting = withLockFile(lock, async () => 'entered');
  const early = await Promise.race([waiting, new Promise((resolve) => setTimeout(() => resolve('waiting'), 1200))]);
  assert.equal(early, 'waiting', 'the lock of live pid 1 is not taken over');
  await writeFile(lock, String(await deadPid()));
  assert.equal(await waiting, 'entered');
});
