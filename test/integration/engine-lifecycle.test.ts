// How engines end, with real processes through bin/lifeboat.js: a CLI command's own engine
// finishes the jobs the command queued (a backup's index job, --detach too); a stop signal to
// `serve` or to a command's engine interrupts running jobs (resumable, "the engine stopped",
// never "by the operator") and leaves no process behind; a follower whose engine is killed
// fails with one line; the wrapper passes signals on and exits with its child's status.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import type { Job } from '../../shared/domain.ts';
import { makeVmFolder, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'lifeboat.js');
const consoleBuilt = await access(join(root, 'dist', 'renderer', 'index.html')).then(
  () => false,
  () => 'the console is not built (node scripts/build.ts)',
);

type Ended = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

function start(home: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; ended: Promise<Ended> } {
  const child = spawn(process.execPath, [bin, '--home', home, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ended = new Promise<Ended>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, ended };
}

function lifeboat(home: string, args: string[], env: Record<string, string> = {}): Promise<Ended> {
  return start(home, args, env).ended;
}

/** `serve` through the wrapper; resolves once it listens, with the pid of the engine process. */
async function serve(
  home: string,
  env: Record<string, string> = {},
): Promise<{ wrapper: ChildProcess; engine: number; ended: Promise<Ended> }> {
  const { child, ended } = start(home, ['serve', '--port', '0', '--json'], env);
  const listening = new Promise<void>((resolve) =>
    child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('"url"') && resolve()),
  );
  const result = await Promise.race([listening.then(() => null), ended]);
  assert.equal(result, null, `serve ended before it listened: ${JSON.stringify(result)}`);
  const children = (await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')).trim().split(/\s+/).map(Number);
  assert.equal(children.length, 1, 'the wrapper runs one engine process');
  return { wrapper: child, engine: children[0] as number, ended };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function jobsOf(home: string): (Job & { events: string[] })[] {
  const catalog = new Database(join(home, 'catalog.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = catalog.prepare('SELECT id, kind, state, error FROM jobs ORDER BY created_at').all() as Job[];
    return rows.map((job) => ({
      ...job,
      events: (catalog.prepare('SELECT message FROM job_events WHERE job_id = ?').all(job.id) as { message: string }[]).map(
        (event) => event.message,
      ),
    }));
  } finally {
    catalog.close();
  }
}

/** A home with one VM (a 96 MiB disk, long enough to be caught mid-transfer) backed up. */
async function homeWithVm(name: string): Promise<{ dir: string; home: string; raw: string }> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const source = join(dir, 'source');
  await mkdir(source);
  const raw = join(dir, 'disk.raw');
  await writeMixedRaw(raw, 96, 4);
  await makeVmFolder(source, name, raw, 'monolithicFlat');
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
    await engine.jobs.idle();
  } finally {
    await engine.close();
  }
  return { dir, home, raw };
}

/** The interrupted restore resumes in a fresh engine and ends identical to the source disk. */
async function resumesIdentical(home: string, jobId: string, raw: string, target: string, vm: string): Promise<void> {
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    assert.equal(await engine.janitor, 0, 'the janitor kept what the resume needs');
    const resumed = await runJob(engine, await engine.restores.resume(jobId, 'test'));
    assert.equal(resumed.state, 'succeeded', resumed.error ?? '');
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, join(target, `${vm}.vmdk`)), /identical/);
  } finally {
    await engine.close();
  }
}

test('with no engine serving, a command finishes the jobs it queued: a backup is indexed and searchable, --detach too', async () => {
  const home = join(await tempDir(), 'home');
  const lab = await lifeboat(home, ['--json', 'lab', 'create', '--vms', '1', '--points', '1', '--disk-mib', '16']);
  assert.equal(lab.code, 0, lab.stderr);
  const [vm] = JSON.parse(lab.stdout) as { name: string; folder: string }[];
  assert.ok(vm);
  const backup = await lifeboat(home, ['backup', `local:${vm.folder}`]);
  assert.equal(backup.code, 0, backup.stderr);
  const detached = await lifeboat(home, ['backup', `local:${vm.folder}`, '--detach']);
  assert.equal(detached.code, 0, detached.stderr);
  assert.match(detached.stdout, /queued job /);
  const jobs = jobsOf(home);
  assert.deepEqual(
    jobs.map((job) => job.kind),
    ['backup', 'index', 'backup', 'index', 'backup', 'index'],
  );
  assert.deepEqual(
    jobs.filter((job) => job.state !== 'succeeded'),
    [],
    'every job, index jobs included, ran to its end',
  );
  const search = await lifeboat(home, ['--json', 'files', 'search', 'notes.txt']);
  assert.equal(search.code, 0, search.stderr);
  const [hit] = (JSON.parse(search.stdout) as { hits: { versions: { sequence: number }[] }[] }).hits;
  assert.deepEqual(hit?.versions.map((version) => version.sequence).sort(), [1, 2, 3], 'every point is searchable');
});

test(
  'SIGTERM to serve mid-restore: the job is interrupted (engine stopped), its follower hears so, no process is left, resume ends identical',
  { skip: consoleBuilt },
  async () => {
    const { dir, home, raw } = await homeWithVm('sig');
    const target = join(dir, 'restored');
    // The engine sends the SIGTERM to its parent, the wrapper, at its first checkpoint: the
    // wrapper has to pass it on for the engine to stop.
    const server = await serve(home, {
      LIFEBOAT_KILL_AT: 'checkpoint:1',
      LIFEBOAT_KILL_WITH: 'SIGTERM@parent',
      LIFEBOAT_CHECKPOINT_MS: '20',
    });
    try {
      const follower = await lifeboat(home, ['restore', 'vm', 'sig', '--point', 'latest', '--target', `local:${target}`]);
      assert.equal(follower.code, 1, follower.stderr);
      assert.match(follower.stdout, /state: interrupted \(the engine stopped while this job ran\)/);
      const served = await server.ended;
      assert.equal(served.code, 0, `serve ends cleanly on SIGTERM: ${served.stderr}`);
      assert.match(served.stderr, /SIGTERM: stopping the engine/);
    } finally {
      server.wrapper.kill('SIGKILL');
    }
    assert.equal(alive(server.engine), false, 'the engine process is gone');
    await assert.rejects(access(join(home, 'engine.sock')), { code: 'ENOENT' }, 'the socket is closed');
    const [restore] = jobsOf(home).filter((job) => job.kind === 'restore-entire-vm');
    assert.ok(restore);
    assert.equal(restore.state, 'interrupted');
    assert.equal(restore.error, 'the engine stopped while this job ran');
    assert.ok(!restore.events.some((message) => /by the operator/.test(message)), restore.events.join('\n'));
    await resumesIdentical(home, restore.id, raw, target, 'sig');
  },
);

test(
  'the engine killed under a following CLI: the CLI fails with one line; the wrapper reports the signal',
  { skip: consoleBuilt },
  async () => {
    const { dir, home } = await homeWithVm('lost');
    const server = await serve(home, { LIFEBOAT_KILL_AT: 'checkpoint:1', LIFEBOAT_CHECKPOINT_MS: '20' });
    try {
      const follower = await lifeboat(home, ['restore', 'vm', 'lost', '--point', 'latest', '--target', `local:${join(dir, 'restored')}`]);
      assert.equal(follower.code, 2);
      const lines = follower.stderr.trim().split('\n');
      assert.match(
        lines.at(-1) ?? '',
        /^lifeboat: lost the engine while following job [0-9a-f-]+ \(the engine closed the connection\); `lifeboat jobs show/,
      );
      const served = await server.ended;
      assert.equal(served.code, 128 + 9, 'the wrapper exits 128 + SIGKILL');
    } finally {
      server.wrapper.kill('SIGKILL');
    }
    assert.equal(alive(server.engine), false);
  },
);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`${signal} to the wrapper of an idle serve: passed on, the engine stops, nothing is left`, { skip: consoleBuilt }, async () => {
    const home = join(await tempDir(), 'home');
    const server = await serve(home);
    try {
      server.wrapper.kill(signal);
      const served = await server.ended;
      assert.equal(served.code, 0, served.stderr);
      assert.match(served.stderr, new RegExp(`${signal}: stopping the engine`));
    } finally {
      server.wrapper.kill('SIGKILL');
    }
    assert.equal(alive(server.engine), false, 'no orphaned engine');
    await assert.rejects(access(join(home, 'engine.sock')), { code: 'ENOENT' });
  });
}

test('SIGTERM to a command running its own engine mid-restore: interrupted, exit 143, resume ends identical', async () => {
  const { dir, home, raw } = await homeWithVm('own');
  const target = join(dir, 'restored');
  const restore = await lifeboat(home, ['restore', 'vm', 'own', '--point', 'latest', '--target', `local:${target}`], {
    LIFEBOAT_KILL_AT: 'checkpoint:1',
    LIFEBOAT_KILL_WITH: 'SIGTERM@parent',
    LIFEBOAT_CHECKPOINT_MS: '20',
  });
  assert.equal(restore.code, 128 + 15, restore.stderr);
  assert.match(restore.stdout, /state: interrupted \(the engine stopped while this job ran\)/);
  const [job] = jobsOf(home).filter((candidate) => candidate.kind === 'restore-entire-vm');
  assert.ok(job);
  assert.equal(job.state, 'interrupted');
  await resumesIdentical(home, job.id, raw, target, 'own');
});

test('an index job the engine stopped (SIGTERM) or died under (SIGKILL) stays queued and runs at the next start', async () => {
  const home = join(await tempDir(), 'home');
  const lab = await lifeboat(home, ['--json', 'lab', 'create', '--vms', '1', '--points', '1', '--disk-mib', '16']);
  assert.equal(lab.code, 0, lab.stderr);
  const [vm] = JSON.parse(lab.stdout) as { name: string; folder: string }[];
  assert.ok(vm);
  // The second job to run is the new point's index job: the signal comes as it starts.
  for (const [killWith, exitCode] of [
    ['SIGTERM@parent', 128 + 15],
    ['SIGKILL', 128 + 9],
  ] as const) {
    const backup = await lifeboat(home, ['backup', `local:${vm.folder}`], {
      LIFEBOAT_KILL_AT: 'job-running:2',
      LIFEBOAT_KILL_WITH: killWith,
    });
    assert.equal(backup.code, exitCode, backup.stderr);
    const index = jobsOf(home)
      .filter((job) => job.kind === 'index')
      .at(-1);
    assert.ok(index);
    assert.equal(index.state, killWith.startsWith('SIGTERM') ? 'queued' : 'running', 'left queued by a stop, running by a death');
    const next = await lifeboat(home, ['jobs']);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /finishing index job/);
    const rerun = jobsOf(home).find((job) => job.id === index.id);
    assert.equal(rerun?.state, 'succeeded', rerun?.error ?? '');
    assert.ok(rerun?.events.includes('queued again after the engine restarted') ?? false);
  }
  const search = await lifeboat(home, ['--json', 'files', 'search', 'notes.txt']);
  const [hit] = (JSON.parse(search.stdout) as { hits: { versions: { sequence: number }[] }[] }).hits;
  assert.deepEqual(hit?.versions.map((version) => version.sequence).sort(), [1, 2, 3]);
});
