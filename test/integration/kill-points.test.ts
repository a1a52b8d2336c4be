// A restore killed with SIGKILL at every point of its life (a real CLI process; the kill comes
// from a LIFEBOAT_KILL_AT hook at an exact place, not from a timer): the next engine start keeps
// what the resume needs, `jobs resume` finishes it, and both disks compare identical to the
// source. A kill during a resume, during a discard and during the start-up janitor as well.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { Engine } from '../../electron/engine/engine.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { vmxText } from '../../electron/lab/create-lab.ts';
import type { Job } from '../../shared/domain.ts';
import { qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const VM = 'kp';
const published = [`${VM}-flat.vmdk`, `${VM}.vmdk`, `${VM}.vmx`, `${VM}_1-flat.vmdk`, `${VM}_1.vmdk`].sort();
// Made here, not in before(): a temporary folder made in a hook is removed when the hook ends.
const dir = await tempDir();
const home = join(dir, 'home');
const raws: string[] = [];

/** Runs the CLI with a kill point; resolves with the signal that ended it (null: it exited). */
function lifeboat(args: string[], killAt: string): Promise<{ signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, '--home', home, ...args], {
    env: { ...process.env, LIFEBOAT_KILL_AT: killAt, LIFEBOAT_CHECKPOINT_MS: '5' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stderr })));
}

async function killedRestore(target: string, killAt: string): Promise<void> {
  const ended = await lifeboat(['restore', 'vm', VM, '--point', 'latest', '--target', `local:${target}`], killAt);
  assert.equal(ended.signal, 'SIGKILL', `the restore was killed at ${killAt} (it exited ${ended.code}: ${ended.stderr})`);
}

async function withEngine<T>(use: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    return await use(engine);
  } finally {
    await engine.close();
  }
}

function restoreInto(engine: Engine, target: string): Job {
  const job = engine.catalog
    .listJobs()
    .find(
      (candidate) =>
        candidate.kind === 'restore-entire-vm' &&
        (engine.catalog.jobParams(candidate.id) as { target: { path: string } }).target.path === target,
    );
  assert.ok(job, `a restore job into ${target}`);
  return job;
}

async function assertRestored(engine: Engine, job: Job, target: string): Promise<void> {
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual((await readdir(target)).sort(), published, 'the VM files and nothing else');
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raws[0] as string, join(target, `${VM}.vmdk`)), /identical/);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raws[1] as string, join(target, `${VM}_1.vmdk`)), /identical/);
  assert.deepEqual(engine.catalog.openResources(job.id), [], 'nothing left recorded');
}

before(async () => {
  const source = join(dir, 'source');
  await mkdir(source);
  for (const [index, mib] of [48, 24].entries()) {
    const raw = join(dir, `disk${index}.raw`);
    await writeMixedRaw(raw, mib, index + 5);
    qemuImg(
      'convert',
      '-f',
      'raw',
      '-O',
      'vmdk',
      '-o',
      'subformat=monolithicFlat',
      raw,
      join(source, `${VM}${index === 0 ? '' : `_${index}`}.vmdk`),
    );
    raws.push(raw);
  }
  await writeFile(
    join(source, `${VM}.vmx`),
    vmxText(VM, [`${VM}.vmdk`, `${VM}_1.vmdk`], '56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc ee'),
  );
  await withEngine(async (engine) => {
    const backup = await runJob(engine, await engine.backups.start(source, 'test'));
    assert.equal(backup.state, 'succeeded', backup.error ?? '');
  });
});

// Every place a restore can die: before it runs, once its folders are recorded, made, with an
// empty disk, after the first disk's first checkpoint and the second disk's first (how many
// checkpoints a disk gets depends on the machine), with every block written, half published,
// published, and published but not yet marked succeeded.
const killPoints = [
  'job-queued',
  'job-running',
  'restore-recorded',
  'restore-claimed',
  'disk-created',
  'checkpoint:1',
  'disk-created:2',
  'first-checkpoint:2',
  'before-publish',
  'publish-rename:1',
  'publish-rename:3',
  'published',
  'job-succeeding',
];

for (const killAt of killPoints) {
  test(`killed at ${killAt}: the start keeps what resume needs, resume ends identical`, async () => {
    const target = join(dir, `out-${killAt.replace(':', '-')}`);
    await killedRestore(target, killAt);
    await withEngine(async (engine) => {
      assert.equal(await engine.janitor, 0, 'the janitor removed nothing a resume needs');
      const interrupted = restoreInto(engine, target);
      assert.equal(interrupted.state, 'interrupted');
      const left = await readdir(target).catch(() => []);
      assert.ok(
        left.every((entry) => entry === `.lifeboat-restore-${interrupted.id}` || published.includes(entry)),
        `only the restore's own files: ${left.join(', ')}`,
      );
      const resumed = await runJob(engine, await engine.restores.resume(interrupted.id, 'test'));
      assert.equal(resumed.id, interrupted.id);
      if (killAt.includes('checkpoint')) {
        assert.ok(
          engine.catalog.jobEvents(resumed.id).some((event) => /resuming from its checkpoint/.test(event.message)),
          'the resume went on from the checkpoint',
        );
      }
      await assertRestored(engine, resumed, target);
    });
  });
}

test('killed again while resuming: the second resume still ends identical', async () => {
  const target = join(dir, 'out-twice');
  await killedRestore(target, 'first-checkpoint:1');
  const jobId = await withEngine(async (engine) => restoreInto(engine, target).id);
  const resumeKilled = await lifeboat(['jobs', 'resume', jobId], 'first-checkpoint');
  assert.equal(resumeKilled.signal, 'SIGKILL');
  await withEngine(async (engine) => {
    assert.equal(await engine.janitor, 0);
    const resumed = await runJob(engine, await engine.restores.resume(jobId, 'test'));
    await assertRestored(engine, resumed, target);
  });
});

test('half published, then discarded: nothing of it is left, not even the published files', async () => {
  const target = join(dir, 'out-discard');
  await killedRestore(target, 'publish-rename:2');
  await withEngine(async (engine) => {
    await engine.janitor;
    const interrupted = restoreInto(engine, target);
    await engine.restores.discard(interrupted.id, 'test');
    await assert.rejects(readdir(target), { code: 'ENOENT' });
    assert.deepEqual(engine.catalog.openResources(interrupted.id), []);
  });
});

test('killed during a discard: the next start finishes removing it, and it cannot be resumed', async () => {
  const target = join(dir, 'out-discard-killed');
  await killedRestore(target, 'publish-rename:2');
  const jobId = await withEngine(async (engine) => restoreInto(engine, target).id);
  const discardKilled = await lifeboat(['jobs', 'discard', jobId], 'janitor-removed');
  assert.equal(discardKilled.signal, 'SIGKILL');
  await withEngine(async (engine) => {
    assert.ok((await engine.janitor) > 0, 'the start-up janitor removed the rest');
    assert.equal(engine.catalog.getJob(jobId)?.state, 'cancelled');
    await assert.rejects(readdir(target), { code: 'ENOENT' });
    await assert.rejects(engine.restores.resume(jobId, 'test'), { code: 'conflict' });
  });
});

test('killed while the start-up janitor removes what another job left: the resumable restore survives', async () => {
  const resumable = join(dir, 'out-kept');
  const other = join(dir, 'out-disks');
  await killedRestore(resumable, 'first-checkpoint:2');
  const disks = await lifeboat(['restore', 'disks', VM, '--point', 'latest', '--out', other, '--template', 'ovf'], 'disk-created');
  assert.equal(disks.signal, 'SIGKILL');
  const janitorKilled = await lifeboat(['jobs'], 'janitor-removed');
  assert.equal(janitorKilled.signal, 'SIGKILL');
  await withEngine(async (engine) => {
    assert.ok((await engine.janitor) > 0, 'the janitor finished removing the disks restore');
    await assert.rejects(readdir(other), { code: 'ENOENT' });
    const interrupted = restoreInto(engine, resumable);
    const resumed = await runJob(engine, await engine.restores.resume(interrupted.id, 'test'));
    await assertRestored(engine, resumed, resumable);
  });
});

test('a resume that cannot go on (a stranger file in the target) keeps everything and stays interrupted', async () => {
  const target = join(dir, 'out-blocked');
  await killedRestore(target, 'first-checkpoint:2');
  await withEngine(async (engine) => {
    await engine.janitor;
    const interrupted = restoreInto(engine, target);
    const before = (await readdir(join(target, `.lifeboat-restore-${interrupted.id}`))).sort();
    await writeFile(join(target, 'stranger.txt'), "not the restore's");
    const blocked = await runJob(engine, await engine.restores.resume(interrupted.id, 'test'));
    assert.equal(blocked.state, 'interrupted');
    assert.match(blocked.error ?? '', /^cannot resume yet: target folder .* is not empty/);
    assert.deepEqual(
      (await readdir(join(target, `.lifeboat-restore-${interrupted.id}`))).sort(),
      before,
      'the staged files are all still there',
    );
    await rm(join(target, 'stranger.txt'));
    const resumed = await runJob(engine, await engine.restores.resume(interrupted.id, 'test'));
    assert.ok(engine.catalog.jobEvents(resumed.id).some((event) => /resuming from its checkpoint/.test(event.message)));
    await assertRestored(engine, resumed, target);
  });
});
