// A VM's configuration read from the vSphere API, live or as it was at one of its snapshots:
// the disks to read (datastore, path, capacity, mode, CBT change id), a .vmx Lifeboat restores
// from, and what stands in the way of a backup snapshot.
import { LifeboatError } from '../../errors.ts';
import { VsphereFault } from './soap-client.ts';
import { devicesOf, isNode, nodeOf, wholeNumber, type VmDiskDevice } from './vm-devices.ts';
import type { VsphereClient } from './vsphere-client.ts';
import { vmxTextOf } from './vmx-text.ts';
import { asArray, moRefOf, textOf, type MoRef } from './xml.ts';

export type VsphereVmDisk = {
  key: string /* vmx device key, "scsi0:1" */;
  deviceKey: number;
  datastore: string;
  path: string /* descriptor path inside the datastore */;
  fileName: string /* unique base name for the manifest, "web01_1.vmdk" */;
  capacity: number;
  thin: boolean;
  diskMode: string /* persistent, independent_persistent, ... */;
  changeId: string | null;
  rdm: 'physical' | 'virtual' | null;
};
export type VsphereVmConfig = {
  ref: MoRef;
  name: string;
  uuid: string | null /* bios uuid */;
  vmxFile: string;
  vmxText: string;
  disks: VsphereVmDisk[];
  changeTracking: boolean;
  snapshotCount: number;
  encryptionKeyId: string | null;
  powerState: string;
  datacenter: string;
};

/** What the property collector answered about a VM (parsed XML, as VsphereClient.retrieve
 * returns it): its config (or a snapshot's), its snapshot tree, its power state. */
export type VmAnswers = {
  ref: MoRef;
  config: unknown;
  snapshot: unknown;
  powerState: unknown;
  datacenter: string;
  /** Distributed port group keys to their names, for NICs on a distributed switch. */
  networkNames: ReadonlyMap<string, string>;
};

/** ESXi keeps at most 32 snapshots in a chain. With 31 there, the backup's own would take the
 * last place and leave none for another tool's meanwhile: refused from 31 on. */
const MAX_EXISTING_SNAPSHOTS = 30;
/** Bounds on walks over answers: a damaged answer cannot make them loop or grow without end. */
const MAX_SNAPSHOTS_COUNTED = 10_000;
const MAX_PARENT_STEPS = 64;
const MAX_FILE_NAME = 200;

/** The VM of that name. Only names are fetched for every VM (a vCenter may have thousands);
 * where each namesake lives, only when there are several. */
export async function findVm(client: VsphereClient, name: string): Promise<MoRef> {
  const matches = (await client.retrieve('VirtualMachine', ['name'])).filter(({ props }) => textOf(props.name) === name);
  const host = client.soap.endpoint.url.host;
  if (matches.length === 0) throw new LifeboatError('not-found', `no VM named "${name}" on ${host}`);
  if (matches.length === 1) return (matches[0] as (typeof matches)[number]).obj;
  const details = await client.retrieve(
    'VirtualMachine',
    ['runtime.host', 'config.files.vmPathName'],
    matches.map(({ obj }) => obj),
  );
  const hostRefs = details.flatMap(({ props }) => (props['runtime.host'] ? [moRefOf(props['runtime.host'])] : []));
  const hostNames = new Map(
    hostRefs.length === 0
      ? []
      : (await client.retrieve('HostSystem', ['name'], hostRefs)).map(({ obj, props }) => [obj.value, textOf(props.name)]),
  );
  const where = details.map(({ obj, props }) => {
    const hostName = hostNames.get(moRefOf(props['runtime.host']).value) ?? 'no host';
    return `${textOf(props['config.files.vmPathName']) || obj.value} on ${hostName}`;
  });
  throw new LifeboatError('conflict', `${matches.length} VMs are named "${name}" on ${host}: ${where.join('; ')}`);
}

/** The datacenter a VM belongs to: up its parents (through its vApp, if it sits in one). */
async function datacenterOf(client: VsphereClient, start: MoRef | null, vmName: string): Promise<string> {
  let at = start;
  for (let step = 0; at && at.value && step < MAX_PARENT_STEPS; step++) {
    const [content] = await client.retrieve(at.type, at.type === 'Datacenter' ? ['name'] : ['parent'], [at]);
    if (at.type === 'Datacenter') return textOf(content?.props.name);
    at = content?.props.parent ? moRefOf(content.props.parent) : null;
  }
  throw new LifeboatError('invalid-source', `vSphere VM "${vmName}" is in no datacenter`);
}

/** Names of the distributed port groups a VM's NICs may use (its `network` property). */
async function portgroupNames(client: VsphereClient, networks: unknown): Promise<Map<string, string>> {
  const refs = asArray(nodeOf(networks).ManagedObjectReference as unknown[])
    .map(moRefOf)
    .filter((ref) => ref.type === 'DistributedVirtualPortgroup');
  if (refs.length === 0) return new Map();
  const found = await client.retrieve('DistributedVirtualPortgroup', ['name', 'key'], refs);
  return new Map(found.map(({ props }) => [textOf(props.key), textOf(props.name)]));
}

/** The properties of one object; an object the host no longer has (the VM or its snapshot was
 * removed under us) is 'not-found' saying which, not the host's bare fault. */
async function propertiesOf(client: VsphereClient, object: MoRef, paths: string[], what: string): Promise<Record<string, unknown>> {
  const gone = (): LifeboatError => new LifeboatError('not-found', `${what} no longer exists on ${client.soap.endpoint.url.host}`);
  try {
    const [content] = await client.retrieve(object.type, paths, [object]);
    if (!content) throw gone();
    return content.props;
  } catch (error) {
    if (error instanceof VsphereFault && error.fault === 'ManagedObjectNotFound') throw gone();
    throw error;
  }
}

/** Reads a VM's configuration; with `snapshot`, the configuration frozen in that snapshot
 * (its disks' files are the ones the snapshot froze). */
export async function readVmConfig(client: VsphereClient, vm: MoRef, snapshot?: MoRef): Promise<VsphereVmConfig> {
  const vmPaths = ['name', 'snapshot', 'runtime.powerState', 'parent', 'parentVApp', 'network', ...(snapshot ? [] : ['config'])];
  const vmProps = await propertiesOf(client, vm, vmPaths, `VM ${vm.value}`);
  const vmName = textOf(vmProps.name) || vm.value;
  let config = vmProps.config;
  if (snapshot) {
    const snapshotProps = await propertiesOf(client, snapshot, ['config', 'vm'], `snapshot ${snapshot.value} of VM "${vmName}"`);
    if (moRefOf(snapshotProps.vm).value !== vm.value)
      throw new LifeboatError('not-found', `snapshot ${snapshot.value} is not a snapshot of VM "${vmName}"`);
    config = snapshotProps.config;
  }
  const parent = vmProps.parent ?? vmProps.parentVApp;
  return vmConfigOf({
    ref: vm,
    config,
    snapshot: vmProps.snapshot,
    powerState: vmProps['runtime.powerState'],
    datacenter: await datacenterOf(client, parent ? moRefOf(parent) : null, vmName),
    networkNames: await portgroupNames(client, vmProps.network),
  });
}

/** How many snapshots a VM's snapshot tree holds (rootSnapshotList and every child). */
function snapshotCountOf(snapshot: unknown): number {
  const pending: unknown[] = [...asArray(nodeOf(snapshot).rootSnapshotList as unknown[])];
  let count = 0;
  while (pending.length > 0 && count < MAX_SNAPSHOTS_COUNTED) {
    const tree = pending.pop();
    if (!isNode(tree)) continue;
    count++;
    pending.push(...asArray(tree.childSnapshotList as unknown[]));
  }
  return count;
}

/** A datastore path's last step as a file name safe in a repository and a VM folder: no path
 * separators, no "..", no control characters, a .vmdk (or .vmx) name, unique among `taken`. */
export function safeFileName(path: string, extension: '.vmdk' | '.vmx', taken: Set<string>): string {
  const last = path.slice(path.lastIndexOf('/') + 1);
  // Cut by code points, not UTF-16 units: half a surrogate pair would not survive UTF-8.
  let base = Array.from(last)
    .slice(0, MAX_FILE_NAME)
    .join('')
    .replace(/[\\/:*?"<>|\p{Cc}\p{Cs}]/gu, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/^[.\s]+|\s+$/g, '');
  if (base.toLowerCase().endsWith(extension)) base = base.slice(0, -extension.length);
  base = base.replace(/\.$/, '') || 'disk';
  for (let suffix = 0; ; suffix++) {
    const candidate = `${base}${suffix === 0 ? '' : `_${suffix}`}${extension}`;
    if (!taken.has(candidate.toLowerCase())) {
      taken.add(candidate.toLowerCase());
      return candidate;
    }
  }
}

/** The configuration out of the property collector's answers; damaged answers are one clear error. */
export function vmConfigOf(answers: VmAnswers): VsphereVmConfig {
  if (!isNode(answers.config))
    throw new LifeboatError('invalid-source', `vSphere VM ${answers.ref.value}: the host reported no configuration for it`);
  const config = answers.config;
  const name = textOf(config.name);
  if (!name) throw new LifeboatError('invalid-source', `vSphere VM ${answers.ref.value}: its configuration has no name`);
  const hardware = nodeOf(config.hardware);
  const devices = devicesOf(hardware.device, answers.networkNames, name);
  if (devices.disks.length === 0)
    throw new LifeboatError('invalid-source', `vSphere VM "${name}" has no virtual disks; nothing to back up`);
  const taken = new Set<string>();
  // Named in device-key order, not the device list's: hosts reorder that list (vcsim puts an edited
  // disk last) but a device keeps its key, so a disk's manifest name stays from point to point.
  const disks = [...devices.disks]
    .sort((a, b) => a.deviceKey - b.deviceKey)
    .map((disk: VmDiskDevice) => ({ ...disk, fileName: safeFileName(disk.path, '.vmdk', taken) }));
  const keyId = nodeOf(config.keyId);
  const encryption = textOf(keyId.keyId) ? { keyId: textOf(keyId.keyId), providerId: textOf(nodeOf(keyId.providerId).id) } : null;
  const uuid = textOf(config.uuid) || null;
  const changeTracking = textOf(config.changeTrackingEnabled) === 'true';
  const vmxPath = textOf(nodeOf(config.files).vmPathName);
  const vmxText = vmxTextOf({
    name,
    uuid,
    guestId: textOf(config.guestId),
    hardwareVersion: textOf(config.version),
    numCpus: Math.max(1, wholeNumber(hardware.numCPU ?? '1', 'its CPU count', name, 4096)),
    coresPerSocket: Math.max(1, wholeNumber(hardware.numCoresPerSocket ?? '1', 'its cores per socket', name, 4096)),
    memoryMB: wholeNumber(hardware.memoryMB, 'its memory size', name, 64 * 1024 * 1024),
    firmware: textOf(config.firmware),
    changeTracking,
    encryption,
    controllers: devices.controllers,
    disks,
    nics: devices.nics,
  });
  return {
    ref: answers.ref,
    name,
    uuid,
    vmxFile: safeFileName(vmxPath.replace(/^\[[^\]]*\] ?/, '') || name, '.vmx', taken),
    vmxText,
    disks,
    changeTracking,
    snapshotCount: snapshotCountOf(answers.snapshot),
    encryptionKeyId: encryption?.keyId ?? null,
    powerState: textOf(answers.powerState),
    datacenter: answers.datacenter,
  };
}

/** Why vSphere cannot take the snapshot a backup reads from, or null when it can. */
export function snapshotBlocker(config: VsphereVmConfig): string | null {
  const independent = config.disks.find((disk) => disk.diskMode.startsWith('independent'));
  if (independent)
    return `disk ${independent.key} ([${independent.datastore}] ${independent.path}) of VM "${config.name}" is ${independent.diskMode}: snapshots leave independent disks out, so it cannot be backed up from a snapshot; make it a dependent (persistent) disk`;
  const physical = config.disks.find((disk) => disk.rdm === 'physical');
  if (physical)
    return `disk ${physical.key} ([${physical.datastore}] ${physical.path}) of VM "${config.name}" is a physical-mode RDM: vSphere cannot snapshot it; back up the LUN on its storage instead`;
  if (config.snapshotCount > MAX_EXISTING_SNAPSHOTS)
    return `VM "${config.name}" already has ${config.snapshotCount} snapshots; ESXi keeps at most 32 in a chain and the backup needs one of them: delete old snapshots first`;
  return null;
}
