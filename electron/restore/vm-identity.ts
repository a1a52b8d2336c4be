// The identity a VM restored to vSphere is created with: `keep` gives it the backed-up BIOS and
// instance UUIDs and MAC addresses (a replacement for a VM that is gone), `new` fresh UUIDs and
// MACs vSphere generates (a copy beside the original); without a choice vSphere decides, as before.
import { randomUUID } from 'node:crypto';
import type { Vmx } from '../disks/vmx.ts';
import type { VmIdentity } from '../drivers/vsphere/config-spec.ts';

/** A .vmx UUID ("56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc dd") in vSphere's form, or null if it is not one. */
export function vsphereUuid(vmxUuid: string | undefined | null): string | null {
  const hex = (vmxUuid ?? '').replace(/[\s-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const macAddress = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function vmIdentity(choice: 'new' | 'keep' | undefined, vmx: Vmx): VmIdentity | undefined {
  if (choice === undefined) return undefined;
  if (choice === 'new') return { uuid: randomUUID(), instanceUuid: randomUUID(), macAddresses: {} };
  const macAddresses: Record<number, string> = {};
  for (let n = 0; n < 10; n++) {
    const address = vmx.entries.get(`ethernet${n}.address`) ?? vmx.entries.get(`ethernet${n}.generatedaddress`);
    if (address && macAddress.test(address)) macAddresses[n] = address.toLowerCase();
  }
  return { uuid: vsphereUuid(vmx.uuid), instanceUuid: vsphereUuid(vmx.entries.get('vc.uuid')), macAddresses };
}
