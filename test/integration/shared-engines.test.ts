// Engines that share one PostgreSQL catalog and its job queue (serve --shared; a real server
// started here): restores queued on one engine run on both, each exactly once, one per VM at a
// time, disks judged by qemu-img; a lone engine and shared ones refuse each other; a job queued
// with its catalog rows is in the queue or nowhere.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Job } from '../../shared/domain.ts';
import { inProcessApi } from '../../electron/cli/connect.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';
import { backupGenerations, makeVmFolder, qemuImg, tempDir, until, writeMixedRaw } from '../helpers/env.ts';
import { cli, startServeWithEnv } from '../helpers/serve-process.ts';
import { sharedHome } from '../helpers/shared-homes.ts';

const { skip } = postgresForThisFile();

/** Two engines sharing a fresh catalog and A's repository, after A backed up each VM (a disk of
 * `mib` MiB); closed after the test. */
async function twoSharedEngines(vms: string[], mib: number): Promise<{ dir: string; a: Engine; b: Engine; disks: Map<string, string> }> {
  const dir = await tempDir();
  const url = await freshPostgresDatabase();
  const homeA = await sharedHome(dir, 'home-a', url, null);
  const a = await openServedEngine({ home: homeA, workerThreads: 2, shared: true });
  after(() => a.close());
  const disks = new Map<string, string>();
  for (const name of vms) {
    const [disk] = await backupGenerations(a, join(dir, name), { name, generations: 1, mib, subformat: 'monolithicSparse' });
    disks.set(name, disk as string);
  }
  const homeB = await sharedHome(dir, 'home-b', url, join(homeA, 'repositories', 'default'));
  const b = await openServedEngine({ home: homeB, workerThreads: 2, shared: true });
  after(() => b.close());
  return { dir, a, b, disks };
}

/** Queues `count` restores on `engine`, VM after VM, the n-th to out/<n>. */
async function queueRestores(engine: Engine, dir: string, vms: string[], count: number): Promise<Job[]> {
  const queued: Job[] = [];
  for (let index = 0; index < count; index++) {
    const vm = vms[index % vms.length] as string;
    queued.push(
      await engine.restores.start({ vm, point: 'latest', target: { kind: 'local', path: join(dir, 'out', String(index)) } }, 'test'),
    );
  }
  return queued;
}

/** Waits for the restores queueRestores made (another engine may run them), checks that each
 * succeeded once with a disk identical to its VM's, and counts the jobs each engine ran. */
async function checkRestores(
  engine: Engine,
  dir: string,
  vms: string[],
  disks: Map<string, string>,
  queued: Job[],
): Promise<Map<string, number>> {
  const done = await Promise.all(queued.map((job) => engine.jobs.whenEnded(job.id)));
  const byEngine = new Map<string, number>();
  for (const [index, job] of done.entries()) {
    assert.equal(job.state, 'succeeded', `${job.summary}: ${job.error ?? ''}`);
    const events = engine.catalog.jobEvents(job.id).map((event) => event.message);
    assert.equal(events.filter((message) => message === 'job succeeded').length, 1, `job ${job.id} ended once`);
    const vm = vms[index % vms.length] as string;
    const restored = join(dir, 'out', String(index), `${vm}.vmdk`);
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', disks.get(vm) as string, restored), /identical/);
    const placement = engine.catalog.engines.placement(job.id);
    assert.equal(placement?.shared, true);
    byEngine.set(placement?.engineId ?? 'none', (byEngine.get(placement?.engineId ?? 'none') ?? 0) + 1);
  }
  // One job per VM at a time across the engines: no two runs of a VM overlap.
  for (const vm of vms) {
    const runs = done
      .filter((job) => job.vmName === vm)
      .map((job) => ({ from: Date.parse(job.startedAt as string), to: Date.parse(job.endedAt as string) }))
      .sort((x, y) => x.from - y.from);
    for (const [index, run] of runs.entries()) if (index > 0) assert.ok(run.from >= (runs[index - 1]?.to ?? 0), `${vm}'s restores overlap`);
  }
  return byEngine;
}

test(
  'restores queued on one engine run on both, each once, one per VM at a time; disks identical; each engine hears the other’s job events',
  { skip },
  async () => {
    const vms = ['alpha', 'beta', 'gamma'];
    const { dir, a, b, disks } = await twoSharedEngines(vms, 8);
    // What a console of A sees: job states and progress, whichever engine runs the job.
    const states = new Map<string, Set<string>>();
    const progressed = new Set<string>();
    a.events.on('job.updated', (job) => void states.set(job.id, (states.get(job.id) ?? new Set()).add(job.state)));
    a.events.on('job.progress', (progress) => void progressed.add(progress.jobId));
    const queued = await queueRestores(a, dir, vms, 12);
    // A console on either engine gives each shared job still queued its place, numbered from 1 in
    // the order the queue hands them out, and what holds it.
    for (const engine of [a, b]) {
      // jobs.list gives the newest first.
      const waiting = (await inProcessApi(engine).invoke('jobs.list', {})).filter((job) => job.state === 'queued').reverse();
      assert.deepEqual(
        waiting.map((job) => job.queue?.position),
        waiting.map((_job, index) => index + 1),
      );
      for (const job of waiting) assert.match(job.queue?.reason ?? '', /^(waiting for an engine|waiting for VM \w+'s other job)$/);
      for (const [index, job] of waiting.entries())
        if (waiting.slice(0, index).some((ahead) => ahead.vmId === job.vmId))
          assert.equal(job.queue?.reason, `waiting for VM ${job.vmName}'s other job`, 'a VM queued again waits for its earlier job');
    }
    const byEngine = await checkRestores(a, dir, vms, disks, queued);
    assert.deepEqual([...byEngine.keys()].sort(), [a.catalog.engines.self, b.catalog.engines.self].sort(), 'run by the two engines');
    for (const job of queued)
      assert.equal(a.catalog.jobEvents(job.id).filter((event) => event.message === 'step initialize started').length, 1, 'ran once');
    const ranOnB = queued.filter((job) => a.catalog.engines.placement(job.id)?.engineId === b.catalog.engines.self);
    for (let look = 0; look < 100 && ranOnB.some((job) => !states.get(job.id)?.has('succeeded')); look++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    for (const job of ranOnB) {
      assert.ok(states.get(job.id)?.has('running') && states.get(job.id)?.has('succeeded'), `A heard job ${job.id} run and end on B`);
      assert.ok(progressed.has(job.id), `A heard job ${job.id}'s progress on B`);
    }

    // An operator prompt B raises, and its end, are heard on A.
    const prompts: { id: string; state: string }[] = [];
    a.events.on('prompt.updated', (prompt) => void prompts.push({ id: prompt.id, state: prompt.state }));
    const raised = b.tape.prompts.raise({ barcode: 'LB0001L9', jobIds: [], place: 'the mail slot', message: 'insert tape LB0001L9' });
    const heard = async (count: number): Promise<void> => {
      for (let look = 0; look < 100 && prompts.length < count; look++) await new Promise((resolve) => setTimeout(resolve, 50));
    };
    await heard(1);
    b.tape.prompts.withdraw(raised.id);
    await heard(2);
    // Each event names the prompt; A reads it from the catalog as it is then.
    assert.deepEqual(prompts, [
      { id: raised.id, state: 'open' },
      { id: raised.id, state: 'cancelled' },
    ]);
  },
);

test(
  '200 restores across two engines, one of them stopped part way: none lost, none run twice at once, each ended once',
  { skip },
  async () => {
    const vms = ['v1', 'v2', 'v3', 'v4'];
    const { dir, a, b, disks } = await twoSharedEngines(vms, 1);
    const queued = await queueRestores(a, dir, vms, 200);
    // B stops while jobs run: what it ran goes back to the queue, and A finishes it.
    const restored = (): number => a.catalog.jobsInState(['succeeded']).filter((job) => job.kind === 'restore-entire-vm').length;
    for (let look = 0; look < 600 && restored() < 60; look++) await new Promise((resolve) => setTimeout(resolve, 100));
    await b.close();
    const byEngine = await checkRestores(a, dir, vms, disks, queued);
    assert.equal(byEngine.size, 2, 'both engines ran some');
  },
);

test('a lone engine and engines that share the catalog refuse each other, each with its reason', { skip }, async () => {
  const dir = await tempDir();
  const url = await freshPostgresDatabase();
  const shared = await openServedEngine({ home: await sharedHome(dir, 'shared', url, null), workerThreads: 1, shared: true });
  try {
    await assert.rejects(openServedEngine({ home: await sharedHome(dir, 'lone', url, null), workerThreads: 1 }), {
      code: 'conflict',
      message: /another engine uses the catalog .*unless every engine of the catalog is started with --shared/,
    });
  } finally {
    await shared.close();
  }
  const lone = await openServedEngine({ home: join(dir, 'lone'), workerThreads: 1 });
  try {
    await assert.rejects(openServedEngine({ home: join(dir, 'shared'), workerThreads: 1, shared: true }), {
      code: 'conflict',
      message: /an engine uses the catalog .* alone/,
    });
  } finally {
    await lone.close();
  }
  const sqlite = join(dir, 'sqlite-home');
  await assert.rejects(openServedEngine({ home: sqlite, workerThreads: 1, shared: true }), {
    code: 'bad-request',
    message: /only on a PostgreSQL catalog/,
  });
});

/** A restore queued on an engine (a real `serve --shared` process) that kills itself at the
 * restore's first checkpoint (a fast restore may end before a later one; resume.test.ts covers
 * watermarks part-way through). Returns where a second engine's home can be made. */
async function restoreKilledMidway(): Promise<{
  dir: string;
  url: string;
  repository: string;
  disk: string;
  target: string;
  jobId: string;
}> {
  const dir = await tempDir();
  const url = await freshPostgresDatabase();
  const homeA = await sharedHome(dir, 'home-a', url, null);
  const repository = join(homeA, 'repositories', 'default');
  const a = await openServedEngine({ home: homeA, workerThreads: 2, shared: true });
  let disk: string;
  try {
    [disk = ''] = await backupGenerations(a, join(dir, 'omega'), { name: 'omega', generations: 1, mib: 64, subformat: 'monolithicSparse' });
  } finally {
    await a.close();
  }
  const homeP = await sharedHome(dir, 'home-p', url, repository);
  const dying = await startServeWithEnv(
    { ...process.env, LIFEBOAT_CHECKPOINT_MS: '5', LIFEBOAT_KILL_AT: 'first-checkpoint' },
    homeP,
    '--shared',
  );
  const target = join(dir, 'restored');
  const submitted = spawnSync(
    process.execPath,
    [cli, '--home', homeP, '--json', 'restore', 'vm', 'omega', '--point', 'latest', '--target', `local:${target}`, '--detach'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(submitted.status, 0, submitted.stderr);
  const [, signal] = (await once(dying.child, 'exit')) as [number | null, NodeJS.Signals | null];
  assert.equal(signal, 'SIGKILL', `the engine ended (${dying.stderr()}) before its first checkpoint`);
  return { dir, url, repository, disk, target, jobId: (JSON.parse(submitted.stdout) as Job).id };
}

test(
  'an engine killed with SIGKILL mid-restore: another engine takes the job over and finishes it from its checkpoint, disk identical',
  { skip },
  async () => {
    const { dir, url, repository, disk, target, jobId } = await restoreKilledMidway();
    const b = await openServedEngine({ home: await sharedHome(dir, 'home-b', url, repository), workerThreads: 2, shared: true });
    try {
      const job = await b.jobs.whenEnded(jobId);
      assert.equal(job.state, 'succeeded', job.error ?? '');
      assert.equal(b.catalog.engines.placement(jobId)?.engineId, b.catalog.engines.self);
      const events = b.catalog.jobEvents(jobId).map((event) => event.message);
      assert.ok(
        events.some((message) => /^taken over by engine .* stopped while it ran$/.test(message)),
        events.join('\n'),
      );
      assert.equal(
        events.filter((message) => message === 'step initialize started').length,
        2,
        'the first run, and the one that took over',
      );
      assert.ok(events.includes('disk scsi0:0: resuming from its checkpoint'), events.join('\n'));
      assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', disk, join(target, 'omega.vmdk')), /identical/);
    } finally {
      await b.close();
    }
  },
);

test('a job whose engine died can be cancelled from another engine, which then never runs it', { skip }, async () => {
  const { dir, url, repository, jobId } = await restoreKilledMidway();
  const b = await openServedEngine({ home: await sharedHome(dir, 'home-b', url, repository), workerThreads: 2, shared: true });
  try {
    const cancelled = b.jobs.cancel(jobId);
    assert.equal(cancelled.state, 'cancelled');
    assert.match(cancelled.error ?? '', /after its engine stopped/);
    // Past the give-back and the queue's own heartbeat expiry: the queue hands it out, nobody runs it.
    await new Promise((resolve) => setTimeout(resolve, 25_000));
    const events = b.catalog.jobEvents(jobId).map((event) => event.message);
    assert.equal(events.filter((message) => message === 'step initialize started').length, 1, events.join('\n'));
    assert.equal(b.catalog.getJob(jobId)?.state, 'cancelled');
  } finally {
    await b.close();
  }
});

test(
  'a backup (not a shared job) whose engine died is interrupted by another engine, saying why it is not taken over',
  { skip },
  async () => {
    const dir = await tempDir();
    const url = await freshPostgresDatabase();
    const source = join(dir, 'source');
    await mkdir(source, { recursive: true });
    await writeMixedRaw(join(dir, 'kappa.raw'), 4);
    await makeVmFolder(source, 'kappa', join(dir, 'kappa.raw'), 'monolithicSparse');
    const homeP = await sharedHome(dir, 'home-p', url, null);
    const dying = await startServeWithEnv({ ...process.env, LIFEBOAT_KILL_AT: 'job-running' }, homeP, '--shared');
    // The engine dies as the backup starts, before it can answer the command (whose exit says so).
    spawnSync(process.execPath, [cli, '--home', homeP, '--json', 'backup', `local:${source}`, '--detach'], { timeout: 60_000 });
    const [, signal] = (await once(dying.child, 'exit')) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL', `the engine ended (${dying.stderr()}) before the backup ran`);

    const b = await openServedEngine({
      home: await sharedHome(dir, 'home-b', url, join(homeP, 'repositories', 'default')),
      workerThreads: 1,
      shared: true,
    });
    try {
      const job = await until(
        'the backup interrupted',
        () => b.catalog.listJobs().find((found) => found.kind === 'backup' && found.state === 'interrupted'),
        30_000,
        200,
      );
      assert.match(
        job?.error ?? '',
        /^engine \w+ on .* stopped while this job ran; a backup job stays with the engine that queued it and is not taken over by another; run it again from any engine$/,
      );
    } finally {
      await b.close();
    }
  },
);

test(
  "a proxy's task limit holds across the engines that share the catalog, and an engine that stops frees its tasks",
  { skip },
  async () => {
    const dir = await tempDir();
    const url = await freshPostgresDatabase();
    const a = await openServedEngine({ home: await sharedHome(dir, 'home-a', url, null), workerThreads: 1, shared: true });
    const b = await openServedEngine({ home: await sharedHome(dir, 'home-b', url, null), workerThreads: 1, shared: true });
    try {
      const at = new Date().toISOString();
      a.catalog.addHost({
        id: 'h-1',
        name: 'esx1',
        kind: 'vsphere',
        url: 'https://127.0.0.1:1/sdk',
        user: 'u',
        insecure: true,
        createdAt: at,
      });
      const proxy = {
        id: 'p-1',
        name: 'px1',
        host: 'esx1',
        transports: ['nbd' as const],
        proxyVm: null,
        datastorePaths: {},
        maxTasks: 2,
        createdAt: at,
      };
      a.catalog.addProxy(proxy, 'h-1');
      const first = a.hosts.restoreProxies.acquire(proxy);
      const second = b.hosts.restoreProxies.acquire(proxy);
      assert.match(a.hosts.restoreProxies.busy(proxy) ?? '', /is busy \(2 of 2 tasks running on the engines sharing the catalog\)/);
      assert.match(b.hosts.proxies.busy(proxy) ?? '', /is busy/, 'a backup sees the same tasks');
      assert.throws(() => b.hosts.restoreProxies.acquire(proxy), { code: 'conflict', message: /proxy px1 is busy/ });
      first();
      assert.equal(b.hosts.restoreProxies.busy(proxy), null, "A's task ended: B may run one");
      const third = b.hosts.restoreProxies.acquire(proxy);
      assert.ok(a.hosts.restoreProxies.busy(proxy));
      // B stops (its catalog connection with it): its tasks are free for A.
      await b.close();
      assert.equal(a.hosts.restoreProxies.busy(proxy), null);
      // B's tasks ending after it stopped let go of nothing more (its session took its slots with it).
      second();
      third();
      assert.equal(a.hosts.restoreProxies.busy(proxy), null);
    } finally {
      await b.close();
      await a.close();
    }
  },
);
