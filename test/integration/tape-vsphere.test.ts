// From tape to vSphere (govmomi's simulator): the backup restore job stages the copy from tape,
// the VM restore job creates and registers the VM on the host from it, and the staging goes.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { qemuImg, runJob } from '../helpers/env.ts';
import { tapeLab } from '../helpers/tape.ts';
import { addSimulatorHost, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';

const unavailable = vcsimUnavailable();
const vc: Vcsim | null = unavailable ? null : await startVcsim();

test('a VM comes back from tape onto a vSphere host through a staging repository', { skip: unavailable ?? false }, async () => {
  const host = vc as Vcsim;
  const { engine, home, vms } = await tapeLab({ vms: 1, diskMib: 12, tapeMib: 64 });
  await addSimulatorHost(engine, host);
  const vm = vms[0] as (typeof vms)[number];
  await assert.rejects(
    engine.tape.startRestore({ vms: [vm.name], point: 'latest', target: { kind: 'vsphere', host: 'nope' } }, 'test'),
    /no host "nope"/,
  );
  await assert.rejects(
    engine.tape.startRestore({ vms: [vm.name], point: 'latest', target: { kind: 'vsphere', host: 'vc', original: true } }, 'test'),
    /confirm it/,
  );
  // Under the four-eyes rule an original-location restore from tape waits for a second operator too.
  engine.catalog.updateSettings({ fourEyes: true });
  const original = await engine.tape.startRestore(
    { vms: [vm.name], point: 'latest', target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true } },
    'alice',
  );
  const held = original.jobs.find((job) => job.kind === 'tape-restore');
  assert.deepEqual([held?.state, held?.waitingFor], ['waiting-for-operator', 'approval']);
  for (const job of original.jobs) engine.jobs.cancel(job.id);
  await Promise.all(original.jobs.map((job) => runJob(engine, job)));
  engine.catalog.updateSettings({ fourEyes: false });
  const { jobs } = await engine.tape.startRestore(
    { vms: [vm.name], point: 'latest', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_1' } },
    'test',
  );
  assert.deepEqual(
    jobs.map((job) => job.kind),
    ['tape-stage', 'tape-restore'],
    'vSphere goes through staging',
  );
  const [stage, restore] = await Promise.all(jobs.map((job) => runJob(engine, job)));
  assert.equal(stage?.state, 'succeeded', stage?.error ?? '');
  assert.equal(restore?.state, 'succeeded', restore?.error ?? '');
  assert.deepEqual(
    restore?.steps.map((step) => step.name),
    ['wait-for-staging', 'initialize', 'restore-configuration', 'create-snapshot', 'transfer-disks', 'commit-snapshot', 'finalize'],
  );
  assert.ok((await engine.hosts.inventory('vc')).vms.includes(vm.name), 'the VM is registered on the host');
  assert.match(
    qemuImg('compare', '-f', 'raw', '-F', 'vmdk', vm.raw, join(host.datastores.LocalDS_1 as string, vm.name, `${vm.name}.vmdk`)),
    /identical/,
  );
  assert.deepEqual(
    await readdir(join(home, 'staging')).then((names) => names.filter((name) => name.startsWith('lifeboat-tape-staging'))),
    [],
    'the staging copy is gone',
  );
});
