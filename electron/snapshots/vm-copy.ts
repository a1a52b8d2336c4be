// Whole VMs copied from a presented clone into local folders: each read through the disk
// readers from the host's view of the clone and laid out as sparse monolithicFlat disks.
import { escapeGuestName } from '../../shared/guest-names.ts';
import { join } from 'node:path';
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { LocalVmWriter } from '../restore/local-vm-writer.ts';
import { folderSource, type VmSource } from '../restore/vm-source.ts';
import type { CloneOperation, VmOnSnapshot } from './clone-work.ts';

export class VmCopy implements CloneOperation {
  readonly step = { name: 'transfer-disks', title: 'Copy each VM from the clone to the target' };
  private readonly targetPath: string;
  private readonly newName: string | undefined;
  private readonly jobId: string;
  private readonly writers: LocalVmWriter[] = [];

  constructor(jobId: string, targetPath: string, newName: string | undefined) {
    this.jobId = jobId;
    this.targetPath = targetPath;
    this.newName = newName;
  }

  async run(seen: string, found: VmOnSnapshot[], context: StepContext): Promise<void> {
    if (this.newName && found.length > 1) throw new LifeboatError('bad-request', 'a new name is for one VM at a time');
    const sources: VmSource[] = [];
    try {
      for (const vm of found) sources.push(await folderSource(join(seen, vm.folder)));
      const bytesTotal = sources.reduce((sum, source) => sum + source.disks.reduce((bytes, disk) => bytes + disk.dataBytes, 0), 0);
      for (const source of sources) {
        this.writers.push(
          await LocalVmWriter.claim({
            target: sources.length === 1 ? this.targetPath : join(this.targetPath, escapeGuestName(source.vmName).name), // a VM name is outside input
            jobId: this.jobId,
            resuming: null,
            newName: this.newName,
            context,
            manifest: { vmName: source.vmName, vmConfig: { text: source.vmxText }, disks: source.disks },
            bytesNeeded: source.disks.reduce((bytes, disk) => bytes + disk.dataBytes, 0),
          }),
        );
      }
      let bytesDone = 0;
      for (const [index, source] of sources.entries()) {
        const writer = this.writers[index] as LocalVmWriter;
        await writer.writeConfiguration(context);
        for (const disk of source.disks) {
          const base = bytesDone;
          const path = await writer.prepareDisk(disk.key, disk.capacity, false);
          bytesDone += await source.writeDisk(disk.key, path, {
            replace: false,
            targetLabel: `target ${writer.folder.path}`,
            context,
            onProgress: (bytes) => context.progress(base + bytes, bytesTotal),
          });
        }
        await writer.publish(context);
      }
    } finally {
      for (const source of sources) await source.close();
    }
  }

  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) for (const writer of this.writers) await writer.discard();
  }

  result(): Record<string, unknown> {
    return { published: this.writers.flatMap((writer) => writer.published) };
  }
}
