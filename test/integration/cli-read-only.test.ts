// Listings with no engine serving the home (cli/read-only-commands.ts, engine/read-only-home.ts):
// they open the catalog read-only (and the repository, for points) and load no engine and no block
// worker, write nothing, and say what the engine would say. Where the engine must act first
// (recovery of a dead engine's jobs, points to reconcile, a catalog to migrate, a new home) the
// command opens it as before. Checked by behaviour and by the
// modules each command loads, from the bundle and from the source; never by time.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { Job } from '../../shared/domain.ts';
import { migrateTo, schemaVersion } from '../../electron/catalog/database.ts';
import { newestVersion } from '../../electron/catalog/migrations/index.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { buildCli } from '../../scripts/build.ts';
import { buildGuestDisk } from '../../electron/lab/guest-disk.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { runRecordingModules as run } from '../helpers/loaded-modules.ts';

const root = join(import.meta.dirname, '..', '..');
const bundle = join(root, 'dist', 'cli', 'main.mjs');
const source = join(root, 'electron', 'cli', 'main.ts');
const { freshBundle } = createRequire(import.meta.url)('../../bin/fresh-bundle.js') as { freshBundle(root: string): string | null };
if (freshBundle(root) === null) await buildCli();

/** The engine, its block workers and what only it opens, in the bundle and in the source. */
const engineFiles = (loaded: string[]): string[] =>
  loaded.filter(
    (file) =>
      /^dist\/cli\/(open-served-engine-.*|block-worker)\.mjs$/.test(file) ||
      /^electron\/(engine\/engine|rpc\/open-served-engine|jobs\/job-queue|workers\/.*)\.ts$/.test(file),
  );

const dir = await tempDir();
const vmFolder = join(dir, 'vm');
await mkdir(vmFolder);
await writeMixedRaw(join(dir, 'disk.raw'), 4);
await makeVmFolder(vmFolder, 'ledger', join(dir, 'disk.raw'), 'monolithicFlat');

/** A home with one backed-up VM (a backup job and its index job), its engine closed. */
async function backedUpHome(name: string): Promise<string> {
  const home = join(dir, name);
  const engine = await openServedEngine({ home, workerThreads: 1 });
  try {
    assert.equal((await runJob(engine, await engine.backups.start(vmFolder, 'test'))).state, 'succeeded');
    await engine.jobs.idle();
  } finally {
    await engine.close();
  }
  return home;
}

/** What a read-only open must leave as it was: every file of the home, but SQLite's shared-memory
 * index (-shm), which a reader updates by design, and an empty write-ahead log (-wal), which a
 * reader makes where none was (it holds no write). */
async function homeState(home: string): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for (const entry of await readdir(home, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith('-shm')) continue;
    const path = join(entry.parentPath, entry.name);
    const content = await readFile(path);
    if (entry.name.endsWith('-wal') && content.length === 0) continue;
    state.set(path, createHash('sha256').update(content).digest('hex'));
  }
  return state;
}

const jobsOf = (stdout: string): Job[] => JSON.parse(stdout) as Job[];

test('listings open the home read-only: the engine answers alike, nothing is loaded beyond the catalog, nothing written', async () => {
  const home = await backedUpHome('listed');
  const engine = await openServedEngine({ home, workerThreads: 1 });
  let served: { jobs: Job[]; settings: unknown; audit: unknown; points: unknown };
  try {
    const jobs = jobsOf((await run(bundle, ['--home', home, '--json', 'jobs'])).stdout);
    const settings = JSON.parse((await run(bundle, ['--home', home, '--json', 'settings'])).stdout) as unknown;
    const audit = JSON.parse((await run(bundle, ['--home', home, '--json', 'audit'])).stdout) as unknown;
    const points = JSON.parse((await run(bundle, ['--home', home, '--json', 'points', 'ledger'])).stdout) as unknown;
    served = { jobs, settings, audit, points };
  } finally {
    await engine.close();
  }
  assert.deepEqual(
    served.jobs.map((job) => [job.kind, job.state]),
    [
      ['index', 'succeeded'],
      ['backup', 'succeeded'],
    ],
  );
  const before = await homeState(home);
  const [first] = served.jobs;
  assert.ok(first);
  for (const entry of [bundle, source]) {
    const listings: [string[], (answer: unknown) => void][] = [
      [['jobs'], (answer) => assert.deepEqual(answer, served.jobs)],
      [['jobs', 'show', first.id.slice(0, 8)], (answer) => assert.equal((answer as { job: Job }).job.id, first.id)],
      [['settings'], (answer) => assert.deepEqual(answer, served.settings)],
      [['audit'], (answer) => assert.deepEqual(answer, served.audit)],
      [['whoami'], (answer) => assert.equal((answer as { via: string }).via, 'os')],
      [['points', 'ledger'], (answer) => assert.deepEqual(answer, served.points)],
    ];
    for (const [args, check] of listings) {
      const listed = await run(entry, ['--home', home, '--json', ...args]);
      check(JSON.parse(listed.stdout) as unknown);
      assert.deepEqual(engineFiles(listed.loaded), [], `${entry} ${args.join(' ')} loaded the engine`);
    }
  }
  assert.deepEqual(await homeState(home), before, 'the listings wrote nothing in the home');
});

test('files ls --from-index opens the home read-only and answers as the engine does, its refusals too', async () => {
  const work = join(dir, 'guest');
  await mkdir(work);
  const layout = await buildGuestDisk(work, 'indexed-guest', 32);
  const guestFolder = join(dir, 'guest-vm');
  await mkdir(guestFolder);
  await makeVmFolder(guestFolder, 'indexed-guest', layout.rawPath, 'monolithicFlat');
  const home = join(dir, 'from-index');
  const asks = [
    ['/disk0/part1/etc'],
    ['/disk0/part1/home/operator/'],
    ['/disk0'],
    ['/disk0/part1/etc/motd'],
    ['/disk0/part1/no-such-folder'],
  ].map(([path]) => ['files', 'ls', 'indexed-guest', '--point', 'latest', path as string, '--from-index']);
  const engine = await openServedEngine({ home, workerThreads: 1 });
  const served: { stdout: string; stderr: string; status: number }[] = [];
  try {
    assert.equal((await runJob(engine, await engine.backups.start(guestFolder, 'test'))).state, 'succeeded');
    await engine.jobs.idle(); // the point's index job
    for (const args of asks) served.push(await run(bundle, ['--home', home, '--json', ...args], { anyExit: true }));
  } finally {
    await engine.close();
  }
  const etc = JSON.parse(served[0]?.stdout ?? '') as { entries: { name: string; type: string }[]; gaps: unknown[] };
  assert.deepEqual(
    etc.entries.map((entry) => `${entry.name} ${entry.type}`),
    ['hostname file', 'motd file'],
  );
  assert.deepEqual(etc.gaps, []);
  assert.deepEqual(
    served.map((answer) => answer.status),
    [0, 0, 2, 2, 2],
  );
  // --json: a refusal is printed as {"error": …}.
  assert.match(served[2]?.stdout ?? '', /"bad-request","message":"\/disk0: the file index holds what is inside volumes/);
  assert.match(served[3]?.stdout ?? '', /"bad-request","message":"\/disk0\/part1\/etc\/motd is a file, not a folder"/);
  assert.match(
    served[4]?.stdout ?? '',
    /"not-found","message":"\/disk0\/part1\/no-such-folder: the index of this point holds nothing there/,
  );
  const before = await homeState(home);
  for (const [i, args] of asks.entries()) {
    const listed = await run(bundle, ['--home', home, '--json', ...args], { anyExit: true });
    assert.equal(listed.stdout, served[i]?.stdout, `${args.join(' ')}: what it says`);
    assert.equal(listed.stderr, served[i]?.stderr, `${args.join(' ')}: how it refuses`);
    assert.equal(listed.status, served[i]?.status, `${args.join(' ')}: its exit status`);
    assert.deepEqual(engineFiles(listed.loaded), [], `${args.join(' ')} loaded the engine`);
  }
  assert.deepEqual(await homeState(home), before, 'the listings wrote nothing in the home');
});

test("a dead engine's running job is listed as its recovery leaves it (interrupted), by the engine that recovers it", async () => {
  const home = await backedUpHome('dead');
  // The engine of this backup dies (SIGKILL) as its job starts running: the catalog still says running.
  const died = await promisify(execFile)(process.execPath, [source, '--home', home, 'backup', `local:${vmFolder}`], {
    env: { ...process.env, LIFEBOAT_KILL_AT: 'job-running' },
  }).then(
    () => null,
    (error: { signal?: string }) => error.signal,
  );
  assert.equal(died, 'SIGKILL');
  const listed = await run(bundle, ['--home', home, '--json', 'jobs']);
  const [dead] = jobsOf(listed.stdout);
  assert.equal(dead?.kind, 'backup');
  assert.equal(dead?.state, 'interrupted', 'not running: its engine is gone');
  assert.ok(engineFiles(listed.loaded).length > 0, 'the engine opened to recover the job');
  // Recovery is written down: the next listing is read-only and says the same.
  const again = await run(bundle, ['--home', home, '--json', 'jobs']);
  assert.deepEqual(jobsOf(again.stdout), jobsOf(listed.stdout));
  assert.deepEqual(engineFiles(again.loaded), []);
});

test('points are listed read-only only when the catalog has indexed what the repository holds', async () => {
  const home = await backedUpHome('behind');
  // As a catalog from before manifest hashes were recorded: the engine's start-up reconcile records it.
  const catalog = new Database(join(home, 'catalog.sqlite'));
  catalog.prepare('UPDATE restore_points SET manifest_sha256 = NULL').run();
  catalog.close();
  const listed = await run(bundle, ['--home', home, '--json', 'points', 'ledger']);
  assert.ok(engineFiles(listed.loaded).length > 0, 'the engine opened to reconcile the catalog');
  const recorded = new Database(join(home, 'catalog.sqlite'), { readonly: true });
  assert.deepEqual(recorded.prepare('SELECT count(*) AS unrecorded FROM restore_points WHERE manifest_sha256 IS NULL').get(), {
    unrecorded: 0,
  });
  recorded.close();
  const again = await run(bundle, ['--home', home, '--json', 'points', 'ledger']);
  assert.deepEqual(engineFiles(again.loaded), []);
  assert.deepEqual(JSON.parse(again.stdout), JSON.parse(listed.stdout));
});

test('a catalog that needs migrating is migrated by the engine before it is listed; a newer one is refused', async () => {
  const home = join(dir, 'older');
  await mkdir(home, { mode: 0o700 });
  const older = new Database(join(home, 'catalog.sqlite'));
  migrateTo(older, newestVersion - 1);
  older.close();
  const listed = await run(bundle, ['--home', home, '--json', 'jobs']);
  assert.deepEqual(jobsOf(listed.stdout), []);
  assert.ok(engineFiles(listed.loaded).length > 0, 'the engine opened to migrate the catalog');
  const migrated = new Database(join(home, 'catalog.sqlite'), { readonly: true });
  assert.equal(schemaVersion(migrated), newestVersion);
  migrated.close();

  const newer = join(dir, 'newer');
  await mkdir(newer, { mode: 0o700 });
  const ahead = new Database(join(newer, 'catalog.sqlite'));
  migrateTo(ahead, newestVersion);
  ahead.pragma(`user_version = ${newestVersion + 1}`);
  ahead.close();
  await assert.rejects(
    promisify(execFile)(process.execPath, [bundle, '--home', newer, 'jobs']),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /was written by a newer Lifeboat/);
      return true;
    },
  );
});

test('a listing of a new home makes it, as before', async () => {
  const home = join(dir, 'new');
  const listed = await run(bundle, ['--home', home, '--json', 'jobs']);
  assert.deepEqual(jobsOf(listed.stdout), []);
  assert.ok((await readdir(home)).includes('catalog.sqlite'));
});

test('a listing resumes the saved sign-in read-only: who it names, and a sign-in that has ended is refused as the engine refuses it', async () => {
  const home = await backedUpHome('signed-in');
  const env = { ...process.env, PW_ALICE: 'alice-read-only-password' };
  const lifeboat = (args: string[]) => promisify(execFile)(process.execPath, [bundle, '--home', home, ...args], { env });
  await lifeboat(['accounts', 'add', 'alice', '--role', 'viewer', '--password-env', 'PW_ALICE']);
  await lifeboat(['login', '--user', 'alice', '--password-env', 'PW_ALICE']);
  const whoami = await run(bundle, ['--home', home, '--json', 'whoami']);
  assert.deepEqual(
    (({ account, role, via }) => ({ account, role, via }))(JSON.parse(whoami.stdout) as { account: string; role: string; via: string }),
    { account: 'alice', role: 'viewer', via: 'local' },
  );
  assert.deepEqual(engineFiles(whoami.loaded), []);
  assert.equal(jobsOf((await run(bundle, ['--home', home, '--json', 'jobs'])).stdout).length, 2, 'a viewer lists jobs');
  // Removing the account ends its sessions (the engine opens for that); the saved one no longer signs in.
  const engine = await openServedEngine({ home, workerThreads: 1 });
  try {
    engine.catalog.accounts.remove('alice');
  } finally {
    await engine.close();
  }
  await assert.rejects(lifeboat(['jobs']), (error: { code: number; stderr: string }) => {
    assert.equal(error.code, 2);
    assert.match(error.stderr, /your sign-in has ended/);
    return true;
  });
});
