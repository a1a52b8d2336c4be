// Faults of a backup from vSphere that vsphere-backup.test.ts does not play (it has a refused
// login, an independent disk, a refused snapshot, a read that fails midway, a snapshot that
// cannot be removed): a connection dropped part-way through the disk read, a cancel while the host
// leaves a read unanswered, a snapshot the host says is gone once taken, a VM that already has 31
// snapshots. Each is one clear error; no Lifeboat snapshot stays on the VM, nothing stays recorded
// for the janitor, no point is committed.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Engine } from '../../electron/engine/engine.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { vmIdFor } from '../../electron/disks/vm-folder.ts';
import { findVm, readVmConfig } from '../../electron/drivers/vsphere/vm-config.ts';
import type { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { el, type MoRef } from '../../electron/drivers/vsphere/xml.ts';
import type { Job } from '../../shared/domain.ts';
import { asOwner } from '../helpers/owner.ts';
import { openEngine, runJob, tempDir, until } from '../helpers/env.ts';
import { restoreIntoSimulator } from '../helpers/simulator-vm.ts';
import { faultEnvelope, startFaultProxy, type FaultRule } from '../helpers/fault-proxy.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const unavailable = vcsimUnavailable();
const VM = 'web';

/** The engine with host "vc" (the simulator) and host "faulty" (the same, through the fault
 * proxy), and a VM "web" a restore made on the simulator. */
async function setUp(): Promise<{ engine: Engine; client: VsphereClient; vm: MoRef; rules: FaultRule[]; injected: string[] }> {
  const dir = await tempDir();
  const vc = await startVcsim();
  const engine = await openEngine(join(dir, 'home'));
  await restoreIntoSimulator(engine, vc, { dir, name: VM, datastore: 'LocalDS_0', seed: 4 });
  const rules: FaultRule[] = [];
  const proxy = await startFaultProxy(vc.url, rules);
  await dispatch(engine, asOwner(), 'hosts.add', {
    kind: 'vsphere',
    name: 'faulty',
    url: proxy.url,
    user: vc.user,
    password: vc.password,
    insecure: true,
  });
  const client = await engine.hosts.connect('vc');
  return { engine, client, vm: await findVm(client, VM), rules, injected: proxy.injected };
}

/** The VM's points, in the catalog and (committed) in the repository. */
async function pointsOf(engine: Engine, client: VsphereClient, vm: MoRef): Promise<{ catalog: string[]; repository: string[] }> {
  const config = await readVmConfig(client, vm);
  const vmId = vmIdFor(config.name, config.uuid ?? config.name);
  return {
    catalog: engine.catalog.listPoints(vmId).map((point) => point.id),
    repository: (await engine.repository.scanPoints(vmId)).flatMap((entry) => (entry.manifest ? [entry.manifest.id] : [])),
  };
}

/** What a failed backup must leave: no Lifeboat snapshot on the VM, no open job resource, no new point. */
async function checkNothingLeft(
  engine: Engine,
  client: VsphereClient,
  vm: MoRef,
  job: Job | null,
  pointsBefore: Awaited<ReturnType<typeof pointsOf>>,
): Promise<void> {
  assert.deepEqual(
    (await client.snapshotNames(vm)).filter((name) => name.startsWith('lifeboat-')),
    [],
    'no Lifeboat snapshot left on the VM',
  );
  if (job) assert.deepEqual(engine.catalog.openResources(job.id), [], 'nothing left recorded for the janitor');
  assert.deepEqual(await pointsOf(engine, client, vm), pointsBefore, 'no new point in the catalog or the repository');
}

function backUp(engine: Engine, host: string, transport: 'nbd' | 'auto' = 'nbd'): Promise<Job> {
  return engine.backups.startFromVsphere({ host, vm: VM, transport, quiesce: false }, 'test');
}

function stepStates(job: Job): string[] {
  return job.steps.map((step) => `${step.name}:${step.state}`);
}

test('vSphere backup faults: each a clear error, no snapshot left, no point', { skip: unavailable ?? false }, async (t) => {
  const { engine, client, vm, rules, injected } = await setUp();

  await t.test('the connection dropped part-way through the disk read: the job fails, the snapshot is removed', async () => {
    const before = await pointsOf(engine, client, vm);
    rules.splice(0, rules.length, { download: true, status: 'drop', after: 4 });
    const dropped = injected.length;
    const job = await runJob(engine, await backUp(engine, 'faulty'));
    assert.equal(job.state, 'failed');
    assert.ok(injected.length > dropped, 'a read was dropped');
    assert.match(
      job.error ?? '',
      /^reading \[LocalDS_0\] web\/web-flat\.vmdk at offset \d+ \(\d+ bytes\) failed: cannot reach vSphere at http:\/\/127\.0\.0\.1:\d+: (ECONNRESET|socket hang up)$/,
    );
    assert.deepEqual(stepStates(job).slice(0, 4), [
      'initialize:done',
      'create-snapshot:done',
      'read-configuration:done',
      'transfer-disks:failed',
    ]);
    await checkNothingLeft(engine, client, vm, job, before);
  });

  // Well under the read's 60 s socket timeout, which alone used to end such a backup.
  await t.test(
    'cancelled while the host does not answer a read: cancelled at once, the snapshot is removed',
    { timeout: 30_000 },
    async () => {
      const before = await pointsOf(engine, client, vm);
      rules.splice(0, rules.length, { download: true, status: 'stall', after: 4 });
      const stalled = injected.length;
      const started = await backUp(engine, 'faulty');
      await until('a read the host leaves unanswered', () => (injected.length > stalled ? true : undefined), 15_000);
      engine.jobs.cancel(started.id);
      const job = await runJob(engine, started);
      assert.equal(job.state, 'cancelled', job.error ?? '');
      await checkNothingLeft(engine, client, vm, job, before);
    },
  );

  await t.test('the snapshot vanishes once taken (the host says it no longer exists): not-found, nothing committed', async () => {
    const before = await pointsOf(engine, client, vm);
    const gone = faultEnvelope('ManagedObjectNotFound', 'The object has already been deleted or has not been completely created');
    rules.splice(0, rules.length, {
      answer: (method, body) => (method === 'RetrievePropertiesEx' && body.includes('<type>VirtualMachineSnapshot</type>') ? gone : null),
    });
    const job = await runJob(engine, await backUp(engine, 'faulty'));
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', /^snapshot snapshot-\d+ of VM "web" no longer exists on 127\.0\.0\.1:\d+$/);
    assert.deepEqual(stepStates(job).slice(0, 3), ['initialize:done', 'create-snapshot:done', 'read-configuration:failed']);
    await checkNothingLeft(engine, client, vm, job, before);
  });

  await t.test('after the faults, the same VM backs up through the proxy', async () => {
    rules.splice(0, rules.length);
    const job = await runJob(engine, await backUp(engine, 'faulty'));
    assert.equal(job.state, 'succeeded', job.error ?? '');
    assert.deepEqual(
      (await client.snapshotNames(vm)).filter((name) => name.startsWith('lifeboat-')),
      [],
    );
  });

  // Last: its 31 snapshots stay until the simulator stops.
  await t.test('31 snapshots already: refused before a snapshot exists', async () => {
    const before = await pointsOf(engine, client, vm);
    for (let n = 1; n <= 31; n++)
      await client.runTask('CreateSnapshot_Task', vm, [el('name', `old-${n}`), el('memory', false), el('quiesce', false)], `snapshot ${n}`);
    const job = await runJob(engine, await backUp(engine, 'vc'));
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', /VM "web" already has 31 snapshots; ESXi keeps at most 32 in a chain/);
    assert.equal((await client.snapshotNames(vm)).length, 31, 'no snapshot added');
    await checkNothingLeft(engine, client, vm, job, before);
  });
});
