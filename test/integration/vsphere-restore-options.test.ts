// The restore wizard's options and per-step checks against govmomi's simulator: a VM of two disks
// and two NICs restored with a datastore per disk, a network map, a new identity and power-on
// lands as asked; restore.check names what the job would refuse (missing or over-full datastores,
// unknown networks and disks, a name taken, a kept identity of a VM still there, an unreachable
// host) as problems of the step, never as a thrown error.
import assert from 'node:assert/strict';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RestoreCheck } from '../../shared/domain.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { vmxText } from '../../electron/lab/create-lab.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import type { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { textOf } from '../../electron/drivers/vsphere/xml.ts';
import { asOwner } from '../helpers/owner.ts';
import { openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { addSimulatorHost, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';

const unavailable = vcsimUnavailable();
const skip = unavailable ?? false;
const KEPT_MAC = '00:50:56:01:02:03';
const BIOS_UUID = '56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc dd';

let engine: Engine;
let vc: Vcsim;
let dir: string;

/** A VM folder of raw disks turned into sparse VMDKs, with NICs on the networks given. */
async function vmFolder(name: string, disks: { mib: number; capacity?: number }[], nics: string[]): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder);
  const files: string[] = [];
  for (const [index, disk] of disks.entries()) {
    const raw = join(dir, `${name}-${index}.raw`);
    await writeMixedRaw(raw, disk.mib, index + 1);
    if (disk.capacity) await truncate(raw, disk.capacity);
    const file = `${name}_${index}.vmdk`;
    qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', raw, join(folder, file));
    files.push(file);
  }
  const nicLines = nics.flatMap((network, n) => [
    `ethernet${n}.present = "TRUE"`,
    `ethernet${n}.networkName = "${network}"`,
    `ethernet${n}.virtualDev = "vmxnet3"`,
    `ethernet${n}.addressType = "static"`,
    `ethernet${n}.address = "${KEPT_MAC.slice(0, -1)}${n + 3}"`,
  ]);
  const base = vmxText(name, files, BIOS_UUID)
    .split('\n')
    .filter((line) => !line.startsWith('ethernet0.'));
  await writeFile(join(folder, `${name}.vmx`), [...base, ...nicLines, ''].join('\n'));
  return folder;
}

async function check(request: Record<string, unknown>): Promise<RestoreCheck> {
  return (await dispatch(engine, asOwner(), 'restore.check', request)) as RestoreCheck;
}

function messages(result: RestoreCheck): string[] {
  return result.problems.map((problem) => `${problem.step}/${problem.field}: ${problem.message}`);
}

async function setUp(): Promise<void> {
  dir = await tempDir();
  vc = await startVcsim();
  engine = await openEngine(join(dir, 'home'));
  await addSimulatorHost(engine, vc);
  const delta = await vmFolder('delta', [{ mib: 6 }, { mib: 4 }], ['VM Network', 'VM Network']);
  assert.equal((await runJob(engine, await engine.backups.start(delta, 'test'))).state, 'succeeded');
  // Two VMs whose thick disks each fit a datastore alone, and not together.
  const free = (await engine.hosts.inventory('vc')).datastores.find((datastore) => datastore.name === 'LocalDS_0')?.freeSpace ?? 0;
  const capacity = Math.ceil((free * 0.6) / (1024 * 1024)) * 1024 * 1024;
  for (const name of ['huge1', 'huge2']) {
    const folder = await vmFolder(name, [{ mib: 1, capacity }], ['VM Network']);
    assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');
  }
}

// Set up once at the file's level: what the helpers stop after the file then lives through every test.
if (!unavailable) await setUp();

test('restore.check: datastores that are missing, unknown disks, and over-full datastores summed across VMs', { skip }, async () => {
  const vms = [
    { vm: 'huge1', point: 'latest' },
    { vm: 'huge2', point: 'latest' },
  ];
  const thick = { kind: 'vsphere', host: 'vc', diskFormat: 'thick' };
  const together = await check({ step: 'datastores', vms, target: { ...thick, datastore: 'LocalDS_0' } });
  assert.equal(together.problems.length, 1, messages(together).join('\n'));
  assert.deepEqual(
    { step: together.problems[0]?.step, vm: together.problems[0]?.vm, field: together.problems[0]?.field },
    { step: 'datastores', vm: 'huge2', field: 'target.diskDatastores' },
  );
  assert.match(together.problems[0]?.message ?? '', /datastore LocalDS_0 has \d+ bytes free; the VM needs \d+ \(thick\)/);
  assert.equal(together.vms[0]?.disks[0]?.datastore, 'LocalDS_0');
  assert.ok((together.vms[0]?.disks[0]?.freeSpace ?? 0) > 0);

  // diskDatastores names disks by key for every VM of the request; alone, one of them fits.
  assert.deepEqual(messages(await check({ step: 'datastores', vms: [vms[0]], target: { ...thick, datastore: 'LocalDS_0' } })), []);
  const spread = await check({ step: 'summary', vms: [vms[0]], target: { ...thick, diskDatastores: { 'scsi0:0': 'LocalDS_1' } } });
  assert.deepEqual(messages(spread), []);
  assert.equal(spread.vms[0]?.disks[0]?.datastore, 'LocalDS_1');
  // Thin, only the data counts: both fit one datastore.
  assert.deepEqual(messages(await check({ step: 'datastores', vms, target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0' } })), []);

  const missing = await check({ step: 'datastores', vms: [vms[0]], target: { ...thick, diskDatastores: { 'scsi0:0': '../../etc' } } });
  assert.match(messages(missing).join('\n'), /datastores\/target\.diskDatastores: datastore "\.\.\/\.\.\/etc" does not exist/);
  const unknownDisk = await check({
    step: 'datastores',
    vms: [vms[0]],
    target: { kind: 'vsphere', host: 'vc', diskDatastores: { constructor: 'LocalDS_0' } },
  });
  assert.match(
    messages(unknownDisk).join('\n'),
    /diskDatastores names disk "constructor", which the backup does not have \(its disks: scsi0:0\)/,
  );
});

test('restore.check: networks, names and steps in order; a host that does not answer is a problem', { skip }, async () => {
  const vms = [{ vm: 'delta', point: 'latest', newName: 'delta-x' }];
  const badNetwork = await check({
    step: 'network',
    vms,
    target: { kind: 'vsphere', host: 'vc', networkMap: { 'VM Network': 'Nowhere' } },
  });
  assert.match(messages(badNetwork).join('\n'), /network\/target\.networkMap: network "Nowhere" is not available on host /);
  const notANic = await check({ step: 'network', vms, target: { kind: 'vsphere', host: 'vc', networkMap: { toString: 'VM Network' } } });
  assert.match(messages(notANic).join('\n'), /networkMap names network "toString", which no NIC of the backup is on/);
  // A step is checked only when the operator got there: the network is not looked at for 'target'.
  assert.deepEqual(
    messages(await check({ step: 'target', vms, target: { kind: 'vsphere', host: 'vc', networkMap: { 'VM Network': 'Nowhere' } } })),
    [],
  );
  const good = await check({ step: 'network', vms, target: { kind: 'vsphere', host: 'vc' } });
  assert.deepEqual(good.vms[0]?.networks, [
    { source: 'VM Network', target: 'VM Network' },
    { source: 'VM Network', target: 'VM Network' },
  ]);
  const taken = await check({
    step: 'mode',
    vms: [{ vm: 'delta', point: 'latest', newName: 'DC0_H0_VM0' }],
    target: { kind: 'vsphere', host: 'vc' },
  });
  assert.match(messages(taken).join('\n'), /mode\/vms\.newName: a VM named "DC0_H0_VM0" already exists in vc/);
  const unknownHost = await check({ step: 'summary', vms, target: { kind: 'vsphere', host: 'elsewhere' } });
  assert.match(messages(unknownHost).join('\n'), /mode\/target\.host: no host "elsewhere" in the catalog/);

  // A host whose vCenter is gone: added while it answered, asked after it stopped.
  const gone = await startVcsim();
  await dispatch(engine, asOwner(), 'hosts.add', {
    kind: 'vsphere',
    name: 'gone',
    url: gone.url,
    user: gone.user,
    password: gone.password,
    insecure: true,
  });
  await gone.stop();
  const unreachable = await check({ step: 'target', vms, target: { kind: 'vsphere', host: 'gone' } });
  assert.equal(unreachable.problems.length, 1, messages(unreachable).join('\n'));
  assert.equal(unreachable.problems[0]?.field, 'target.host');
  assert.equal(unreachable.vms[0]?.vmName, 'delta', 'the plan is filled as far as the checks got');
});

test('restore.check of several VMs: a map key applies to the VMs that have it; a key no VM has is a problem', { skip }, async () => {
  const inventory = await engine.hosts.inventory('vc');
  const hostSystem = inventory.hostSystems.find((host) => host.connected && host.datastores.includes('LocalDS_1'));
  assert.ok(hostSystem);
  const vms = [
    { vm: 'delta', point: 'latest', newName: 'delta-multi' },
    { vm: 'huge1', point: 'latest', newName: 'huge1-multi' },
  ];
  // scsi0:1 is a disk of delta only: huge1 (one disk) is not blocked by it.
  const target = { kind: 'vsphere', host: 'vc', hostSystem: hostSystem.name, diskDatastores: { 'scsi0:1': 'LocalDS_1' } };
  const both = await check({ step: 'summary', vms, target });
  assert.deepEqual(messages(both), []);
  assert.deepEqual(
    both.vms.map((vm) => vm.disks.map((disk) => [disk.key, disk.datastore])),
    [
      [
        ['scsi0:0', both.vms[0]?.disks[0]?.datastore],
        ['scsi0:1', 'LocalDS_1'],
      ],
      [['scsi0:0', both.vms[1]?.disks[0]?.datastore]],
    ],
  );
  assert.notEqual(both.vms[1]?.disks[0]?.datastore, null);
  const typo = await check({ step: 'network', vms, target: { ...target, diskDatastores: { 'scsi9:9': 'LocalDS_1' } } });
  assert.match(
    messages(typo).join('\n'),
    /datastores\/target\.diskDatastores: diskDatastores names disk "scsi9:9", which no VM of the request has/,
  );
  const network = await check({ step: 'network', vms, target: { ...target, networkMap: { Elsewhere: 'VM Network' } } });
  assert.match(messages(network).join('\n'), /network\/target\.networkMap: networkMap names network "Elsewhere", which no NIC of the VMs/);

  // One VM's job still refuses a key its backup does not have: a typo on the CLI fails before anything is made.
  const { job } = (await dispatch(engine, asOwner(), 'restore.entireVm', {
    vm: 'huge1',
    point: 'latest',
    newName: 'huge1-typo',
    target,
  })) as {
    job: { id: string };
  };
  const ended = await engine.jobs.whenEnded(job.id);
  assert.equal(ended.state, 'failed');
  assert.match(ended.error ?? '', /diskDatastores names disk "scsi0:1", which the backup does not have \(its disks: scsi0:0\)/);
});

test('power on with an original-location rollback is refused by the check and by the job', { skip }, async () => {
  const target = { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true, powerOn: true };
  const checked = await check({ step: 'mode', vms: [{ vm: 'delta', point: 'latest' }], target });
  assert.ok(
    messages(checked).includes(
      "mode/target.powerOn: power on is for a new VM; an original-location rollback leaves the VM's power state as it was",
    ),
    messages(checked).join('\n'),
  );
  await assert.rejects(dispatch(engine, asOwner(), 'restore.entireVm', { vm: 'delta', point: 'latest', target }), (error: Error) => {
    assert.match(error.message, /power on is for a new VM; an original-location rollback leaves the VM's power state as it was/);
    return true;
  });
});

test(
  'restore to vSphere: a datastore per disk, a network map, a new identity, powered on; then a kept identity is a problem',
  { skip },
  async () => {
    const inventory = await engine.hosts.inventory('vc');
    const hostSystem = inventory.hostSystems.find((host) => host.connected && host.datastores.includes('LocalDS_1'));
    assert.ok(hostSystem);
    const mapped = hostSystem.networks.find((network) => network !== 'VM Network') ?? 'VM Network';
    const target = {
      kind: 'vsphere' as const,
      host: 'vc',
      hostSystem: hostSystem.name,
      diskDatastores: { 'scsi0:0': 'LocalDS_0', 'scsi0:1': 'LocalDS_1' },
      networkMap: { 'VM Network': mapped },
      identity: 'new' as const,
      powerOn: true,
    };
    const checked = await check({ step: 'summary', vms: [{ vm: 'delta', point: 'latest' }], target, reason: 'ticket 42' });
    assert.deepEqual(messages(checked), []);
    const plan = checked.vms[0];
    assert.ok(plan);
    assert.deepEqual(
      plan.disks.map((disk) => [disk.key, disk.datastore]),
      [
        ['scsi0:0', 'LocalDS_0'],
        ['scsi0:1', 'LocalDS_1'],
      ],
    );
    assert.ok(plan.bytes > 0);
    assert.match(plan.copy, /primary repository/);
    assert.deepEqual(plan.replaces, []);

    const { job } = (await dispatch(engine, asOwner(), 'restore.entireVm', {
      vm: 'delta',
      point: 'latest',
      target,
      reason: 'ticket 42',
    })) as {
      job: { id: string };
    };
    const ended = await engine.jobs.whenEnded(job.id);
    assert.equal(ended.state, 'succeeded', ended.error ?? '');
    assert.equal(engine.catalog.jobEvents(job.id)[0]?.message, 'reason: ticket 42');
    assert.ok(
      engine.catalog.auditEntries().some((entry) => entry.action === 'restore.entireVm' && entry.details.includes('"reason":"ticket 42"')),
    );
    const result = ended.result as { vm: string; poweredOn: boolean; disks: string[] };
    assert.equal(result.poweredOn, true);

    const client: VsphereClient = await engine.hosts.connect('vc');
    try {
      const vm = { type: 'VirtualMachine', value: result.vm };
      const disks = await client.vmDisks(vm);
      assert.deepEqual(disks.map((disk) => disk.fileName).sort(), ['[LocalDS_0] delta/delta.vmdk', '[LocalDS_1] delta/delta_1.vmdk']);
      assert.equal(await client.powerState(vm), 'poweredOn');
      const [content] = await client.retrieve('VirtualMachine', ['config.uuid', 'config.hardware.device'], [vm]);
      assert.notEqual(textOf(content?.props['config.uuid']), '564d0011-2233-4455-6677-8899aabbccdd');
      const devices = (content?.props['config.hardware.device'] as { VirtualDevice: Record<string, unknown>[] }).VirtualDevice;
      const nics = devices.filter((device) => device['@_type'] === 'VirtualVmxnet3');
      assert.equal(nics.length, 2);
      for (const nic of nics) {
        assert.equal((nic.backing as { deviceName: string }).deviceName, mapped);
        assert.ok(!textOf(nic.macAddress).startsWith(KEPT_MAC.slice(0, -1)), `a new MAC, not ${textOf(nic.macAddress)}`);
      }
    } finally {
      await client.logout();
    }

    // delta is registered now: keeping its identity in a copy beside it is refused by the check.
    const kept = await check({
      step: 'identity',
      vms: [{ vm: 'delta', point: 'latest', newName: 'delta-twin' }],
      target: { kind: 'vsphere', host: 'vc', identity: 'keep' },
    });
    assert.match(
      messages(kept).join('\n'),
      /identity\/target\.identity: keeping the UUID and MACs of a VM that still runs on vc gives two VMs one identity/,
    );
    // An original-location check names what would be rolled back.
    const original = await check({
      step: 'summary',
      vms: [{ vm: 'delta', point: 'latest' }],
      target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true },
    });
    assert.deepEqual(messages(original), []);
    assert.equal(original.vms[0]?.replaces.length, 2);
    assert.match(original.vms[0]?.replaces[0] ?? '', /disk scsi0:0 of delta \(\[LocalDS_0\] delta\/delta\.vmdk\)/);
  },
);

test(
  'identity keep: refused while the VM is on the host (by name or BIOS UUID); else the backed-up UUID and the MACs vSphere takes',
  { skip },
  async () => {
    // delta is registered (restored above): the job refuses to keep its identity, before it makes anything.
    const twin = (await dispatch(engine, asOwner(), 'restore.entireVm', {
      vm: 'delta',
      point: 'latest',
      newName: 'delta-kept',
      target: { kind: 'vsphere', host: 'vc', identity: 'keep' },
    })) as { job: { id: string } };
    const refused = await engine.jobs.whenEnded(twin.job.id);
    assert.equal(refused.state, 'failed');
    assert.match(refused.error ?? '', /keeping the UUID and MACs of a VM that still runs on vc gives two VMs one identity/);

    // NIC 0 generated in vSphere's manual range (kept), NIC 1 generated by another platform (vSphere makes a new one).
    const folder = await vmFolder('echo', [{ mib: 2 }], ['VM Network', 'VM Network']);
    const vmxPath = join(folder, 'echo.vmx');
    const text = (await readFile(vmxPath, 'utf8'))
      .replace('ethernet0.addressType = "static"', 'ethernet0.addressType = "generated"')
      .replace('ethernet0.address = ', 'ethernet0.generatedAddress = ')
      .replace('ethernet1.addressType = "static"', 'ethernet1.addressType = "generated"')
      .replace(/ethernet1\.address = ".*"/, 'ethernet1.generatedAddress = "00:0c:29:aa:bb:cc"');
    await writeFile(vmxPath, text);
    assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');
    const { job } = (await dispatch(engine, asOwner(), 'restore.entireVm', {
      vm: 'echo',
      point: 'latest',
      newName: 'echo-kept',
      target: { kind: 'vsphere', host: 'vc', identity: 'keep' },
    })) as { job: { id: string } };
    const ended = await engine.jobs.whenEnded(job.id);
    assert.equal(ended.state, 'succeeded', ended.error ?? '');
    assert.ok(
      engine.catalog
        .jobEvents(job.id)
        .some((event) => /NIC 1: its MAC 00:0c:29:aa:bb:cc .* outside vSphere's manual range/.test(event.message)),
    );
    const client = await engine.hosts.connect('vc');
    try {
      const vm = { type: 'VirtualMachine', value: (ended.result as { vm: string }).vm };
      const [content] = await client.retrieve('VirtualMachine', ['config.uuid', 'config.hardware.device', 'runtime.powerState'], [vm]);
      assert.equal(textOf(content?.props['config.uuid']), '564d0011-2233-4455-6677-8899aabbccdd');
      assert.equal(textOf(content?.props['runtime.powerState']), 'poweredOff', 'not powered on unless asked');
      const devices = (content?.props['config.hardware.device'] as { VirtualDevice: Record<string, unknown>[] }).VirtualDevice;
      const macs = devices.filter((device) => device['@_type'] === 'VirtualVmxnet3').map((nic) => textOf(nic.macAddress));
      assert.equal(macs[0], '00:50:56:01:02:03');
      assert.notEqual(macs[1], '00:0c:29:aa:bb:cc');
    } finally {
      await client.logout();
    }

    // huge2 has another name and echo-kept's BIOS UUID: the check finds the twin by its UUID.
    const byUuid = await check({
      step: 'identity',
      vms: [{ vm: 'huge2', point: 'latest' }],
      target: { kind: 'vsphere', host: 'vc', identity: 'keep' },
    });
    assert.match(messages(byUuid).join('\n'), /identity\/target\.identity: keeping the UUID and MACs of a VM that still runs on vc/);
  },
);

test(
  "a proxy that cannot see a disk's datastore: auto restores over NBD, HotAdd by name is refused before any VM is made",
  { skip },
  async () => {
    await dispatch(engine, asOwner(), 'proxies.add', {
      name: 'hot',
      host: 'vc',
      transports: ['hotadd'],
      proxyVm: 'DC0_H0_VM0',
      datastorePaths: { LocalDS_0: vc.datastores.LocalDS_0 as string },
    });
    const inventory = await engine.hosts.inventory('vc');
    const hostSystem = inventory.hostSystems.find((host) => host.connected && host.datastores.includes('LocalDS_1'));
    assert.ok(hostSystem);
    const target = {
      kind: 'vsphere' as const,
      host: 'vc',
      hostSystem: hostSystem.name,
      datastore: 'LocalDS_0',
      diskDatastores: { 'scsi0:1': 'LocalDS_1' },
      identity: 'new' as const,
    };
    const restore = async (newName: string, transport: 'auto' | 'hotadd') => {
      const { job } = (await dispatch(engine, asOwner(), 'restore.entireVm', {
        vm: 'delta',
        point: 'latest',
        newName,
        target: { ...target, transport },
      })) as { job: { id: string } };
      return { id: job.id, ended: await engine.jobs.whenEnded(job.id) };
    };
    const checked = await check({
      step: 'datastores',
      vms: [{ vm: 'delta', point: 'latest', newName: 'delta-hotadd' }],
      target: { ...target, transport: 'hotadd' },
    });
    assert.match(
      messages(checked).join('\n'),
      /datastores\/target\.diskDatastores: transport HotAdd cannot be used: .*proxy hot cannot see datastore LocalDS_1/,
    );
    const named = await restore('delta-hotadd', 'hotadd');
    assert.equal(named.ended.state, 'failed');
    assert.match(named.ended.error ?? '', /transport HotAdd cannot be used: .*proxy hot cannot see datastore LocalDS_1/);
    assert.ok(!(await engine.hosts.inventory('vc')).vms.includes('delta-hotadd'), 'no VM was made');
    const auto = await restore('delta-auto', 'auto');
    assert.equal(auto.ended.state, 'succeeded', auto.ended.error ?? '');
    const log = engine.catalog.jobEvents(auto.id).map((event) => event.message);
    assert.ok(
      log.some((line) => /transport passed over — HotAdd: proxy hot cannot see datastore LocalDS_1/.test(line)),
      log.join('\n'),
    );
    assert.ok(log.some((line) => line.startsWith('transport: network (NBD)')));
  },
);
