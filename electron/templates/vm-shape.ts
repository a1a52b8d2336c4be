// What a template needs to know of a VM, read from its backed-up .vmx: name, CPUs, memory, guest
// OS, SCSI controller type, the networks of its NICs, and the platform key it was encrypted with.
// (The .vmx parser keeps keys in lower case.)
import { parseVmx, platformKeyOf, type PlatformKey, type Vmx } from '../disks/vmx.ts';
import type { Manifest } from '../repository/manifest.ts';

export type VmShape = {
  name: string;
  cpus: number;
  memoryMib: number;
  guestOs: string;
  windows: boolean;
  scsi: string;
  nics: { network: string; adapter: string }[];
  platformKey: PlatformKey | null;
};

export function vmShape(vmx: Vmx, name: string): VmShape {
  const entries = vmx.entries;
  const nics: VmShape['nics'] = [];
  for (let index = 0; index < 10; index++) {
    if (entries.get(`ethernet${index}.present`)?.toLowerCase() !== 'true') continue;
    nics.push({
      network: entries.get(`ethernet${index}.networkname`) ?? 'VM Network',
      adapter: entries.get(`ethernet${index}.virtualdev`) ?? 'e1000',
    });
  }
  const guestOs = entries.get('guestos') ?? 'otherGuest64';
  return {
    name,
    cpus: Number(entries.get('numvcpus') ?? '1') || 1,
    memoryMib: Number(entries.get('memsize') ?? '1024') || 1024,
    guestOs,
    windows: /^win/i.test(guestOs),
    scsi: entries.get('scsi0.virtualdev') ?? 'lsilogic',
    nics,
    platformKey: platformKeyOf(vmx),
  };
}

/** The shape of the VM a restore point holds, from the configuration backed up with it. */
export function pointShape(point: Manifest): VmShape {
  return vmShape(parseVmx(point.vmConfig.text, `${point.vmName} configuration`), point.vmName);
}
