// The pre-flight of a restore to vSphere, on the target's inventory: which ESXi host and
// datastore take the VM, which datastore each disk goes to and whether it has room, which network
// each NIC joins, and whether the name is free. The restore job runs these before it creates
// anything, and `restore.check` runs the same functions to answer the wizard's steps.
import type { VsphereTarget } from '../../shared/domain.ts';
import type { Vmx } from '../disks/vmx.ts';
import type { DatastoreInfo, HostInfo, Inventory } from '../drivers/vsphere/vsphere-client.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import { LifeboatError } from '../errors.ts';

export type Placement = {
  datacenter: { ref: MoRef; name: string; vmFolder: MoRef };
  host: HostInfo;
  datastore: DatastoreInfo;
  pool: MoRef;
  networks: string[];
};

/** A disk of the backup as the room check sees it. */
export type DiskNeed = { key: string; capacity: number; dataBytes: number };
/** Where a disk goes, and what it takes there at the chosen format. */
export type DiskOnDatastore = { key: string; datastore: DatastoreInfo; needed: number };

/** Bytes already promised per datastore name (other VMs of one restore request). */
export type ClaimedSpace = Map<string, number>;

function namedDatastores(target: VsphereTarget): string[] {
  return [...new Set([...(target.datastore ? [target.datastore] : []), ...Object.values(target.diskDatastores ?? {})])];
}

function reachable(inventory: Inventory, host: HostInfo): DatastoreInfo[] {
  return inventory.datastores.filter((ds) => ds.accessible && host.datastores.some((ref) => ref.value === ds.ref.value));
}

/** The ESXi host (connected, the one named if any, seeing every datastore named) and the datastore of the VM's files. */
export function choosePlacement(inventory: Inventory, target: VsphereTarget): Placement {
  const hosts = inventory.hosts.filter((host) => host.connected && (!target.hostSystem || host.name === target.hostSystem));
  if (hosts.length === 0) {
    throw new LifeboatError(
      'not-found',
      target.hostSystem ? `no connected ESXi host "${target.hostSystem}" in ${target.host}` : `${target.host} has no connected ESXi host`,
    );
  }
  const named = namedDatastores(target);
  const host = hosts.find((candidate) => {
    const seen = reachable(inventory, candidate);
    return seen.length > 0 && named.every((name) => seen.some((ds) => ds.name === name));
  });
  if (!host) {
    const missing = named.find((name) => !hosts.some((candidate) => reachable(inventory, candidate).some((ds) => ds.name === name)));
    throw new LifeboatError(
      'not-found',
      named.length > 0
        ? `datastore "${missing ?? named.join('", "')}" does not exist or no chosen host can reach it`
        : 'no datastore is reachable from the chosen host',
    );
  }
  const visible = reachable(inventory, host);
  const datastore = target.datastore
    ? (visible.find((ds) => ds.name === target.datastore) as DatastoreInfo)
    : (visible.sort((a, b) => b.freeSpace - a.freeSpace)[0] as DatastoreInfo);
  const pool = inventory.computeResources.find((resource) => resource.ref.value === host.parent.value)?.resourcePool;
  if (!pool) throw new LifeboatError('not-found', `ESXi host ${host.name} has no resource pool`);
  const datacenter = inventory.datacenters[0];
  if (!datacenter) throw new LifeboatError('not-found', `${target.host} has no datacenter`);
  const networks = inventory.networks
    .filter((network) => host.networks.some((ref) => ref.value === network.ref.value))
    .map((network) => network.name);
  return { datacenter, host, datastore, pool, networks };
}

/** A rollback in place changes the VM's disks only: asking it to power on would be silently ignored. */
export function checkOriginalOptions(target: VsphereTarget): void {
  if (target.original && target.powerOn)
    throw new LifeboatError('bad-request', "power on is for a new VM; an original-location rollback leaves the VM's power state as it was");
}

/** Keeping the identity of a VM still registered on the target (found by its name or its BIOS
 * UUID) gives two VMs one UUID and MAC addresses. */
export function checkIdentityFree(inventory: Inventory, target: VsphereTarget, vm: { name: string; uuid: string | null }): void {
  if (target.identity !== 'keep' || target.original) return;
  if (inventory.vms.some((candidate) => candidate.name === vm.name || (vm.uuid !== null && candidate.uuid === vm.uuid)))
    throw new LifeboatError(
      'conflict',
      `keeping the UUID and MACs of a VM that still runs on ${target.host} gives two VMs one identity; choose a new identity`,
    );
}

/** A restore to a new VM needs its name free on the target. */
export function checkNameFree(inventory: Inventory, vmName: string, host: string): void {
  if (inventory.vms.some((vm) => vm.name === vmName))
    throw new LifeboatError('conflict', `a VM named "${vmName}" already exists in ${host}; choose another name (--name)`);
}

/** A diskDatastores key no disk has is refused: a typo must not restore the disk elsewhere than asked.
 * `keys` are the disks of every VM of the request (restore.check asks for several at once). */
export function checkDiskKeys(target: VsphereTarget, keys: string[], vms = 1): void {
  const unknown = Object.keys(target.diskDatastores ?? {}).find((key) => !keys.includes(key));
  if (unknown !== undefined)
    throw new LifeboatError(
      'bad-request',
      `diskDatastores names disk "${unknown}", which ${vms > 1 ? 'no VM of the request has (their' : 'the backup does not have (its'} disks: ${[...new Set(keys)].join(', ') || 'none'})`,
    );
}

/** A networkMap key no NIC is on is refused, as checkDiskKeys does for disks. */
export function checkNetworkKeys(target: VsphereTarget, sourceNetworks: (string | undefined)[], vms = 1): void {
  const unknown = Object.keys(target.networkMap ?? {}).find((source) => !sourceNetworks.includes(source));
  if (unknown !== undefined)
    throw new LifeboatError(
      'bad-request',
      `networkMap names network "${unknown}", which no NIC of ${vms > 1 ? 'the VMs of the request' : 'the backup'} is on (they are on: ${[...new Set(sourceNetworks.filter(Boolean))].join(', ') || 'none'})`,
    );
}

/** The target one VM of a several-VM request is checked with: only the map keys its own disks and
 * networks have (the wizard sends one map for all of them; the others' keys are theirs). A list
 * not given leaves its map as it is. */
export function ownMapsOf(target: VsphereTarget, own: { disks?: string[]; networks?: (string | undefined)[] }): VsphereTarget {
  const pick = (map: Record<string, string> | undefined, keys: (string | undefined)[] | undefined): Record<string, string> | undefined =>
    map && keys ? Object.fromEntries(Object.entries(map).filter(([key]) => keys.includes(key))) : map;
  return { ...target, diskDatastores: pick(target.diskDatastores, own.disks), networkMap: pick(target.networkMap, own.networks) };
}

/** Each disk's datastore (its entry of diskDatastores, else the VM's), without the room check. */
export function disksOnDatastores(inventory: Inventory, placement: Placement, target: VsphereTarget, disks: DiskNeed[]): DiskOnDatastore[] {
  checkDiskKeys(
    target,
    disks.map((disk) => disk.key),
  );
  const thin = (target.diskFormat ?? 'thin') === 'thin';
  const visible = reachable(inventory, placement.host);
  return disks.map((disk) => {
    const name = ownEntry(target.diskDatastores, disk.key);
    const datastore = name === undefined ? placement.datastore : visible.find((ds) => ds.name === name);
    if (!datastore)
      throw new LifeboatError('not-found', `datastore "${name}" does not exist or ESXi host ${placement.host.name} cannot reach it`);
    return { key: disk.key, datastore, needed: thin ? disk.dataBytes : disk.capacity };
  });
}

/** The room check: what the disks take, summed per datastore with what `claimed` already holds
 * there (other VMs of the same request), fits its free space. Adds this VM's share to `claimed`. */
export function checkRoom(placed: DiskOnDatastore[], thin: boolean, claimed: ClaimedSpace = new Map()): void {
  const totals = new Map<string, { datastore: DatastoreInfo; needed: number }>();
  for (const disk of placed) {
    const total = totals.get(disk.datastore.name) ?? { datastore: disk.datastore, needed: claimed.get(disk.datastore.name) ?? 0 };
    total.needed += disk.needed;
    totals.set(disk.datastore.name, total);
  }
  for (const { datastore, needed } of totals.values()) {
    if (datastore.freeSpace < needed)
      throw new LifeboatError(
        'target-full',
        `datastore ${datastore.name} has ${datastore.freeSpace} bytes free; the VM needs ${needed} (${thin ? 'thin' : 'thick'})`,
      );
  }
  for (const [name, { needed }] of totals) claimed.set(name, needed);
}

/** The networks the backup's NICs were on, by NIC number. */
export function nicNetworks(vmx: Vmx): { nic: number; network: string | undefined }[] {
  const nics: { nic: number; network: string | undefined }[] = [];
  for (let n = 0; n < 10; n++) {
    if (vmx.entries.get(`ethernet${n}.present`)?.toLowerCase() !== 'true') continue;
    nics.push({ nic: n, network: vmx.entries.get(`ethernet${n}.networkname`) });
  }
  return nics;
}

/** The network each NIC joins: its entry of networkMap; else the target's network; else the
 * same name if the host has it; else the host's first. Every map entry is checked first. */
export function networkChooser(
  placement: Placement,
  target: VsphereTarget,
  sourceNetworks: (string | undefined)[],
): (original: string | undefined) => string {
  const requested = target.network;
  if (requested && !placement.networks.includes(requested))
    throw new LifeboatError('not-found', `network "${requested}" is not available on host ${placement.host.name}`);
  const map = target.networkMap ?? {};
  checkNetworkKeys(target, sourceNetworks);
  for (const mapped of Object.values(map)) {
    if (!placement.networks.includes(mapped))
      throw new LifeboatError('not-found', `network "${mapped}" is not available on host ${placement.host.name}`);
  }
  return (original) =>
    (original !== undefined ? ownEntry(map, original) : undefined) ??
    requested ??
    (original && placement.networks.includes(original) ? original : (placement.networks[0] ?? 'VM Network'));
}

/** A record's own entry: an operator's key such as "constructor" never reaches Object's prototype. */
function ownEntry(record: Record<string, string> | undefined, key: string): string | undefined {
  return record && Object.hasOwn(record, key) ? record[key] : undefined;
}
