// The fault matrix: every step of every restore kind (and of backup) fails right after doing its
// work, and each time nothing is left behind and nothing that existed is lost.
import assert from 'node:assert/strict';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Job } from '../../shared/domain.ts';
import { BackupWork } from '../../electron/backup/backup-vm.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { EntireVmLocalRestore } from '../../electron/restore/entire-vm-local.ts';
import { EntireVmVsphereRestore } from '../../electron/restore/entire-vm-vsphere.ts';
import { OriginalVmVsphereRestore } from '../../electron/restore/original-vm-vsphere.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { asOwner } from '../helpers/owner.ts';
import { makeVmFolder, openEngineWith, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { addSimulatorHost, startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

let failAt: { kind: Job['kind']; step: string } | null = null;
let injected = 0;

async function engineWithVm(): Promise<{ dir: string; engine: Engine; source: string }> {
  const dir = await tempDir();
  const engine = await openEngineWith({
    home: join(dir, 'home'),
    workerThreads: 2,
    injectFault: (job, step) => {
      const hit = failAt !== null && job.kind === failAt.kind && step === failAt.step;
      if (hit) injected++;
      return hit;
    },
  });
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 8, 4);
  await makeVmFolder(source, 'matrix', join(dir, 'disk.raw'), 'monolithicFlat');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  return { dir, engine, source };
}

async function failing(engine: Engine, start: () => Promise<Job> | Job, kind: Job['kind'], step: string): Promise<Job> {
  failAt = { kind, step };
  try {
    const job = await runJob(engine, await start());
    assert.equal(job.state, 'failed', `${kind} after ${step}`);
    assert.match(job.error ?? '', new RegExp(`injected fault after step ${step}`));
    assert.deepEqual(engine.catalog.openResources(job.id), [], `${kind} after ${step}: everything it recorded was cleaned up`);
    return job;
  } finally {
    failAt = null;
  }
}

test('fault matrix: backup and local restore', async () => {
  const { dir, engine, source } = await engineWithVm();
  const vmId = engine.lookup.resolveVm('matrix').id;
  for (const { name } of BackupWork.plan.steps) {
    const before = (await engine.repository.listPoints(vmId)).length;
    await failing(engine, () => engine.backups.start(source, 'test'), 'backup', name);
    const after = await engine.repository.listPoints(vmId);
    // Up to the commit nothing is added; after it the point is complete and verifies.
    assert.equal(after.length, name === 'commit-point' ? before + 1 : before, `backup after ${name}`);
    assert.deepEqual(
      (await readdir(engine.repository.pointsFolder(vmId))).filter((entry) => entry.startsWith('.partial')),
      [],
    );
  }
  assert.equal((await runJob(engine, await engine.verifies.start('matrix', undefined, 'test'))).state, 'succeeded');
  for (const { name } of EntireVmLocalRestore.plan.steps) {
    const target = join(dir, `restore-after-${name}`);
    await failing(
      engine,
      () => engine.restores.start({ vm: 'matrix', point: 'latest', target: { kind: 'local', path: target } }, 'test'),
      'restore-entire-vm',
      name,
    );
    await assert.rejects(stat(target), { code: 'ENOENT' }, `local restore after ${name} left its target`);
  }
});

const noVcsim = vcsimUnavailable();

test('fault matrix: vSphere new location (HotAdd) and original location', { skip: noVcsim ?? false }, async () => {
  const { engine } = await engineWithVm();
  const vc = await startVcsim();
  await addSimulatorHost(engine, vc);
  await dispatch(engine, asOwner(), 'proxies.add', {
    name: 'hot',
    host: 'vc',
    transports: ['hotadd'],
    proxyVm: 'DC0_H0_VM0',
    datastorePaths: { LocalDS_0: vc.datastores.LocalDS_0 as string },
  });
  const client = await engine.hosts.connect('vc');
  const state = async () => {
    const inventory = await client.inventory();
    const proxy = inventory.vms.find((vm) => vm.name === 'DC0_H0_VM0');
    assert.ok(proxy);
    return { vms: inventory.vms.map((vm) => vm.name).sort(), proxyDisks: (await client.vmDisks(proxy.ref)).map((disk) => disk.fileName) };
  };
  const clean = await state();
  for (const { name } of EntireVmVsphereRestore.plan.steps) {
    await failing(
      engine,
      () =>
        engine.restores.start(
          {
            vm: 'matrix',
            point: 'latest',
            newName: `m-${name}`,
            target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0', transport: 'hotadd' },
          },
          'test',
        ),
      'restore-entire-vm',
      name,
    );
    assert.deepEqual(await state(), clean, `vSphere restore after ${name} left something`);
    assert.deepEqual(await readdir(join(engine.paths.home, 'staging')).catch(() => []), []);
  }
  // The original VM: restored once, then rolled back in place with a fault after each step.
  assert.equal(
    (
      await runJob(
        engine,
        await engine.restores.start(
          { vm: 'matrix', point: 'latest', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0' } },
          'test',
        ),
      )
    ).state,
    'succeeded',
  );
  const withOriginal = await state();
  for (const { name } of OriginalVmVsphereRestore.plan.steps) {
    await failing(
      engine,
      () =>
        engine.restores.start(
          {
            vm: 'matrix',
            point: 'latest',
            target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true, transport: 'hotadd' },
          },
          'test',
        ),
      'restore-entire-vm',
      name,
    );
    assert.deepEqual(await state(), withOriginal, `original-location restore after ${name}: the VM stays, the proxy keeps no disk`);
  }
  await client.logout();
  console.log(`fault matrix: ${injected} faults injected`);
});
