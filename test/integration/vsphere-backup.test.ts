// Backup from vSphere against govmomi's simulator: a VM restored into the simulator has its disk
// changed on the datastore, is backed up through each transport (NBD, Direct SAN, HotAdd), and
// each point restored to a folder compares identical to the datastore's files as they were at the
// snapshot; the next backup stores only what changed; no Lifeboat snapshot is left on the VM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, open, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Engine } from '../../electron/engine/engine.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { findVm } from '../../electron/drivers/vsphere/vm-config.ts';
import type { Job } from '../../shared/domain.ts';
import { asOwner } from '../helpers/owner.ts';
import { makeVmFolder, openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { addSimulatorHost, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';
import { startFaultProxy, type FaultRule } from '../helpers/fault-proxy.ts';

const unavailable = vcsimUnavailable();
const MIB = 1024 * 1024;
const VM = 'web';

/** A VM folder backed up locally, restored into the simulator as "web" on LocalDS_0. */
async function setUp(home: string, dir: string, vc: Vcsim): Promise<Engine> {
  const engine = await openEngine(home);
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 12, 3);
  await makeVmFolder(source, 'gamma', join(dir, 'disk.raw'), 'monolithicSparse');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  await addSimulatorHost(engine, vc);
  const restore = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: VM, target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0' } },
      'test',
    ),
  );
  assert.equal(restore.state, 'succeeded', restore.error ?? '');
  return engine;
}

/** The VM's flat disk file on the simulator's datastore. */
function flatFile(vc: Vcsim): string {
  return join(vc.datastores.LocalDS_0 as string, VM, `${VM}-flat.vmdk`);
}

/** Overwrites `bytes` at `offset` of the VM's disk, as the guest would. */
async function changeDisk(vc: Vcsim, offset: number, bytes: number): Promise<void> {
  const handle = await open(flatFile(vc), 'r+');
  await handle.write(randomBytes(bytes), 0, bytes, offset);
  await handle.close();
}

async function snapshotNames(engine: Engine): Promise<string[]> {
  const client = await engine.hosts.connect('vc');
  try {
    return await client.snapshotNames(await findVm(client, VM));
  } finally {
    await client.logout();
  }
}

function log(engine: Engine, job: Job): string {
  return engine.catalog
    .jobEvents(job.id)
    .map((event) => event.message)
    .join('\n');
}

/** Restores a point of the VM to a folder; the path of its disk there. */
async function restoreLocally(engine: Engine, pointId: string, target: string): Promise<string> {
  const job = await runJob(
    engine,
    await engine.restores.start({ vm: VM, point: pointId, target: { kind: 'local', path: target } }, 'test'),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const disks = (await readdir(target)).filter((name) => name.endsWith('.vmdk') && !name.endsWith('-flat.vmdk'));
  assert.equal(disks.length, 1, `one disk restored: ${disks.join(', ')}`);
  return join(target, disks[0] as string);
}

test(
  'vSphere backup: NBD, Direct SAN and HotAdd points restore identical; incrementals store what changed',
  { skip: unavailable ?? false },
  async () => {
    const dir = await tempDir();
    const vc = await startVcsim();
    const engine = await setUp(join(dir, 'home'), dir, vc);
    const lun = { LocalDS_0: vc.datastores.LocalDS_0 as string };
    await dispatch(engine, asOwner(), 'proxies.add', { name: 'san-proxy', host: 'vc', transports: ['san'], datastorePaths: lun });
    await dispatch(engine, asOwner(), 'proxies.add', {
      name: 'hot-proxy',
      host: 'vc',
      transports: ['hotadd'],
      proxyVm: 'DC0_H0_VM0',
      datastorePaths: lun,
    });

    const points: string[] = [];
    for (const [round, transport] of (['nbd', 'san', 'hotadd'] as const).entries()) {
      // One changed region a round, inside one 1 MiB block and across a block edge.
      await changeDisk(vc, (2 + round * 3) * MIB - 4096, 64 * 1024);
      const atSnapshot = join(dir, `at-snapshot-${transport}.raw`);
      await copyFile(flatFile(vc), atSnapshot);
      const job = await runJob(engine, await engine.backups.startFromVsphere({ host: 'vc', vm: VM, transport, quiesce: false }, 'test'));
      assert.equal(job.state, 'succeeded', `${transport}: ${job.error ?? ''}`);
      assert.equal(job.kind, 'backup');
      assert.match(job.summary, new RegExp(`^Back up ${VM} from vSphere vc \\(${transport}\\)`));
      assert.deepEqual(
        job.steps.map((step) => `${step.name}:${step.state}`),
        [
          'initialize:done',
          'create-snapshot:done',
          'read-configuration:done',
          'transfer-disks:done',
          'remove-snapshot:done',
          'commit-point:done',
        ],
      );
      assert.deepEqual(engine.catalog.jobParams(job.id), { source: `vsphere:vc/${VM}`, transport, keyId: null });
      assert.deepEqual(job.result?.transports, [transport]);
      const text = log(engine, job);
      assert.match(text, /Changed Block Tracking/, 'the log says how changed blocks were found');
      if (transport === 'hotadd') assert.match(text, /hot-added to proxy VM DC0_H0_VM0[\s\S]*detached from proxy VM DC0_H0_VM0/);
      assert.deepEqual(
        (await snapshotNames(engine)).filter((name) => name.startsWith('lifeboat-')),
        [],
        `${transport}: no Lifeboat snapshot left on the VM`,
      );
      const pointId = job.result?.pointId;
      assert.equal(typeof pointId, 'string');
      points.push(pointId as string);
      if (round === 0) {
        assert.equal(job.result?.kind, 'full');
      } else {
        assert.equal(job.result?.kind, 'incremental');
        // 64 KiB changed, across two 1 MiB blocks at most: only those are stored.
        assert.ok((job.result?.storedBytes as number) <= 2 * MIB, `${transport}: stored ${String(job.result?.storedBytes)} bytes`);
        assert.ok((job.result?.changedBytes as number) <= 2 * MIB, `${transport}: changed ${String(job.result?.changedBytes)} bytes`);
      }
      const restored = await restoreLocally(engine, pointId as string, join(dir, `restored-${transport}`));
      assert.match(
        qemuImg('compare', '-f', 'raw', '-F', 'vmdk', atSnapshot, restored),
        /identical/,
        `${transport}: restored as at the snapshot`,
      );
    }
    const vm = engine.catalog.listVms().find((entry) => entry.name === VM);
    assert.equal(vm?.source, `vsphere:vc/${VM}`);
    assert.equal(vm?.pointCount, 3);
  },
);

test(
  'vSphere backup: bad requests fail before a job exists; a VM that cannot be snapshotted leaves nothing',
  { skip: unavailable ?? false },
  async () => {
    const dir = await tempDir();
    const vc = await startVcsim();
    const engine = await setUp(join(dir, 'home'), dir, vc);
    const jobsBefore = engine.catalog.listJobs().length;
    await assert.rejects(engine.backups.startFromVsphere({ host: 'nope', vm: VM, transport: 'nbd', quiesce: false }, 'test'), {
      code: 'not-found',
      message: /no host "nope"/,
    });
    await assert.rejects(engine.backups.startFromVsphere({ host: 'vc', vm: 'no-such-vm', transport: 'nbd', quiesce: false }, 'test'), {
      code: 'not-found',
    });
    await assert.rejects(engine.backups.startFromVsphere({ host: 'vc', vm: '', transport: 'nbd', quiesce: false }, 'test'), {
      code: 'bad-request',
    });
    assert.equal(engine.catalog.listJobs().length, jobsBefore, 'no job for a refused request');
    const san = await runJob(
      engine,
      await engine.backups.startFromVsphere({ host: 'vc', vm: VM, transport: 'san', quiesce: false }, 'test'),
    );
    assert.equal(san.state, 'failed');
    assert.match(san.error ?? '', /no proxy offers Direct SAN/);
    assert.deepEqual(san.steps.map((step) => step.state).slice(0, 2), ['failed', 'pending'], 'refused before any snapshot');
    assert.deepEqual(await snapshotNames(engine), []);
  },
);

test('vSphere backup: killed once its snapshot exists, the next start removes the snapshot', { skip: unavailable ?? false }, async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const vc = await startVcsim();
  const engine = await setUp(home, dir, vc);
  await engine.close();
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'helpers', 'vsphere-backup-child.ts'), home, VM], {
    env: { ...process.env, LIFEBOAT_KILL_AT: 'backup-snapshot-created' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, ended) => resolve(ended)));
  assert.equal(signal, 'SIGKILL', `the backup was killed at its snapshot (${stderr})`);
  const reopened = await openServedEngine({ home, workerThreads: 2 });
  try {
    await reopened.janitor;
    assert.deepEqual(await snapshotNames(reopened), [], 'the janitor removed the backup snapshot');
    const job = reopened.catalog.listJobs().find((candidate) => candidate.kind === 'backup' && candidate.summary.includes('from vSphere'));
    assert.ok(job);
    assert.deepEqual(reopened.catalog.openResources(job.id), [], 'nothing left recorded');
    assert.match(log(reopened, job), /janitor: removed backup snapshot lifeboat-backup-/);
    assert.equal(
      reopened.catalog.listVms().find((entry) => entry.name === VM),
      undefined,
      'no point of the killed backup',
    );
  } finally {
    await reopened.close();
  }
});

test(
  'vSphere backup: each fault is one clear error, the snapshot is removed, no point is committed',
  { skip: unavailable ?? false },
  async () => {
    const dir = await tempDir();
    const vc = await startVcsim();
    const engine = await setUp(join(dir, 'home'), dir, vc);
    const rules: FaultRule[] = [];
    const injector = await startFaultProxy(vc.url, rules);
    await dispatch(engine, asOwner(), 'hosts.add', {
      kind: 'vsphere',
      name: 'vcf',
      url: injector.url,
      user: vc.user,
      password: vc.password,
      insecure: false,
    });
    const backUp = async (rule: FaultRule): Promise<Job> => {
      rules.splice(0, rules.length, rule);
      try {
        return await runJob(
          engine,
          await engine.backups.startFromVsphere({ host: 'vcf', vm: VM, transport: 'nbd', quiesce: false }, 'test'),
        );
      } finally {
        rules.splice(0, rules.length);
      }
    };

    rules.push({ method: 'Login', fault: 'InvalidLogin', message: 'Cannot complete login due to an incorrect user name or password.' });
    await assert.rejects(engine.backups.startFromVsphere({ host: 'vcf', vm: VM, transport: 'nbd', quiesce: false }, 'test'), {
      code: 'unauthorized',
      message: /wrong user name or password/,
    });
    rules.splice(0, rules.length);

    const independent = await backUp({
      rewrite: (method, body) =>
        method === 'RetrievePropertiesEx'
          ? body.replace(/<diskMode>persistent<\/diskMode>/g, '<diskMode>independent_persistent</diskMode>')
          : body,
    });
    assert.equal(independent.state, 'failed');
    assert.match(independent.error ?? '', /independent_persistent: snapshots leave independent disks out/);
    assert.equal(independent.steps.find((step) => step.name === 'create-snapshot')?.state, 'pending', 'no snapshot was tried');

    const refused = await backUp({ method: 'CreateSnapshot_Task', fault: 'SystemError', message: 'injected: snapshot store unavailable' });
    assert.equal(refused.state, 'failed');
    assert.match(refused.error ?? '', /snapshot store unavailable/);

    const readFails = await backUp({ download: true, status: 500, after: 4 });
    assert.equal(readFails.state, 'failed');
    assert.equal(readFails.steps.find((step) => step.name === 'transfer-disks')?.state, 'failed');
    assert.match(readFails.error ?? '', /reading \[LocalDS_0\] web\/web-flat.vmdk at offset [1-9]\d* .*failed: HTTP 500/);
    assert.match(log(engine, readFails), /snapshot lifeboat-backup-.* created/);
    assert.deepEqual(await snapshotNames(engine), [], 'a failed read: the snapshot is removed');

    // The snapshot cannot be removed, by the job nor by its cleanup: it stays recorded, and the
    // janitor removes it once the host lets it.
    const stuck = await backUp({ method: 'RemoveSnapshot_Task', fault: 'SystemError', message: 'injected: consolidation failed' });
    assert.equal(stuck.state, 'failed');
    assert.match(stuck.error ?? '', /consolidation failed/);
    assert.match(log(engine, stuck), /cleanup failed, the janitor will retry/);
    assert.equal((await snapshotNames(engine)).length, 1);
    assert.ok(
      engine.catalog.openResources(stuck.id).some((resource) => resource.kind === 'vsphere-snapshot'),
      'the snapshot stays recorded',
    );
    assert.equal(
      engine.catalog.listVms().find((entry) => entry.name === VM),
      undefined,
      'no point of a failed backup',
    );
    await engine.close();
    const restarted = await openEngine(join(dir, 'home'));
    await restarted.janitor;
    assert.deepEqual(await snapshotNames(restarted), [], 'the janitor removed it');
    assert.deepEqual(restarted.catalog.openResources(stuck.id), []);
    assert.match(log(restarted, stuck), /janitor: removed backup snapshot lifeboat-backup-/);
  },
);

test('vSphere backup: an encrypted chain, sealed with the same key path as a folder backup', { skip: unavailable ?? false }, async () => {
  const dir = await tempDir();
  const vc = await startVcsim();
  const engine = await setUp(join(dir, 'home'), dir, vc);
  const request = { host: 'vc', vm: VM, transport: 'nbd', quiesce: false } as const;
  const sealed = await runJob(
    engine,
    await engine.backups.startFromVsphere(request, 'test', { encrypt: true, password: 'correct horse battery' }),
  );
  assert.equal(sealed.state, 'succeeded', sealed.error ?? '');
  assert.match(sealed.summary, /\(nbd\) \(encrypted, key [\w-]+\)$/);
  await assert.rejects(engine.backups.startFromVsphere(request, 'test', { encrypt: false, password: 'wrong horse battery' }), {
    code: 'unauthorized',
  });
  const next = await runJob(
    engine,
    await engine.backups.startFromVsphere(request, 'test', { encrypt: false, password: 'correct horse battery' }),
  );
  assert.equal(next.state, 'succeeded', next.error ?? '');
  assert.equal(next.result?.kind, 'incremental');
  const keyOf = (job: Job) => (engine.catalog.jobParams(job.id) as { keyId: string | null }).keyId;
  assert.equal(keyOf(next), keyOf(sealed));
});
