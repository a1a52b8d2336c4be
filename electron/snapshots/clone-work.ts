// A restore from a storage snapshot, in the seed's order: it never reads the snapshot itself but
// a clone of it, one clone for all the VMs of the request (another request, even for the same VM,
// gets its own); the clone is presented to the host that reads it (added to its allowed servers;
// iSCSI static target, HBA rescan and VMFS resignature, or an NFS mount); the operation runs
// (whole VMs copied, or picked items); then the clone is unpresented and deleted, whatever
// happened. The clone is recorded for the janitor before the array makes it.
import type { StorageSnapshotPoint } from '../../shared/domain.ts';
import type { FileArray } from '../drivers/array/file-array.ts';
import type { ArrayClone, Presentation } from '../drivers/array/storage-array.ts';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import type { StepContext, StepDefinition } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';

export type { VmOnSnapshot } from './snapshot-lookup.ts';
import type { VmOnSnapshot } from './snapshot-lookup.ts';

/** What runs on the presented clone: `seen` is where the host sees the clone's files. */
export interface CloneOperation {
  readonly step: StepDefinition;
  run(seen: string, vms: VmOnSnapshot[], context: StepContext): Promise<void>;
  finish(succeeded: boolean): Promise<void>;
  result(): Record<string, unknown>;
}

/** `vms`: the VMs of the request, found on the snapshot (snapshotWith). */
export type CloneRequest = { snapshot: StorageSnapshotPoint; vms: VmOnSnapshot[]; host: string };

export function cloneSteps(operation: StepDefinition): readonly StepDefinition[] {
  return [
    { name: 'initialize', title: 'Initialization: the VMs on the snapshot' },
    { name: 'clone-snapshot', title: 'Clone the snapshot (the snapshot itself is never used)' },
    { name: 'present-clone', title: 'Present the clone to the host (allowed servers, rescan, resignature or NFS mount)' },
    operation,
    { name: 'remove-clone', title: 'Unpresent and delete the clone' },
  ];
}

export class CloneWork implements LegacyJobWork {
  readonly steps: readonly StepDefinition[];
  private readonly array: FileArray;
  private readonly request: CloneRequest;
  private readonly jobId: string;
  private readonly operation: CloneOperation;
  private clone: ArrayClone | null = null;
  private cloneId: string | null = null;
  private presentation: Presentation | null = null;

  constructor(array: FileArray, jobId: string, request: CloneRequest, operation: CloneOperation) {
    this.array = array;
    this.jobId = jobId;
    this.request = request;
    this.operation = operation;
    this.steps = cloneSteps(operation.step);
  }

  async run(step: string, context: StepContext): Promise<void> {
    switch (step) {
      case 'initialize':
        context.log(`${this.request.vms.map((vm) => vm.name).join(', ')} on snapshot ${this.request.snapshot.id} of ${this.request.snapshot.array}/${this.request.snapshot.volume}`);
        return;
      case 'clone-snapshot':
        context.resources.record('array-clone', { array: this.array.name, purpose: this.jobId });
        this.clone = await this.array.clone(this.request.snapshot.id, this.jobId);
        this.cloneId = this.clone.id;
        context.log(`snapshot ${this.request.snapshot.id} cloned as ${this.clone.id}`);
        return;
      case 'present-clone':
        this.presentation = await this.array.present((this.clone as ArrayClone).id, this.request.host, (message) => context.log(message));
        context.log(`clone ${(this.clone as ArrayClone).id} presented to ${this.request.host} as datastore ${this.presentation.datastore} (${this.presentation.protocol}, ${this.presentation.target})`);
        return;
      case 'remove-clone':
        await this.removeClone(context.log);
        return;
    }
    if (step === this.operation.step.name) return this.operation.run((this.presentation as Presentation).path, this.request.vms, context);
    throw new LifeboatError('internal', `restore from a snapshot has no step ${step}`);
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
    try {
      await this.operation.finish(succeeded);
    } finally {
      await this.removeClone(() => undefined);
    }
  }

  result(): Record<string, unknown> {
    return { snapshot: this.request.snapshot.id, array: this.array.name, clone: this.cloneId, vms: this.request.vms.map((vm) => vm.name), host: this.request.host, datastore: this.presentation?.datastore ?? null, ...this.operation.result() };
  }
}
