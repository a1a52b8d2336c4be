// A VM's virtual hardware as the property collector reports it (config.hardware.device, parsed
// XML): its disk controllers, disks and network cards, named the way a .vmx names them
// ("scsi0:1", "ethernet0"). Outside bytes: anything malformed is one clear LifeboatError.
import { LifeboatError } from '../../errors.ts';
import { asArray, textOf } from './xml.ts';

export type VmController = { key: number; vmxName: string /* "scsi0" */; virtualDev: string | null };
export type VmDiskDevice = {
  key: string;
  deviceKey: number;
  datastore: string;
  path: string;
  capacity: number;
  thin: boolean;
  diskMode: string;
  changeId: string | null;
  rdm: 'physical' | 'virtual' | null;
};
export type VmNic = { virtualDev: string | null; networkName: string; macAddress: string; addressType: string; startConnected: boolean };
export type VmDevices = { controllers: VmController[]; disks: VmDiskDevice[]; nics: VmNic[] };

type Node = Record<string, unknown>;

/** Controller types to their .vmx prefix and, for SCSI, the `scsiN.virtualDev` VMware writes. */
const controllerKinds: Record<string, { prefix: string; virtualDev: string | null }> = {
  ParaVirtualSCSIController: { prefix: 'scsi', virtualDev: 'pvscsi' },
  VirtualLsiLogicController: { prefix: 'scsi', virtualDev: 'lsilogic' },
  VirtualLsiLogicSASController: { prefix: 'scsi', virtualDev: 'lsisas1068' },
  VirtualBusLogicController: { prefix: 'scsi', virtualDev: 'buslogic' },
  VirtualAHCIController: { prefix: 'sata', virtualDev: null },
  VirtualNVMEController: { prefix: 'nvme', virtualDev: null },
  VirtualIDEController: { prefix: 'ide', virtualDev: null },
};
const nicKinds: Record<string, string> = {
  VirtualVmxnet3: 'vmxnet3',
  VirtualVmxnet3Vrdma: 'vrdma',
  VirtualVmxnet2: 'vmxnet2',
  VirtualVmxnet: 'vmxnet',
  VirtualE1000: 'e1000',
  VirtualE1000e: 'e1000e',
  VirtualPCNet32: 'vlance',
};
/** Highest bus and unit numbers any controller kind has; beyond them the answer is damaged. */
const MAX_BUS = 99;
const MAX_UNIT = 255;

export function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function nodeOf(value: unknown): Node {
  return isNode(value) ? value : {};
}

/** A whole number the answer must carry; `what` names it in the error. */
export function wholeNumber(value: unknown, what: string, vmName: string, max = Number.MAX_SAFE_INTEGER): number {
  const text = textOf(value).trim();
  const parsed = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed > max)
    throw new LifeboatError('invalid-source', `vSphere VM "${vmName}": ${what} is "${text.slice(0, 40)}", not a whole number up to ${max}`);
  return parsed;
}

/** "[datastore] folder/file.vmdk" → its datastore and its path inside it (no "." or ".." steps). */
export function datastorePathOf(fileName: string, what: string, vmName: string): { datastore: string; path: string } {
  const match = /^\[([^\]]+)\] ?(.+)$/.exec(fileName);
  const steps = match?.[2]?.split('/') ?? [];
  if (!match || steps.some((step) => step === '' || step === '.' || step === '..'))
    throw new LifeboatError(
      'invalid-source',
      `vSphere VM "${vmName}": ${what} is "${fileName.slice(0, 200)}", not a "[datastore] path" file`,
    );
  return { datastore: match[1] as string, path: steps.join('/') };
}

/** The device list, bare or wrapped in ArrayOfVirtualDevice (when `config.hardware.device` is asked alone). */
function deviceList(value: unknown): Node[] {
  const list = isNode(value) && 'VirtualDevice' in value ? value.VirtualDevice : value;
  return asArray(list as unknown[]).filter(isNode);
}

function controllersOf(devices: Node[], vmName: string): Map<number, VmController> {
  const controllers = new Map<number, VmController>();
  for (const device of devices) {
    const kind = controllerKinds[textOf(device['@_type'])];
    if (!kind) continue;
    const key = wholeNumber(device.key, 'a controller key', vmName);
    const bus = wholeNumber(device.busNumber, `controller ${key}'s bus number`, vmName, MAX_BUS);
    controllers.set(key, { key, vmxName: `${kind.prefix}${bus}`, virtualDev: kind.virtualDev });
  }
  return controllers;
}

function diskOf(device: Node, controllers: Map<number, VmController>, vmName: string): VmDiskDevice {
  const deviceKey = wholeNumber(device.key, 'a disk key', vmName);
  const controllerKey = wholeNumber(device.controllerKey, `disk ${deviceKey}'s controller key`, vmName);
  const controller = controllers.get(controllerKey);
  if (!controller)
    throw new LifeboatError(
      'invalid-source',
      `vSphere VM "${vmName}": disk ${deviceKey} sits on controller ${controllerKey}, not a disk controller Lifeboat knows`,
    );
  const unit = wholeNumber(device.unitNumber, `disk ${deviceKey}'s unit number`, vmName, MAX_UNIT);
  const key = `${controller.vmxName}:${unit}`;
  const backing = nodeOf(device.backing);
  const fileName = textOf(backing.fileName);
  if (!fileName)
    throw new LifeboatError(
      'invalid-source',
      `vSphere VM "${vmName}": disk ${key} is not backed by a datastore file (${textOf(backing['@_type']) || 'no backing'})`,
    );
  const rdmMode = /RawDiskMapping/.test(textOf(backing['@_type'])) ? textOf(backing.compatibilityMode) : null;
  const capacity =
    device.capacityInBytes !== undefined
      ? wholeNumber(device.capacityInBytes, `disk ${key}'s capacity`, vmName)
      : wholeNumber(device.capacityInKB, `disk ${key}'s capacity`, vmName, Math.floor(Number.MAX_SAFE_INTEGER / 1024)) * 1024;
  return {
    key,
    deviceKey,
    ...datastorePathOf(fileName, `disk ${key}'s file`, vmName),
    capacity,
    thin: textOf(backing.thinProvisioned) === 'true',
    diskMode: textOf(backing.diskMode) || 'persistent',
    changeId: textOf(backing.changeId) || null,
    // Only physical mode hides the LUN from snapshots; anything else is read like a virtual disk.
    rdm: rdmMode === null ? null : rdmMode === 'physicalMode' ? 'physical' : 'virtual',
  };
}

/** A NIC's network: a standard port group by name, a distributed one by its key's name. */
function networkNameOf(backing: Node, networkNames: ReadonlyMap<string, string>): string {
  const portgroupKey = textOf(nodeOf(backing.port).portgroupKey);
  if (portgroupKey) return networkNames.get(portgroupKey) ?? '';
  return textOf(backing.deviceName) || textOf(backing.opaqueNetworkId);
}

function nicOf(device: Node, networkNames: ReadonlyMap<string, string>): VmNic {
  return {
    virtualDev: nicKinds[textOf(device['@_type'])] ?? null,
    networkName: networkNameOf(nodeOf(device.backing), networkNames),
    macAddress: textOf(device.macAddress),
    addressType: textOf(device.addressType) || 'generated',
    startConnected: textOf(nodeOf(device.connectable).startConnected) !== 'false',
  };
}

export function devicesOf(hardwareDevice: unknown, networkNames: ReadonlyMap<string, string>, vmName: string): VmDevices {
  const devices = deviceList(hardwareDevice);
  const controllers = controllersOf(devices, vmName);
  const disks: VmDiskDevice[] = [];
  const nics: VmNic[] = [];
  for (const device of devices) {
    const type = textOf(device['@_type']);
    if (type === 'VirtualDisk') {
      const disk = diskOf(device, controllers, vmName);
      if (disks.some((other) => other.key === disk.key))
        throw new LifeboatError('invalid-source', `vSphere VM "${vmName}": two disks claim slot ${disk.key}`);
      disks.push(disk);
    } else if (type in nicKinds || device.macAddress !== undefined) {
      nics.push(nicOf(device, networkNames));
    }
  }
  return { controllers: [...controllers.values()], disks, nics };
}
