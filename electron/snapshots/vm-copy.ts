// Whole VMs copied from a presented clone into local folders: each read through the disk
// readers from the host's view of the clone and laid out as sparse monolithicFlat disks.
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSourceVm } from '../backup/source-vm.ts';
import type { Disk } from '../disks/disk.ts';
import { openDisk } from '../disks/open-disk.ts';
import { throwIfCancelled, type StepContext } from '../engine/plan.ts';
import { LifeboatError } from '../errors.ts';
import { LocalVmWriter } from '../restore/local-vm-writer.ts';
import type { CloneOperation, VmOnSnapshot } from './clone-work.ts';

const CHUNK = 1024 * 1024;

function allZero(data: Uint8Array): boolean {
  for (let index = 0; index < data.length; index++) if (data[index] !== 0) return false;
  return true;
}

export const vmCopyStep = { name: 'transfer-disks', title: 'Copy each VM from the clone to the target' } as const;

export class VmCopy implements CloneOperation {
  readonly step = vmCopyStep;
  private readonly targetPath: string;
  private readonly newName: string | undefined;
  private readonly jobId: string;
  private readonly writers: LocalVmWriter[] = [];
  private bytesTotal = 0;
  private bytesDone = 0;

  constructor(jobId: string, targetPath: string, newName: string | undefined) {
    this.jobId = jobId;
    this.targetPath = targetPath;
    this.newName = newName;
  }

  async run(seen: string, found: VmOnSnapshot[], context: StepContext): Promise<void> {
    if (this.newName && found.length > 1) throw new LifeboatError('bad-request', 'a new name is for one VM at a time');
    const vms = await Promise.all(
      found.map(async (vm) => {
        const source = await readSourceVm(join(seen, vm.folder));
        const disks = await Promise.all(source.vmx.disks.map(async (disk) => ({ key: disk.key, fileName: disk.fileName, disk: await openDisk(join(source.folder, disk.fileName)) })));
        return { source, disks };
      }),
    );
    try {
      for (const vm of vms) {
        // What the VM's files take on the clone: what its copy needs at most.
        let allocated = 0;
        for (const disk of vm.disks) {
          this.bytesTotal += disk.disk.capacity;
          allocated += (await stat(join(vm.source.folder, disk.fileName))).blocks * 512;
        }
        this.writers.push(
          await LocalVmWriter.claim({
            target: vms.length === 1 ? this.targetPath : join(this.targetPath, vm.source.vmx.displayName),
            jobId: this.jobId, resume: false, newName: this.newName, bytesNeeded: allocated, context,
            manifest: { vmName: vm.source.vmx.displayName, vmConfig: { text: vm.source.vmxText }, disks: vm.disks },
          }),
        );
      }
      for (const [index, vm] of vms.entries()) {
        const writer = this.writers[index] as LocalVmWriter;
        await writer.writeConfiguration(context);
        for (const disk of vm.disks) await this.copyDisk(disk.disk, await writer.prepareDisk(disk.key, disk.disk.capacity, true), context);
        await writer.publish(context);
      }
    } finally {
      for (const vm of vms) for (const disk of vm.disks) await disk.disk.close();
    }
  }

  /** Copies a disk into a sparse flat file; zero chunks stay holes. */
  private async copyDisk(disk: Disk, flat: string, context: StepContext): Promise<void> {
    const handle = await open(flat, 'r+');
    try {
      for (let offset = 0; offset < disk.capacity; offset += CHUNK) {
        throwIfCancelled(context.signal);
        const data = await disk.read(offset, Math.min(CHUNK, disk.capacity - offset));
        if (!allZero(data)) await handle.write(data, 0, data.length, offset);
        this.bytesDone += data.length;
        context.progress(this.bytesDone, this.bytesTotal);
      }
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) for (const writer of this.writers) await writer.discard();
  }

  result(): Record<string, unknown> {
    return { published: this.writers.flatMap((writer) => writer.published) };
  }
}
