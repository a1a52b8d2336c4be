// A VM's configuration read from govmomi's simulator (vm-config.ts): its own VMs and one a
// restore made; the .vmx reads back to the disks and capacities the API reports and becomes the
// right ConfigSpec; a snapshot's configuration is the VM as it was; a hostile name survives; an
// independent disk blocks the backup snapshot; a point backed up from vSphere restores a VM with
// the same hardware.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseVmx } from '../../electron/disks/vmx.ts';
import { placeDisks, vmConfigSpec } from '../../electron/drivers/vsphere/config-spec.ts';
import { findVm, readVmConfig, snapshotBlocker, type VsphereVmConfig } from '../../electron/drivers/vsphere/vm-config.ts';
import type { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { el, moRefOf, type MoRef } from '../../electron/drivers/vsphere/xml.ts';
import { openEngine, runJob, tempDir } from '../helpers/env.ts';
import { reconfigure, restoreIntoSimulator, setDiskMode } from '../helpers/simulator-vm.ts';
import { startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';

const unavailable = vcsimUnavailable();
const MIB = 1024 * 1024;

type Setup = { vc: Vcsim; engine: Engine; client: VsphereClient; restored: MoRef };

/** A simulator with a VM "gamma-restored" that a restore of a local backup made. */
async function simulator(): Promise<Setup> {
  const dir = await tempDir();
  const vc = await startVcsim();
  const engine = await openEngine(join(dir, 'home'));
  await restoreIntoSimulator(engine, vc, { dir, name: 'gamma-restored', datastore: 'LocalDS_1', seed: 3 });
  const client = await engine.hosts.connect('vc');
  return { vc, engine, client, restored: await findVm(client, 'gamma-restored') };
}

/** The .vmx reads back to the configuration's name, uuid and disks, and the disks are the ones
 * (files and capacities) the API lists for the VM. */
async function checkAgainstApi(client: VsphereClient, vm: MoRef, config: VsphereVmConfig): Promise<void> {
  const vmx = parseVmx(config.vmxText, config.vmxFile);
  assert.equal(vmx.displayName, config.name);
  assert.equal(vmx.uuid, config.uuid);
  assert.deepEqual(
    vmx.disks,
    config.disks.map((disk) => ({ key: disk.key, fileName: disk.fileName })),
  );
  assert.deepEqual(
    config.disks.map((disk) => [`[${disk.datastore}] ${disk.path}`, disk.capacity, disk.deviceKey]),
    (await client.vmDisks(vm)).map((disk) => [disk.fileName, disk.capacity, disk.key]),
  );
  assert.equal(config.powerState, await client.powerState(vm));
  assert.equal(config.datacenter, 'DC0');
}

test('vm-config against the simulator', { skip: unavailable ?? false }, async (t) => {
  const { vc, engine, client, restored } = await simulator();

  await t.test("the simulator's own VMs; the .vmx becomes the right ConfigSpec; unknown names refused", async () => {
    const inventory = await client.inventory();
    const own = inventory.vms.filter((vm) => /^DC0_/.test(vm.name));
    assert.ok(own.length >= 2, 'vcsim models VMs');
    for (const { name, ref } of own) {
      assert.deepEqual(await findVm(client, name), ref);
      const config = await readVmConfig(client, ref);
      assert.equal(config.name, name);
      assert.equal(config.vmxFile, `${name}.vmx`);
      await checkAgainstApi(client, ref, config);
      assert.equal(snapshotBlocker(config), null);

      const vmx = parseVmx(config.vmxText, config.vmxFile);
      const networks: (string | undefined)[] = [];
      const spec = vmConfigSpec(vmx, placeDisks(config.disks, 'copy'), {
        name: 'copy',
        datastore: 'LocalDS_0',
        thin: true,
        network: (original) => {
          networks.push(original);
          return 'VM Network';
        },
        annotation: '',
      });
      // vcsim's model: 1 CPU, 32 MB, a pvscsi controller, an E1000 on the distributed port group.
      for (const expected of ['<numCPUs>1</numCPUs>', '<memoryMB>32</memoryMB>', 'ParaVirtualSCSIController', 'xsi:type="VirtualE1000"'])
        assert.ok(spec.includes(expected), `${name}: ConfigSpec has ${expected}`);
      assert.deepEqual(networks, ['DC0_DVPG0']);
    }
    await assert.rejects(findVm(client, 'no such VM'), { code: 'not-found', message: /no VM named "no such VM" on 127\.0\.0\.1/ });
    // vcsim lets a reconfiguration give a VM on another host a name already taken.
    const [first, second] = own as [(typeof own)[number], (typeof own)[number]];
    await reconfigure(client, second.ref, el('name', first.name));
    await assert.rejects(findVm(client, first.name), {
      code: 'conflict',
      message: new RegExp(`2 VMs are named "${first.name}" on .*\\[LocalDS_0\\] ${first.name}/${first.name}\\.vmx on DC0_H0; .* on DC0_`),
    });
    await reconfigure(client, second.ref, el('name', second.name));
  });

  await t.test("a restored VM; a snapshot's configuration is the VM as it was at the snapshot", async () => {
    const live = await readVmConfig(client, restored);
    await checkAgainstApi(client, restored, live);
    assert.deepEqual(
      live.disks.map((disk) => [disk.key, disk.datastore, disk.path, disk.fileName, disk.capacity, disk.diskMode, disk.rdm]),
      [['scsi0:0', 'LocalDS_1', 'gamma-restored/gamma-restored.vmdk', 'gamma-restored.vmdk', 12 * MIB, 'persistent', null]],
    );
    assert.ok((await stat(join(vc.datastores.LocalDS_1 as string, 'gamma-restored', 'gamma-restored.vmdk'))).isFile());
    const vmx = parseVmx(live.vmxText, live.vmxFile);
    assert.equal(vmx.entries.get('memsize'), '2048');
    assert.equal(vmx.entries.get('numvcpus'), '2');
    assert.equal(vmx.entries.get('guestos'), 'debian12-64');
    const restoredSnapshots = live.snapshotCount;

    const snapshot = moRefOf(
      await client.runTask(
        'CreateSnapshot_Task',
        restored,
        [el('name', 'vm-config test'), el('memory', false), el('quiesce', false)],
        'snapshot gamma-restored',
      ),
    );
    await reconfigure(client, restored, el('name', 'gamma-changed'), el('memoryMB', 4096));
    const changed = await readVmConfig(client, restored);
    assert.equal(changed.name, 'gamma-changed');
    assert.equal(parseVmx(changed.vmxText, 'changed').entries.get('memsize'), '4096');
    assert.equal(changed.snapshotCount, restoredSnapshots + 1);

    const frozen = await readVmConfig(client, restored, snapshot);
    assert.equal(frozen.name, 'gamma-restored');
    assert.equal(parseVmx(frozen.vmxText, 'frozen').entries.get('memsize'), '2048');
    assert.deepEqual(
      frozen.disks.map((disk) => [disk.key, disk.datastore, disk.path, disk.capacity]),
      live.disks.map((disk) => [disk.key, disk.datastore, disk.path, disk.capacity]),
    );
    const other = await findVm(client, 'DC0_H0_VM0');
    await assert.rejects(readVmConfig(client, other, snapshot), { code: 'not-found', message: /is not a snapshot of VM "DC0_H0_VM0"/ });
    await assert.rejects(readVmConfig(client, restored, { type: 'VirtualMachineSnapshot', value: 'snapshot-404' }), {
      code: 'not-found',
      message: /^snapshot snapshot-404 of VM "gamma-changed" no longer exists on 127\.0\.0\.1:\d+$/,
    });
    await assert.rejects(readVmConfig(client, { type: 'VirtualMachine', value: 'vm-404' }), {
      code: 'not-found',
      message: /^VM vm-404 no longer exists on 127\.0\.0\.1:\d+$/,
    });
    await reconfigure(client, restored, el('name', 'gamma-restored'), el('memoryMB', 2048));
  });

  await t.test('its .vmx in a point backed up from vSphere restores a VM with the same hardware', async () => {
    const backup = await runJob(
      engine,
      await engine.backups.startFromVsphere({ host: 'vc', vm: 'gamma-restored', transport: 'nbd', quiesce: false }, 'test'),
    );
    assert.equal(backup.state, 'succeeded', backup.error ?? '');
    const restore = await runJob(
      engine,
      await engine.restores.start(
        { vm: 'gamma-restored', point: 'latest', newName: 'gamma-again', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0' } },
        'test',
      ),
    );
    assert.equal(restore.state, 'succeeded', restore.error ?? '');
    const hardware = async (vm: MoRef) => {
      const config = await readVmConfig(client, vm);
      const entries = parseVmx(config.vmxText, config.vmxFile).entries;
      const keys = ['memsize', 'numvcpus', 'guestos', 'scsi0.virtualdev', 'ethernet0.virtualdev', 'ethernet0.present'];
      return { ...Object.fromEntries(keys.map((key) => [key, entries.get(key)])), capacities: config.disks.map((disk) => disk.capacity) };
    };
    const expected = {
      memsize: '2048',
      numvcpus: '2',
      guestos: 'debian12-64',
      'scsi0.virtualdev': 'pvscsi',
      'ethernet0.virtualdev': 'vmxnet3',
      'ethernet0.present': 'TRUE',
      capacities: [12 * MIB],
    };
    assert.deepEqual(await hardware(restored), expected);
    assert.deepEqual(await hardware(await findVm(client, 'gamma-again')), expected);
  });

  await t.test('a hostile VM name round-trips; an independent disk blocks the backup snapshot', async () => {
    const hostile = 'q"uo|te |22 #1\nline\ttab = é 😀 \\ /';
    await reconfigure(client, restored, el('name', hostile));
    assert.deepEqual(await findVm(client, hostile), restored);
    const named = await readVmConfig(client, restored);
    assert.equal(named.name, hostile);
    assert.equal(parseVmx(named.vmxText, 'hostile').displayName, hostile);
    await checkAgainstApi(client, restored, named);

    await setDiskMode(client, restored, 'independent_persistent');
    const independent = await readVmConfig(client, restored);
    assert.equal(independent.disks[0]?.diskMode, 'independent_persistent');
    assert.match(
      snapshotBlocker(independent) ?? '',
      /^disk scsi0:0 \(\[LocalDS_1\] gamma-restored\/gamma-restored\.vmdk\) of VM ".*" is independent_persistent: snapshots leave independent disks out/s,
    );
    assert.match(parseVmx(independent.vmxText, 'independent').entries.get('scsi0:0.mode') ?? '', /^independent-persistent$/);
  });
});
