// Writing a VM into a local datastore folder, whatever the bytes come from (a repository or a
// tape): claim the folder, name the files, write the configuration (a new name gets a new
// identity), lay out each disk as a sparse monolithicFlat VMDK, and publish everything at once.
import { open, writeFile } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { writeFlatDescriptor } from '../disks/vmdk-descriptor.ts';
import { parseVmx, rewriteVmx } from '../disks/vmx.ts';
import { LocalVmFolder, stagingFolderName } from '../drivers/local-datastore/local-datastore.ts';
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { killPoint } from '../kill-point.ts';
import type { Resuming } from '../drivers/local-datastore/local-datastore.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';

export type DiskFiles = { descriptor: string; flat: string };

/** What laying a VM out needs to know: a point's manifest has it, and so has a VM folder found
 * on a storage snapshot. */
export type VmLayout = { vmName: string; vmConfig: { text: string }; disks: { key: string; fileName: string }[] };

/** The files each disk of a point gets in a VM folder: its own names, or, under a new VM name,
 * names after the VM (NAME, NAME_1, …). */
export function diskFileNames(manifest: VmLayout, newName: string | undefined): Map<string, DiskFiles> {
  const renamed = newName !== undefined && newName !== manifest.vmName;
  const files = new Map<string, DiskFiles>();
  const used = new Set<string>();
  manifest.disks.forEach((disk, index) => {
    // A VM's name comes from its backed-up .vmx (outside input): escaped before it names a file.
    const stem = escapeGuestName(newName ?? manifest.vmName).name;
    let base = renamed ? (index === 0 ? stem : `${stem}_${index}`) : escapeGuestName(basename(disk.fileName, extname(disk.fileName))).name;
    while (used.has(base)) base = `${base}_${index}`;
    used.add(base);
    files.set(disk.key, { descriptor: `${base}.vmdk`, flat: `${base}-flat.vmdk` });
  });
  return files;
}

export class LocalVmWriter {
  readonly folder: LocalVmFolder;
  readonly vmName: string;
  private readonly manifest: VmLayout;
  private readonly renamed: boolean;
  readonly diskFiles: Map<string, DiskFiles>;
  published: string[] = [];

  private constructor(folder: LocalVmFolder, manifest: VmLayout, newName: string | undefined) {
    this.folder = folder;
    this.manifest = manifest;
    this.vmName = newName ?? manifest.vmName;
    this.renamed = newName !== undefined && newName !== manifest.vmName;
    this.diskFiles = diskFileNames(manifest, newName);
  }

  /** Records the folders for the janitor, claims the target and checks it has room (a resumed
   * restore passed that check and writes over its own files). */
  static async claim(options: {
    target: string;
    jobId: string;
    resuming: Resuming | null;
    manifest: VmLayout;
    newName: string | undefined;
    bytesNeeded: number;
    context: StepContext;
  }): Promise<LocalVmWriter> {
    const target = resolve(options.target);
    options.context.resources.record('target-folder', { path: target });
    options.context.resources.record('staging-folder', { path: join(target, stagingFolderName(options.jobId)) });
    killPoint('restore-recorded');
    const folder = await LocalVmFolder.claim(target, options.jobId, options.resuming);
    killPoint('restore-claimed');
    const free = options.resuming ? Infinity : await folder.freeBytes();
    if (free < options.bytesNeeded) {
      await folder.discard();
      throw new LifeboatError('target-full', `target ${folder.path} has ${free} bytes free; the VM needs ${options.bytesNeeded}`);
    }
    return new LocalVmWriter(folder, options.manifest, options.newName);
  }

  files(diskKey: string): DiskFiles {
    const files = this.diskFiles.get(diskKey);
    if (!files) throw new LifeboatError('internal', `no file names for disk ${diskKey}`);
    return files;
  }

  async writeConfiguration(context: StepContext): Promise<void> {
    const vmx = parseVmx(this.manifest.vmConfig.text, `${this.manifest.vmName} configuration`);
    const text = rewriteVmx(vmx, {
      displayName: this.vmName,
      diskFiles: new Map([...this.diskFiles].map(([key, files]) => [key, files.descriptor])),
      newIdentity: this.renamed,
    });
    const file = `${escapeGuestName(this.vmName).name}.vmx`;
    await writeFile(this.folder.stagedPath(file), text);
    context.log(`configuration written as ${file}${this.renamed ? ' (new name, new identity)' : ''}`);
  }

  /** Writes a disk's descriptor; returns the staged path of its flat extent. `create` also makes
   * the extent, sparse and full size (else the data mover creates it). */
  async prepareDisk(diskKey: string, capacity: number, create: boolean): Promise<string> {
    const files = this.files(diskKey);
    await writeFile(this.folder.stagedPath(files.descriptor), writeFlatDescriptor(capacity, files.flat));
    const flat = this.folder.stagedPath(files.flat);
    if (create) {
      const handle = await open(flat, 'wx', 0o644);
      try {
        await handle.truncate(capacity);
      } finally {
        await handle.close();
      }
    }
    return flat;
  }

  async publish(context: StepContext): Promise<void> {
    killPoint('before-publish');
    this.published = await this.folder.publish((path) => context.resources.record('published-file', { path }));
    killPoint('published');
    context.log(`published ${this.published.length} file(s) in ${this.folder.path}`);
  }

  async discard(): Promise<void> {
    await this.folder.discard();
  }
}
