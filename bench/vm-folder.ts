// A VM folder in VMware layout made from a raw disk image, for the bench parts that back one up:
// the image converted by qemu-img to a monolithicFlat VMDK, and a .vmx naming it.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { vmxText } from '../electron/lab/create-lab.ts';

/** Writes `<name>.vmdk` (+ `<name>-flat.vmdk`) and `<name>.vmx` into `folder`, which must exist. */
export async function flatVmFolder(folder: string, name: string, raw: string, biosUuid: string): Promise<void> {
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raw, join(folder, `${name}.vmdk`)]);
  await writeFile(join(folder, `${name}.vmx`), vmxText(name, [`${name}.vmdk`], biosUuid));
}
