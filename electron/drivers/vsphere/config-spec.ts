// A VirtualMachineConfigSpec built from the backed-up .vmx: CPUs, memory, guest, SCSI
// controllers, disks (thin or thick) and NICs mapped to a network of the target host. Elements
// follow the WSDL's order, which real vCenters insist on.
import { platformKeyOf, type Vmx } from '../../disks/vmx.ts';
import { guestIdOf } from './guest-ids.ts';
import { el, xml } from './xml.ts';

export type DiskPlacement = { key: string; fileName: string; capacity: number; controllerBus: number; unit: number };
export type SpecChoices = {
  name: string;
  datastore: string;
  thin: boolean;
  network: (original: string | undefined) => string;
  annotation: string;
  /** A disk's datastore when it is not `datastore` (a restore's per-disk choice). */
  diskDatastore?: (key: string) => string;
  /** The BIOS and instance UUIDs and the NICs' MAC addresses (by NIC number) the VM is created
   * with; a NIC without one, or no identity at all, gets what vSphere generates. */
  identity?: VmIdentity;
};

export type VmIdentity = { uuid: string | null; instanceUuid: string | null; macAddresses: Record<number, string> };

/** The note a restored VM carries: it tells the janitor which job made it. */
export function vmAnnotation(jobId: string): string {
  return `Restored by Lifeboat (job ${jobId})`;
}

const controllerTypes: Record<string, string> = {
  pvscsi: 'ParaVirtualSCSIController',
  lsilogic: 'VirtualLsiLogicController',
  lsisas1068: 'VirtualLsiLogicSASController',
  buslogic: 'VirtualBusLogicController',
};
const nicTypes: Record<string, string> = {
  vmxnet3: 'VirtualVmxnet3',
  e1000: 'VirtualE1000',
  e1000e: 'VirtualE1000e',
  vmxnet2: 'VirtualVmxnet2',
};
const CONTROLLER_KEY_BASE = 1000;

/** Where each disk goes: SCSI bus and unit as in the .vmx; other buses move to SCSI 0. */
export function placeDisks(disks: { key: string; capacity: number }[], vmName: string): DiskPlacement[] {
  const used = new Set<string>();
  let nextFreeUnit = 0;
  return disks.map((disk, index) => {
    const scsi = /^scsi(\d+):(\d+)$/.exec(disk.key);
    let bus = scsi ? Number(scsi[1]) : 0;
    let unit = scsi ? Number(scsi[2]) : -1;
    if (unit < 0 || unit === 7 || used.has(`${bus}:${unit}`)) {
      bus = 0;
      while (nextFreeUnit === 7 || used.has(`0:${nextFreeUnit}`)) nextFreeUnit++;
      unit = nextFreeUnit;
    }
    used.add(`${bus}:${unit}`);
    return {
      key: disk.key,
      fileName: index === 0 ? `${vmName}.vmdk` : `${vmName}_${index}.vmdk`,
      capacity: disk.capacity,
      controllerBus: bus,
      unit,
    };
  });
}

export function vmConfigSpec(vmx: Vmx, placements: DiskPlacement[], choices: SpecChoices): string {
  const entries = vmx.entries;
  const cpus = Number(entries.get('numvcpus') ?? '1') || 1;
  const memory = Number(entries.get('memsize') ?? '1024') || 1024;
  const buses = [...new Set(placements.map((disk) => disk.controllerBus))].sort();
  const controllers = buses.map((bus) =>
    el(
      'deviceChange',
      xml(
        el('operation', 'add'),
        el('device', xml(el('key', CONTROLLER_KEY_BASE + bus), el('busNumber', bus), el('sharedBus', 'noSharing')), {
          'xsi:type': controllerTypes[entries.get(`scsi${bus}.virtualdev`)?.toLowerCase() ?? ''] ?? 'VirtualLsiLogicController',
        }),
      ),
    ),
  );
  const disks = placements.map((disk, index) =>
    el(
      'deviceChange',
      xml(
        el('operation', 'add'),
        el('fileOperation', 'create'),
        el(
          'device',
          xml(
            el('key', -100 - index),
            el(
              'backing',
              xml(
                el('fileName', `[${choices.diskDatastore?.(disk.key) ?? choices.datastore}] ${choices.name}/${disk.fileName}`),
                el('diskMode', 'persistent'),
                el('thinProvisioned', choices.thin),
                el('eagerlyScrub', false),
              ),
              { 'xsi:type': 'VirtualDiskFlatVer2BackingInfo' },
            ),
            el('controllerKey', CONTROLLER_KEY_BASE + disk.controllerBus),
            el('unitNumber', disk.unit),
            el('capacityInKB', Math.ceil(disk.capacity / 1024)),
          ),
          { 'xsi:type': 'VirtualDisk' },
        ),
      ),
    ),
  );
  const nics: string[] = [];
  for (let n = 0; n < 10; n++) {
    if (entries.get(`ethernet${n}.present`)?.toLowerCase() !== 'true') continue;
    nics.push(
      el(
        'deviceChange',
        xml(
          el('operation', 'add'),
          el(
            'device',
            xml(
              el('key', -200 - n),
              el('backing', xml(el('deviceName', choices.network(entries.get(`ethernet${n}.networkname`)))), {
                'xsi:type': 'VirtualEthernetCardNetworkBackingInfo',
              }),
              ...macAddressSpec(choices.identity?.macAddresses[n]),
            ),
            { 'xsi:type': nicTypes[entries.get(`ethernet${n}.virtualdev`)?.toLowerCase() ?? ''] ?? 'VirtualVmxnet3' },
          ),
        ),
      ),
    );
  }
  return el(
    'config',
    xml(
      el('name', choices.name),
      ...(choices.identity?.uuid ? [el('uuid', choices.identity.uuid)] : []),
      ...(choices.identity?.instanceUuid ? [el('instanceUuid', choices.identity.instanceUuid)] : []),
      el('guestId', guestIdOf(entries.get('guestos'))),
      el('annotation', choices.annotation),
      el('files', xml(el('vmPathName', `[${choices.datastore}]`))),
      el('numCPUs', cpus),
      el('memoryMB', memory),
      ...controllers,
      ...disks,
      ...nics,
      // An EFI guest created as BIOS does not boot; the schema places firmware after the devices.
      ...(entries.get('firmware')?.toLowerCase() === 'efi' ? [el('firmware', 'efi')] : []),
      ...cryptoSpec(vmx),
    ),
  );
}

/** A VM the platform encrypted is created encrypted with the same key of the same provider. */
function cryptoSpec(vmx: Vmx): string[] {
  const key = platformKeyOf(vmx);
  if (!key) return [];
  return [
    el('crypto', xml(el('cryptoKeyId', xml(el('keyId', key.keyId), el('providerId', xml(el('id', key.providerId)))))), {
      'xsi:type': 'CryptoSpecEncrypt',
    }),
  ];
}

/** A NIC keeps a backed-up MAC address as a manual one; otherwise vSphere generates one. */
function macAddressSpec(address: string | undefined): string[] {
  return address ? [el('addressType', 'manual'), el('macAddress', address)] : [el('addressType', 'generated')];
}
