// The .vmx of a VM read from the vSphere API: the keys Lifeboat's restores read back (vmx.ts
// parseVmx, config-spec.ts vmConfigSpec) and VMware's own names for them, values escaped as
// VMware escapes them, so any VM name or network name survives the round trip.
import { escapeVmxValue } from '../../disks/vmx.ts';
import { guestOsOf } from './guest-ids.ts';
import type { VmController, VmNic } from './vm-devices.ts';

export type VmxSource = {
  name: string;
  uuid: string | null;
  guestId: string;
  hardwareVersion: string;
  numCpus: number;
  coresPerSocket: number;
  memoryMB: number;
  firmware: string;
  changeTracking: boolean;
  encryption: { keyId: string; providerId: string } | null;
  controllers: VmController[];
  disks: { key: string; fileName: string; diskMode: string }[];
  nics: VmNic[];
};

/** The .vmx addressType of vSphere's NIC addressType, and which key holds the MAC. */
function macLines(prefix: string, nic: VmNic): [string, string][] {
  if (!nic.macAddress) return [[`${prefix}.addressType`, 'generated']];
  if (nic.addressType === 'manual')
    return [
      [`${prefix}.addressType`, 'static'],
      [`${prefix}.address`, nic.macAddress],
    ];
  return [
    [`${prefix}.addressType`, nic.addressType === 'assigned' ? 'vpx' : 'generated'],
    [`${prefix}.generatedAddress`, nic.macAddress],
  ];
}

/** Percent-encoded as the key safe is; a lone surrogate (which encodeURIComponent refuses) becomes U+FFFD. */
function keySafePart(text: string): string {
  return encodeURIComponent(text.replace(/\p{Cs}/gu, '\uFFFD'));
}

/** The key safe's reference to the platform key, in the form vmx.ts platformKeyOf reads. The
 * API does not hand out the wrapped key itself; the provider and key id are what a restore
 * needs to ask vSphere to encrypt the new VM with the same key. */
function keySafeOf(encryption: { keyId: string; providerId: string }): string {
  return `vmware:key/list/(pair/(fqid/<VMWARE-NULL>/${keySafePart(encryption.providerId)}/${keySafePart(encryption.keyId)},HMAC-SHA-256,))`;
}

export function vmxTextOf(source: VmxSource): string {
  const entries: [string, string][] = [
    ['.encoding', 'UTF-8'],
    ['config.version', '8'],
    ['virtualHW.version', /^vmx-(\d+)$/.exec(source.hardwareVersion)?.[1] ?? '13'],
    ['displayName', source.name],
    ['guestOS', guestOsOf(source.guestId)],
    ['numvcpus', String(source.numCpus)],
    ['cpuid.coresPerSocket', String(source.coresPerSocket)],
    ['memSize', String(source.memoryMB)],
    ['firmware', source.firmware === 'efi' ? 'efi' : 'bios'],
  ];
  if (source.uuid) entries.push(['uuid.bios', source.uuid]);
  if (source.changeTracking) entries.push(['ctkEnabled', 'TRUE']);
  if (source.encryption) entries.push(['encryption.keySafe', keySafeOf(source.encryption)]);
  for (const controller of source.controllers) {
    // IDE channels are always there; VMware writes no present line for them.
    if (controller.vmxName.startsWith('ide')) continue;
    entries.push([`${controller.vmxName}.present`, 'TRUE']);
    if (controller.virtualDev) entries.push([`${controller.vmxName}.virtualDev`, controller.virtualDev]);
  }
  for (const disk of source.disks) {
    entries.push([`${disk.key}.present`, 'TRUE'], [`${disk.key}.fileName`, disk.fileName]);
    if (disk.diskMode !== 'persistent') entries.push([`${disk.key}.mode`, disk.diskMode.replace(/_/g, '-')]);
  }
  source.nics.forEach((nic, index) => {
    const prefix = `ethernet${index}`;
    entries.push([`${prefix}.present`, 'TRUE']);
    if (nic.virtualDev) entries.push([`${prefix}.virtualDev`, nic.virtualDev]);
    if (nic.networkName) entries.push([`${prefix}.networkName`, nic.networkName]);
    entries.push(...macLines(prefix, nic), [`${prefix}.startConnected`, nic.startConnected ? 'TRUE' : 'FALSE']);
  });
  return `${entries.map(([key, value]) => `${key} = "${escapeVmxValue(value)}"`).join('\n')}\n`;
}
