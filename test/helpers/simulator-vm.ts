// A VM on the simulator as an operator's would be, and changes made to it the way vCenter's
// client makes them: a local VM folder is backed up and restored into vcsim by the existing
// restore, then reconfigured (its name, memory, a disk's mode) with ReconfigVM_Task.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../../electron/engine/engine.ts';
import type { VmDisk, VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { el, xml, type MoRef } from '../../electron/drivers/vsphere/xml.ts';
import { makeVmFolder, runJob, writeMixedRaw } from './env.ts';
import { addSimulatorHost, type Vcsim } from './vcsim.ts';

/** Adds the simulator as host "vc" and restores a VM "gamma" (backed up from a folder in `dir`)
 * into it as `name` on `datastore`. Its disk is a 12 MiB mix of data and zeros made from `seed`,
 * or the raw image `disk` (a guest disk with a file system, for item-level restores); or the VM
 * is the folder `folder` already holds (gamma.vmx and its disks). */
export async function restoreIntoSimulator(
  engine: Engine,
  vc: Vcsim,
  options: { dir: string; name: string; datastore: string } & ({ seed: number } | { disk: string } | { folder: string }),
): Promise<void> {
  const source = 'folder' in options ? options.folder : join(options.dir, 'source');
  if (!('folder' in options)) {
    await mkdir(source);
    const raw = 'disk' in options ? options.disk : join(options.dir, 'disk.raw');
    if ('seed' in options) await writeMixedRaw(raw, 12, options.seed);
    await makeVmFolder(source, 'gamma', raw, 'monolithicSparse');
  }
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  await addSimulatorHost(engine, vc);
  const restore = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: options.name, target: { kind: 'vsphere', host: 'vc', datastore: options.datastore } },
      'test',
    ),
  );
  assert.equal(restore.state, 'succeeded', restore.error ?? '');
}

export async function reconfigure(client: VsphereClient, vm: MoRef, ...changes: string[]): Promise<void> {
  await client.runTask('ReconfigVM_Task', vm, [el('spec', xml(...changes))], 'reconfigure');
}

/** Edits one disk of the VM in place: its backing file and mode (vcsim then lists it last). */
export async function editDisk(
  client: VsphereClient,
  vm: MoRef,
  disk: VmDisk,
  backing: { fileName: string; diskMode: string; thin?: boolean },
): Promise<void> {
  const device = el(
    'device',
    xml(
      el('key', disk.key),
      // vcsim dereferences an edited device's deviceInfo; ESXi does not need it.
      el('deviceInfo', xml(el('label', `Hard disk ${disk.unitNumber + 1}`), el('summary', 'disk')), { 'xsi:type': 'Description' }),
      el(
        'backing',
        xml(
          el('fileName', backing.fileName),
          el('diskMode', backing.diskMode),
          ...(backing.thin === undefined ? [] : [el('thinProvisioned', backing.thin)]),
        ),
        { 'xsi:type': 'VirtualDiskFlatVer2BackingInfo' },
      ),
      el('controllerKey', disk.controllerKey),
      el('unitNumber', disk.unitNumber),
      el('capacityInKB', disk.capacity / 1024),
    ),
    { 'xsi:type': 'VirtualDisk' },
  );
  await reconfigure(client, vm, el('deviceChange', xml(el('operation', 'edit'), device)));
}

/** Puts the VM's first disk in `mode` (persistent, independent_persistent...). */
export async function setDiskMode(client: VsphereClient, vm: MoRef, mode: string): Promise<void> {
  const [disk] = await client.vmDisks(vm);
  assert.ok(disk, `VM ${vm.value} has a disk`);
  await editDisk(client, vm, disk, { fileName: disk.fileName, diskMode: mode });
}
