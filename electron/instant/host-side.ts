// What an Instant Recovery session does on the host, each step safe to repeat: find where to
// run, and take the VM and the NFS datastore away again. Start failures, stop, migration and
// the clean-up after an engine restart all use these.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostInfo, Inventory, VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { findVmByPath, powerOff, unmountNasDatastore, unregisterVm } from '../drivers/vsphere/nas-datastore.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import { LifeboatError } from '../errors.ts';
import type { InstantRecord } from '../catalog/instant-catalog.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';

export type HostPlace = { host: HostInfo; vmFolder: MoRef; pool: MoRef };

/** The connected ESXi host asked for (or the first one), its datacenter's VM folder and pool. */
export function placeOnHost(inventory: Inventory, hostName: string, hostSystem: string | undefined): HostPlace {
  const host = inventory.hosts.find((candidate) => candidate.connected && (!hostSystem || candidate.name === hostSystem));
  if (!host)
    throw new LifeboatError(
      'not-found',
      hostSystem ? `no connected ESXi host "${hostSystem}" in ${hostName}` : `${hostName} has no connected ESXi host`,
    );
  const pool = inventory.computeResources.find((resource) => resource.ref.value === host.parent.value)?.resourcePool;
  if (!pool) throw new LifeboatError('not-found', `ESXi host ${host.name} has no resource pool`);
  const datacenter = inventory.datacenters[0];
  if (!datacenter) throw new LifeboatError('not-found', `${hostName} has no datacenter`);
  return { host, vmFolder: datacenter.vmFolder, pool };
}

/** "[datastore] folder/vm.vmx" of the session's VM: the .vmx in its VM folder on the datastore. */
export async function vmxPathOf(record: Pick<InstantRecord, 'datastore' | 'exportFolder' | 'vmName' | 'vmFolder'>): Promise<string> {
  const folder = record.vmFolder ?? escapeGuestName(record.vmName).name; // as openBackupVolume names it
  const names = await readdir(join(record.exportFolder, folder)).catch(() => [] as string[]);
  return `[${record.datastore}] ${folder}/${names.find((name) => name.toLowerCase().endsWith('.vmx')) ?? `${record.vmName}.vmx`}`;
}

/** Powers the session's VM off, if it is registered and running. */
export async function powerOffSessionVm(client: VsphereClient, vmxPath: string, name: string): Promise<boolean> {
  const vm = await findVmByPath(client, vmxPath);
  if (!vm) return false;
  await powerOff(client, vm, name);
  return true;
}

/** Removes the session's VM from the inventory (its files are the export's). */
export async function unregisterSessionVm(client: VsphereClient, vmxPath: string): Promise<boolean> {
  const vm = await findVmByPath(client, vmxPath);
  if (!vm) return false;
  await unregisterVm(client, vm);
  return true;
}

/** Unmounts the session's NFS datastore from the host that has it. */
export async function unmapDatastore(client: VsphereClient, datastore: string): Promise<boolean> {
  const inventory = await client.inventory();
  const found = inventory.datastores.find((candidate) => candidate.name === datastore);
  if (!found) return false;
  const host = inventory.hosts.find((candidate) => candidate.datastores.some((ref) => ref.value === found.ref.value));
  if (!host) throw new LifeboatError('unavailable', `datastore ${datastore} is mounted on no host Lifeboat can see`);
  await unmountNasDatastore(client, host.ref, found.ref);
  return true;
}
