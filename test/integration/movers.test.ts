// Restores to the vCenter simulator through data movers: real `lifeboat mover` processes on
// loopback, each with its own state folder, joined with a one-time token and connected with the
// certificate the engine issued; their datastore view is the simulator's datastore folder. Two
// VMs through two movers at once, a mover killed mid-disk (its disk finished by the other), a
// mover restarted mid-job that takes its task back, a removed mover refused (its process exits
// 3), and a job that no mover can finish failing with the reason, no VM left. The port's
// refusals at the protocol level (a foreign certificate, …): mover-listener.test.ts.
import assert from 'node:assert/strict';
import { mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Engine } from '../../electron/engine/engine.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { listenForMovers, type MoverListener } from '../../electron/rpc/mover-listener.ts';
import { BlockKind, RECORD_BYTES, readRecord } from '../../electron/repository/block-map.ts';
import { resolvePoint } from '../../electron/repository/chain.ts';
import { MOVER_PROTOCOL } from '../../electron/movers/protocol.ts';
import type { Job } from '../../shared/domain.ts';
import { makeVmFolder, openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { handMadeMover, startMover, type MoverProcess } from '../helpers/movers.ts';
import { asOwner } from '../helpers/owner.ts';
import { addSimulatorHost, startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const unavailable = vcsimUnavailable();
const BLOCK_SIZE = 256 * 1024;
/** A slow writer (bytes per second), so a kill lands mid-disk. */
const SLOW = String(3 * 1024 * 1024);
const quick = { LIFEBOAT_CHECKPOINT_MS: '50' };

// Made at the top, not in before(): what a hook makes is removed when the hook ends.
const dir = await tempDir();
const raws: Record<string, string> = {};
const { engine, listener, datastore } = unavailable ? ({} as Setup) : await setUp();

type Setup = { engine: Engine; listener: MoverListener; datastore: string };

async function setUp(): Promise<Setup> {
  const vc = await startVcsim();
  const engine = await openEngine(join(dir, 'home'), BLOCK_SIZE);
  const listener = await listenForMovers(engine, { host: '127.0.0.1', port: 0 });
  after(() => listener.close());
  await addSimulatorHost(engine, vc);
  for (const [vm, seed] of [
    ['alpha', 1],
    ['beta', 2],
  ] as const) {
    const source = join(dir, vm);
    await mkdir(source);
    raws[vm] = join(dir, `${vm}.raw`);
    await writeMixedRaw(raws[vm], 12, seed);
    await makeVmFolder(source, vm, raws[vm], 'monolithicSparse');
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  }
  return { engine, listener, datastore: vc.datastores.LocalDS_1 as string };
}

/** A mover joined with a fresh token, connected, seeing the simulator's datastore. */
async function joinedMover(
  name: string,
  env: Record<string, string> = {},
  { transports = ['san', 'hotadd'], proxyVm = 'DC0_H0_VM0' } = {},
): Promise<MoverProcess> {
  const { token } = engine.enrollment.add({ name, host: 'vc', proxyVm }, 'test');
  const mover = startMover({
    engine: listener.address,
    state: join(dir, `state-${name}`),
    token,
    datastores: { LocalDS_1: datastore },
    transports,
    slots: 1,
    env: { ...quick, ...env },
  });
  await mover.waitFor('connected');
  return mover;
}

async function restoreJob(vm: string, newName: string, transport: 'san' | 'hotadd' = 'san'): Promise<Job> {
  return engine.restores.start(
    {
      vm,
      point: 'latest',
      newName,
      target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_1', transport, diskFormat: transport === 'san' ? 'thick' : 'thin' },
    },
    'test',
  );
}

async function diskCount(vmName: string): Promise<number> {
  const client = await engine.hosts.connect('vc');
  try {
    const vm = (await client.inventory()).vms.find((candidate) => candidate.name === vmName);
    assert.ok(vm, `VM ${vmName}`);
    return (await client.vmDisks(vm.ref)).length;
  } finally {
    await client.logout();
  }
}

function logOf(job: Job): string {
  return engine.catalog
    .jobEvents(job.id)
    .map((event) => event.message)
    .join('\n');
}

function identical(vm: string, newName: string): void {
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raws[vm] as string, join(datastore, newName, `${newName}.vmdk`)), /identical/);
}

async function vmNames(): Promise<string[]> {
  return (await engine.hosts.inventory('vc')).vms;
}

test('movers: two VMs restored at once through two movers, each disk identical', { skip: unavailable ?? false }, async () => {
  const one = await joinedMover('mover-a');
  const two = await joinedMover('mover-b');
  const [first, second] = await Promise.all([
    restoreJob('alpha', 'alpha-1').then((job) => runJob(engine, job)),
    restoreJob('beta', 'beta-1').then((job) => runJob(engine, job)),
  ]);
  assert.equal(first.state, 'succeeded', first.error ?? '');
  assert.equal(second.state, 'succeeded', second.error ?? '');
  identical('alpha', 'alpha-1');
  identical('beta', 'beta-1');
  const carriers = [first, second].map((job) => Object.values(job.result?.movers as Record<string, string[]>).flat());
  assert.deepEqual(carriers.flat().sort(), ['mover-a', 'mover-b'], 'each mover carried one VM');
  assert.match(logOf(first), /transport: Direct SAN through proxy mover-[ab]/);
  assert.match(logOf(first), /carried by mover mover-[ab]/);
  assert.equal(one.count('task-done') + two.count('task-done'), 2);
  await one.stop();
  await two.stop();
});

test('movers: a mover killed mid-disk hands the disk to the other, identical', { skip: unavailable ?? false }, async () => {
  // Killed at its third checkpoint: the other mover resumes past blocks already on disk.
  const doomed = await joinedMover('mover-c', { LIFEBOAT_KILL_AT: 'mover-checkpoint:3', LIFEBOAT_MOVER_WRITE_BPS: SLOW });
  const other = await joinedMover('mover-d');
  const job = await runJob(engine, await restoreJob('alpha', 'alpha-2'));
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.equal((await doomed.exited).signal, 'SIGKILL', 'the first mover died at its checkpoint');
  assert.deepEqual(Object.values(job.result?.movers as Record<string, string[]>), [['mover-c', 'mover-d']]);
  const lost = /mover mover-c lost at block (\d+) \(.*\); disk \S+ continues from checkpoint (\d+) on mover mover-d/.exec(logOf(job));
  assert.ok(lost, logOf(job));
  const resumedFrom = Number(lost[2]);
  assert.ok(resumedFrom > 0 && Number(lost[1]) >= resumedFrom, 'resumed from a checkpoint past the start');
  assert.equal((await other.waitFor('task-started')).resumeFrom, resumedFrom, 'the other mover started at the checkpoint');
  identical('alpha', 'alpha-2');
  await other.stop();
});

test(
  "movers: HotAdd through a mover; killed mid-disk, the disk moves to the other mover's proxy VM",
  { skip: unavailable ?? false },
  async () => {
    const proxies = ['DC0_H0_VM0', 'DC0_H1_VM0'];
    const before = await Promise.all(proxies.map(diskCount));
    const doomed = await joinedMover(
      'mover-h',
      { LIFEBOAT_KILL_AT: 'mover-checkpoint:2', LIFEBOAT_MOVER_WRITE_BPS: SLOW },
      { transports: ['hotadd'], proxyVm: 'DC0_H0_VM0' },
    );
    const other = await joinedMover('mover-i', {}, { transports: ['hotadd'], proxyVm: 'DC0_H1_VM0' });
    const job = await runJob(engine, await restoreJob('beta', 'beta-hot', 'hotadd'));
    assert.equal(job.state, 'succeeded', job.error ?? '');
    assert.equal((await doomed.exited).signal, 'SIGKILL');
    assert.deepEqual(Object.values(job.result?.movers as Record<string, string[]>), [['mover-h', 'mover-i']]);
    assert.match(
      logOf(job),
      /hot-added to proxy VM DC0_H0_VM0[\s\S]*mover mover-h lost[\s\S]*detached from proxy VM DC0_H0_VM0[\s\S]*hot-added to proxy VM DC0_H1_VM0[\s\S]*detached from proxy VM DC0_H1_VM0/,
    );
    identical('beta', 'beta-hot');
    assert.deepEqual(await Promise.all(proxies.map(diskCount)), before, 'no restored disk is left on a proxy VM');
    await other.stop();
  },
);

test('movers: a mover restarted mid-job rejoins and takes its task back', { skip: unavailable ?? false }, async () => {
  const first = await joinedMover(
    'mover-e',
    { LIFEBOAT_KILL_AT: 'mover-checkpoint', LIFEBOAT_MOVER_WRITE_BPS: SLOW },
    { transports: ['san'] },
  );
  const job = await restoreJob('beta', 'beta-2');
  assert.equal((await first.exited).signal, 'SIGKILL');
  // Started again with its state folder: no token, the certificate it was issued.
  const again = startMover({
    engine: listener.address,
    state: join(dir, 'state-mover-e'),
    datastores: { LocalDS_1: datastore },
    transports: ['san'],
    slots: 1,
    env: quick,
  });
  const ended = await runJob(engine, job);
  assert.equal(ended.state, 'succeeded', ended.error ?? '');
  assert.deepEqual(Object.values(ended.result?.movers as Record<string, string[]>), [['mover-e']]);
  assert.match(logOf(ended), /mover mover-e lost at block \d+ .*continues from checkpoint \d+ on mover mover-e/);
  assert.equal(again.count('task-done'), 1);
  identical('beta', 'beta-2');
  await again.stop();
});

test('movers: a job no mover can finish fails saying why, and leaves no VM', { skip: unavailable ?? false }, async () => {
  process.env.LIFEBOAT_MOVER_REJOIN_MS = '1500';
  after(() => delete process.env.LIFEBOAT_MOVER_REJOIN_MS);
  const before = await vmNames();
  const doomed = await joinedMover('mover-f', { LIFEBOAT_KILL_AT: 'mover-checkpoint', LIFEBOAT_MOVER_WRITE_BPS: SLOW });
  const job = await runJob(engine, await restoreJob('alpha', 'alpha-lost'));
  assert.equal((await doomed.exited).signal, 'SIGKILL');
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /no mover can finish disk \S+: .*mover mover-f is not connected/);
  assert.deepEqual(await vmNames(), before, 'the half-made VM is gone');
  assert.ok(!(await readdir(datastore)).includes('alpha-lost'), 'no files of the half-made VM');
});

test('movers: a removed mover is refused and exits 3', { skip: unavailable ?? false }, async () => {
  const mover = await joinedMover('mover-g');
  await dispatch(engine, asOwner(), 'movers.remove', { mover: 'mover-g' });
  const exited = await mover.exited;
  assert.equal(exited.code, 3, mover.stderr);
  assert.match(mover.stderr, /removed/);
  assert.equal(
    engine.movers.proxiesOf('vc').some((proxy) => proxy.name === 'mover-g'),
    false,
  );
});

test("movers: a damaged stored block fails the job with the mover's sentence, not handed on", { skip: unavailable ?? false }, async () => {
  const source = join(dir, 'gamma');
  await mkdir(source);
  raws.gamma = join(dir, 'gamma.raw');
  await writeMixedRaw(raws.gamma, 4, 3);
  await makeVmFolder(source, 'gamma', raws.gamma, 'monolithicSparse');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const vmId = engine.lookup.resolveVm('gamma').id;
  const point = await resolvePoint(engine.repository, vmId, engine.lookup.resolvePointId(vmId, 'latest'));
  const disk = point.disks[0];
  assert.ok(disk);
  const firstData = Array.from({ length: disk.blockCount }, (_, index) => readRecord(disk.map, index * RECORD_BYTES)).find(
    (record) => record.kind === BlockKind.data,
  );
  assert.ok(firstData);
  const handle = await open(point.dataFiles.get(firstData.dataFile) as string, 'r+');
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, firstData.offset + Math.floor(firstData.storedLength / 2));
  byte[0] = (byte[0] as number) ^ 0xff;
  await handle.write(byte, 0, 1, firstData.offset + Math.floor(firstData.storedLength / 2));
  await handle.close();
  const one = await joinedMover('mover-j', {}, { transports: ['san'] });
  const two = await joinedMover('mover-k', {}, { transports: ['san'] });
  const before = await vmNames();
  const job = await runJob(engine, await restoreJob('gamma', 'gamma-bad'));
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /^mover mover-j: .*block \d+/);
  assert.doesNotMatch(logOf(job), /lost at block/);
  assert.equal(two.count('task-started'), 0, 'a damaged backup is not handed to another mover');
  assert.deepEqual(await vmNames(), before, 'the half-made VM is gone');
  await one.stop();
  await two.stop();
});

test("movers: a cancelled restore stops the mover's task and leaves no VM", { skip: unavailable ?? false }, async () => {
  const mover = await joinedMover('mover-l', { LIFEBOAT_MOVER_WRITE_BPS: String(512 * 1024) }, { transports: ['san'] });
  const before = await vmNames();
  const job = await restoreJob('alpha', 'alpha-cancelled');
  await mover.waitFor('task-started');
  engine.jobs.cancel(job.id);
  const ended = await runJob(engine, job);
  assert.equal(ended.state, 'cancelled', ended.error ?? '');
  const failed = await mover.waitFor('task-failed');
  assert.equal(failed.code, 'cancelled');
  assert.deepEqual(await vmNames(), before, 'the half-made VM is gone');
  await mover.stop();
});

test(
  'movers: a mover that says done before it had every block is dropped, and the disk is written by another',
  { skip: unavailable ?? false },
  async () => {
    // More random data than the credit window: the engine cannot have sent `end` before the
    // liar, which never gives credit back, says done.
    const source = join(dir, 'delta');
    await mkdir(source);
    raws.delta = join(dir, 'delta.raw');
    await writeMixedRaw(raws.delta, 100, 4);
    await makeVmFolder(source, 'delta', raws.delta, 'monolithicSparse');
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
    const { token } = engine.enrollment.add({ name: 'mover-liar', host: 'vc', proxyVm: null }, 'test');
    let lied = false;
    const liar = await handMadeMover(
      listener.port,
      token,
      { type: 'hello', protocol: MOVER_PROTOCOL, transports: ['san'], datastores: { LocalDS_1: datastore }, slots: 1, version: 'liar' },
      (task, send) => {
        lied = true;
        send({ type: 'done', task: task.task, bytesWritten: task.capacity });
      },
    );
    const honest = await joinedMover('mover-honest', {}, { transports: ['san'] });
    const job = await runJob(engine, await restoreJob('delta', 'delta-1'));
    assert.equal(job.state, 'succeeded', job.error ?? '');
    assert.ok(lied, 'the hand-made mover got the task first');
    assert.match(
      logOf(job),
      /mover mover-liar lost at block \d+ \(protocol error: done for disk \S+ before the engine sent its end\); disk \S+ continues from checkpoint 0 on mover mover-honest/,
    );
    await liar.closed;
    assert.equal((await honest.waitFor('task-started')).resumeFrom, 0, 'nothing the liar claimed is skipped');
    identical('delta', 'delta-1');
    await honest.stop();
  },
);

test(
  'movers: a mover that drops every task at once is given up after five losses without progress, and the job says so',
  { skip: unavailable ?? false },
  async () => {
    const { token } = engine.enrollment.add({ name: 'mover-dropper', host: 'vc', proxyVm: null }, 'test');
    let tasks = 0;
    const dropper = await handMadeMover(
      listener.port,
      token,
      { type: 'hello', protocol: MOVER_PROTOCOL, transports: ['san'], datastores: { LocalDS_1: datastore }, slots: 1, version: 'dropper' },
      (task, send) => {
        tasks += 1;
        send({ type: 'failed', task: task.task, code: 'unavailable', message: 'the LUN went away' });
      },
    );
    const before = await vmNames();
    const job = await runJob(engine, await restoreJob('gamma', 'dropped'));
    assert.equal(job.state, 'failed');
    assert.match(
      job.error ?? '',
      /5 movers in a row were lost without writing past block 0 \(last: mover mover-dropper, failed: the LUN went away\)/,
    );
    assert.equal(tasks, 5, 'no more tasks than the bound');
    assert.deepEqual(await vmNames(), before, 'the half-made VM is gone');
    dropper.socket.destroy();
    await dropper.closed;
    engine.enrollment.remove('mover-dropper', 'test');
  },
);
