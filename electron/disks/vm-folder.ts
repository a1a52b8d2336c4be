// A VM in a local datastore folder, VMware layout: <name>.vmx naming its disks beside it; and the
// id of a VM's chain (vmIdFor), the same for a VM read from a folder or from a vSphere host.
import { readdir, readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { decodeVmxBytes, parseVmx, VMX_MAX_BYTES, type Vmx } from './vmx.ts';

export type SourceVm = { folder: string; vmxFile: string; vmxText: string; vmx: Vmx; vmId: string };

/** A VM's chain id from its name and identity (its BIOS UUID where it has one). */
export function vmIdFor(name: string, identity: string): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'vm';
  return `${slug}-${createHash('sha256').update(identity).digest('hex').slice(0, 8)}`;
}

export async function readSourceVm(folderArgument: string): Promise<SourceVm> {
  const folder = resolve(folderArgument);
  let names: string[];
  try {
    if (!(await stat(folder)).isDirectory()) throw new LifeboatError('invalid-source', `${folder} is not a folder`);
    names = await readdir(folder);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('invalid-source', `VM folder ${folder} does not exist`);
    throw error;
  }
  const vmxFiles = names.filter((name) => name.toLowerCase().endsWith('.vmx'));
  if (vmxFiles.length === 0) throw new LifeboatError('invalid-source', `${folder} holds no .vmx file`);
  if (vmxFiles.length > 1)
    throw new LifeboatError('invalid-source', `${folder} holds several .vmx files (${vmxFiles.join(', ')}); one VM per folder`);
  const vmxFile = vmxFiles[0] as string;
  const path = join(folder, vmxFile);
  if ((await stat(path)).size > VMX_MAX_BYTES) throw new LifeboatError('invalid-source', `${path} is larger than 1 MiB; it is not a .vmx`);
  const vmxText = decodeVmxBytes(await readFile(path), path);
  const vmx = parseVmx(vmxText, path);
  return { folder, vmxFile, vmxText, vmx, vmId: vmIdFor(vmx.displayName, vmx.uuid ?? vmx.displayName) };
}
