// Entire-VM restore from a storage snapshot, in the seed's order: the restore never reads the
// snapshot itself but a clone of it, one clone for all the VMs of the request (another request,
// even for the same VM, gets its own); the clone is presented to the host that reads it (added to
// its allowed servers; iSCSI static target, HBA rescan and VMFS resignature, or an NFS mount);
// each VM is copied from the clone to the target; then the clone is unpresented and deleted,
// whatever happened. The clone is recorded for the janitor before the array makes it.
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSourceVm } from '../backup/source-vm.ts';
import type { Disk } from '../disks/disk.ts';
import { openDisk } from '../disks/open-disk.ts';
import type { ArrayClone, Presentation } from '../drivers/array/storage-array.ts';
import type { FileArray } from '../drivers/array/file-array.ts';
import type { JobWork } from '../engine/job-work.ts';
import { throwIfCancelled, type StepContext } from '../engine/plan.ts';
import { LifeboatError } from '../errors.ts';
import { LocalVmWriter } from '../restore/local-vm-writer.ts';
import type { StorageSnapshotPoint } from '../../shared/domain.ts';

export const snapshotRestoreSteps = [
  { name: 'initialize', title: 'Initialization: the VMs on the snapshot and the target' },
  { name: 'clone-snapshot', title: 'Clone the snapshot (the snapshot itself is never used)' },
  { name: 'present-clone', title: 'Present the clone to the host (allowed servers, rescan, resignature or NFS mount)' },
  { name: 'transfer-disks', title: 'Copy each VM from the clone to the target' },
  { name: 'remove-clone', title: 'Unpresent and delete the clone' },
] as const;

const CHUNK = 1024 * 1024;

export type SnapshotRestoreRequest = { snapshot: StorageSnapshotPoint; vms: string[]; targetPath: string; newName: string | undefined; host: string };

function allZero(data: Uint8Array): boolean {
  for (let index = 0; index < data.length; index++) if (data[index] !== 0) return false;
  return true;
}

export class SnapshotRestoreWork implements JobWork {
  readonly steps = snapshotRestoreSteps;
  private readonly array: FileArray;
  private readonly request: SnapshotRestoreRequest;
  private readonly jobId: string;
  private clone: ArrayClone | null = null;
  private cloneId: string | null = null;
  private presentation: Presentation | null = null;
  private readonly writers: LocalVmWriter[] = [];
  private bytesTotal = 0;
  private bytesDone = 0;

  constructor(array: FileArray, jobId: string, request: SnapshotRestoreRequest) {
    this.array = array;
    this.jobId = jobId;
    this.request = request;
  }

  /** The VM folders of the request, inside the snapshot's volume. */
  private folders(): { name: string; folder: string }[] {
    return this.request.vms.map((wanted) => {
      const found = this.request.snapshot.vms.find((vm) => vm.name.toLowerCase() === wanted.toLowerCase());
      if (!found) throw new LifeboatError('not-found', `no VM "${wanted}" on snapshot ${this.request.snapshot.id}; it holds ${this.request.snapshot.vms.map((vm) => vm.name).join(', ') || 'no VM'}`);
      return found;
    });
  }

  async run(step: string, context: StepContext): Promise<'done' | 'skipped' | void> {
    switch (step) {
      case 'initialize': {
        const folders = this.folders();
        if (this.request.newName && folders.length > 1) throw new LifeboatError('bad-request', 'a new name is for one VM at a time');
        context.log(`${folders.map((vm) => vm.name).join(', ')} on snapshot ${this.request.snapshot.id} of ${this.request.snapshot.array}/${this.request.snapshot.volume}`);
        return 'done';
      }
      case 'clone-snapshot': {
        context.resources.record('array-clone', { array: this.array.name, purpose: this.jobId });
        this.clone = await this.array.clone(this.request.snapshot.id, this.jobId);
        this.cloneId = this.clone.id;
        context.log(`snapshot ${this.request.snapshot.id} cloned as ${this.clone.id}`);
        return 'done';
      }
      case 'present-clone': {
        this.presentation = await this.array.present((this.clone as ArrayClone).id, this.request.host, (message) => context.log(message));
        context.log(`clone ${(this.clone as ArrayClone).id} presented to ${this.request.host} as datastore ${this.presentation.datastore} (${this.presentation.protocol}, ${this.presentation.target})`);
        return 'done';
      }
      case 'transfer-disks':
        return this.transfer(context);
      case 'remove-clone':
        await this.removeClone(context.log);
        return 'done';
    }
    throw new LifeboatError('internal', `restore from a snapshot has no step ${step}`);
  }

  private async transfer(context: StepContext): Promise<void> {
    const seen = (this.presentation as Presentation).path;
    const vms = await Promise.all(
      this.folders().map(async (found) => {
        const source = await readSourceVm(join(seen, found.folder));
        const disks = await Promise.all(source.vmx.disks.map(async (disk) => ({ key: disk.key, fileName: disk.fileName, disk: await openDisk(join(source.folder, disk.fileName)) })));
        return { found, source, disks };
      }),
    );
    try {
      const single = vms.length === 1;
      for (const vm of vms) {
        // What the VM's files take on the clone: what its copy needs at most.
        for (const disk of vm.disks) this.bytesTotal += disk.disk.capacity;
        let allocated = 0;
        for (const disk of vm.disks) allocated += (await stat(join(vm.source.folder, disk.fileName))).blocks * 512;
        const writer = await LocalVmWriter.claim({
          target: single ? this.request.targetPath : join(this.request.targetPath, vm.source.vmx.displayName),
          jobId: this.jobId, resume: false, newName: this.request.newName, bytesNeeded: allocated, context,
          manifest: { vmName: vm.source.vmx.displayName, vmConfig: { text: vm.source.vmxText }, disks: vm.disks },
        });
        this.writers.push(writer);
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

  /** Copies a disk read from the clone into a sparse flat file; zero chunks stay holes. */
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

  private async removeClone(log: (message: string) => void): Promise<void> {
    const clone = this.clone;
    if (!clone) return;
    await this.array.unpresent(clone.id, this.request.host);
    await this.array.deleteClone(clone.id);
    this.clone = null;
    log(`clone ${clone.id} unpresented from ${this.request.host} and deleted`);
  }

  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) for (const writer of this.writers) await writer.discard();
    await this.removeClone(() => undefined);
  }

  result(): Record<string, unknown> {
    return {
      snapshot: this.request.snapshot.id,
      array: this.array.name,
      clone: this.cloneId,
      vms: this.request.vms,
      host: this.request.host,
      datastore: this.presentation?.datastore ?? null,
      published: this.writers.flatMap((writer) => writer.published),
    };
  }
}
