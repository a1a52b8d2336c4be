// The machine-wide lock that takes turns on 2049/111: waiters in separate processes are never two
// inside at once, a holder that is killed frees the lock at once (no stale lock to take over), and
// a live holder is waited for.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { withMachineLock } from '../../scripts/peers/port-lock.ts';
import { tempDir } from '../helpers/env.ts';

const run = promisify(execFile);
const lockModule = join(import.meta.dirname, '..', '..', 'scripts', 'peers', 'port-lock.ts');

/** A script that takes lock `name`, prints "in", does `inside`, and leaves. */
async function lockScript(dir: string, name: string, inside: string): Promise<string> {
  const script = join(dir, `holder-${randomUUID()}.ts`);
  await writeFile(
    script,
    `import { open, rm } from 'node:fs/promises';
import { withMachineLock } from ${JSON.stringify(lockModule)};
await withMachineLock(${JSON.stringify(name)}, async () => {
  process.stdout.write('in\\n');
  ${inside}
});
`,
  );
  return script;
}

test('waiters in separate processes take the lock one at a time', async () => {
  const dir = await tempDir();
  const marker = join(dir, 'inside');
  // Inside the lock each waiter makes a marker only one may hold, keeps it a moment, removes it.
  const waiter = await lockScript(
    dir,
    `lifeboat-test-${randomUUID()}`,
    `const handle = await open(${JSON.stringify(marker)}, 'wx'); // EEXIST: two inside at once
  await handle.close();
  await new Promise((resolve) => setTimeout(resolve, 30));
  await rm(${JSON.stringify(marker)});`,
  );
  const waiters = Array.from({ length: 4 }, () => run(process.execPath, [waiter], { timeout: 60_000 }));
  const results = await Promise.allSettled(waiters);
  assert.deepEqual(
    results.filter((result) => result.status === 'rejected').map((result) => String(result.reason)),
    [],
    'no two waiters inside at once',
  );
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name === 'inside'),
    [],
    'every waiter left',
  );
});

test('a holder that is killed frees the lock at once; a live holder is waited for', async () => {
  const dir = await tempDir();
  const name = `lifeboat-test-${randomUUID()}`;
  const holder = spawn(process.execPath, [await lockScript(dir, name, 'await new Promise(() => setInterval(() => {}, 1000));')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await once(holder.stdout, 'data'); // "in": the holder has the lock
    const waiting = withMachineLock(name, async () => 'entered');
    const early = await Promise.race([waiting, new Promise((resolve) => setTimeout(() => resolve('waiting'), 1000))]);
    assert.equal(early, 'waiting', 'the live holder is waited for');
    holder.kill('SIGKILL'); // no finally runs in the holder: only the kernel can free the lock
    assert.equal(await waiting, 'entered');
  } finally {
    holder.kill('SIGKILL');
  }
});

test('two holders in one process take turns', async () => {
  const name = `lifeboat-test-${randomUUID()}`;
  const order: string[] = [];
  const hold = (label: string) =>
    withMachineLock(name, async () => {
      order.push(`${label} in`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push(`${label} out`);
    });
  await Promise.all([hold('a'), hold('b')]);
  assert.deepEqual(order, ['a in', 'a out', 'b in', 'b out']);
});
