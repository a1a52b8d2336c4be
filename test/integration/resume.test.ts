// kill -9 in the middle of a restore, start the engine again: the job shows as interrupted, and
// resuming it writes only what the checkpoints say is missing; the result is bit-identical.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { makeVmFolder, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');

async function killedMidRestore(): Promise<{ dir: string; home: string; target: string }> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 512, 3);
  await makeVmFolder(source, 'omega', join(dir, 'disk.raw'), 'monolithicFlat');
  const first = await openServedEngine({ home, workerThreads: 2 });
  assert.equal((await runJob(first, await first.backups.start(source, 'test'))).state, 'succeeded');
  await first.close();

  const target = join(dir, 'restored');
  // The engine kills itself at its first checkpoint that records blocks written: polling the
  // catalog for one raced a fast restore, which could end before the poll saw a checkpoint.
  const child = spawn(
    process.execPath,
    [cli, '--home', home, 'restore', 'vm', 'omega', '--point', 'latest', '--target', `local:${target}`],
    {
      env: { ...process.env, LIFEBOAT_CHECKPOINT_MS: '5', LIFEBOAT_KILL_AT: 'partial-checkpoint' },
      stdio: 'ignore',
    },
  );
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  assert.equal(signal, 'SIGKILL', `the restore ended (exit ${code}) before a checkpoint part-way through the disk`);
  const catalog = new Database(join(home, 'catalog.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const row = catalog.prepare('SELECT watermarks, complete FROM job_checkpoints').get() as { watermarks: string; complete: number };
    assert.equal(row.complete, 0);
    assert.ok(
      (JSON.parse(row.watermarks) as number[]).some((mark) => mark > 0),
      'the checkpoint records blocks written',
    );
  } finally {
    catalog.close();
  }
  return { dir, home, target };
}

test('a restore killed with SIGKILL resumes from its checkpoint and ends identical', async () => {
  const { dir, home, target } = await killedMidRestore();
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    assert.equal(await engine.janitor, 0, 'the janitor keeps what a resume needs');
    const [interrupted] = engine.catalog.listJobs().filter((job) => job.kind === 'restore-entire-vm');
    assert.ok(interrupted);
    assert.equal(interrupted.state, 'interrupted');
    assert.deepEqual(await readdir(target), [`.lifeboat-restore-${interrupted.id}`], 'only the staging folder is there');
    const resumed = await runJob(engine, await engine.restores.resume(interrupted.id, 'test'));
    assert.equal(resumed.state, 'succeeded', resumed.error ?? '');
    assert.equal(resumed.id, interrupted.id);
    assert.ok(engine.catalog.jobEvents(resumed.id).some((event) => /resuming from its checkpoint/.test(event.message)));
    const dataBytes = engine.catalog.listPoints(engine.lookup.resolveVm('omega').id)[0]?.changedBytes ?? 0;
    assert.ok((resumed.result?.bytesWritten as number) < dataBytes, 'the resumed run wrote less than the whole disk');
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', join(dir, 'disk.raw'), join(target, 'omega.vmdk')), /identical/);
    await assert.rejects(engine.restores.resume(resumed.id, 'test'), { code: 'conflict' });
  } finally {
    await engine.close();
  }
});

test('an interrupted restore that is discarded leaves nothing in its target', async () => {
  const { home, target } = await killedMidRestore();
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    await engine.janitor;
    const [interrupted] = engine.catalog.listJobs().filter((job) => job.kind === 'restore-entire-vm');
    assert.ok(interrupted);
    await engine.restores.discard(interrupted.id, 'test');
    await assert.rejects(readdir(target), { code: 'ENOENT' }, 'the target folder the restore made is gone');
    assert.deepEqual(engine.catalog.openResources(interrupted.id), []);
    assert.equal(engine.catalog.getJob(interrupted.id)?.state, 'cancelled');
    await assert.rejects(engine.restores.resume(interrupted.id, 'test'), { code: 'conflict' }, 'nothing left to resume from');
  } finally {
    await engine.close();
  }
});
