// A restore from a storage snapshot, in the seed's order: it never reads the snapshot itself but
// a clone of it, one clone for all the VMs of the request (another request, even for the same VM,
// gets its own); the clone is presented to the host that reads it (added to its allowed servers;
// iSCSI static target, HBA rescan and VMFS resignature, or an NFS mount); the operation runs
// (whole VMs copied, or picked items); then the clone is unpresented and deleted, whatever
// happened. The clone is recorded for the janitor before the array makes it.
import type { StorageSnapshotPoint } from '../../shared/domain.ts';
import type { FileArray } from '../drivers/array/file-array.ts';
import type { ArrayClone, Presentation } from '../drivers/array/storage-array.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, type BoundPlan, type StepContext, type StepDefinition } from '../jobs/plan.ts';

export type { VmOnSnapshot } from './snapshot-lookup.ts';
import type { VmOnSnapshot } from './snapshot-lookup.ts';
import { killPoint } from '../kill-point.ts';

/** What runs on the presented clone: `seen` is where the host sees the clone's files. */
export interface CloneOperation {
  readonly step: StepDefinition;
  run(seen: string, vms: VmOnSnapshot[], context: StepContext): Promise<void>;
  finish(succeeded: boolean): Promise<void>;
  result(): Record<string, unknown>;
}

/** `vms`: the VMs of the request, found on the snapshot (snapshotWith). */
export type CloneRequest = { snapshot: StorageSnapshotPoint; vms: VmOnSnapshot[]; host: string };

export class CloneWork implements JobWork {
  /** The clone's steps around the operation, which runs on what the host sees of the presented clone. */
  private static planAround(operation: StepDefinition): Plan<CloneWork> {
    return Plan.of<CloneWork>()
      .step('initialize', 'Initialization: the VMs on the snapshot', (work, _none, context) => work.initialize(context))
      .step('clone-snapshot', 'Clone the snapshot (the snapshot itself is never used)', (work, _none, context) =>
        work.cloneSnapshot(context),
      )
      .step('present-clone', 'Present the clone to the host (allowed servers, rescan, resignature or NFS mount)', (work, clone, context) =>
        work.present(clone, context),
      )
      .step(operation.name, operation.title, (work, presentation, context) =>
        work.operation.run(presentation.path, work.request.vms, context),
      )
      .step('remove-clone', 'Unpresent and delete the clone', (work, _none, context) => work.removeClone(context.log));
  }
  readonly plan: BoundPlan<void>;
  private readonly array: FileArray;
  private readonly request: CloneRequest;
  private readonly jobId: string;
  private readonly operation: CloneOperation;
  /** The clone while it exists: finish() removes it if the job did not get to. */
  private clone: ArrayClone | null = null;
  private cloneId: string | null = null;
  private presentation: Presentation | null = null;

  constructor(array: FileArray, jobId: string, request: CloneRequest, operation: CloneOperation) {
    this.array = array;
    this.jobId = jobId;
    this.request = request;
    this.operation = operation;
    this.plan = CloneWork.planAround(operation.step).bind(this);
  }

  private async initialize(context: StepContext): Promise<void> {
    context.log(
      `${this.request.vms.map((vm) => vm.name).join(', ')} on snapshot ${this.request.snapshot.id} of ${this.request.snapshot.array}/${this.request.snapshot.volume}`,
    );
  }

  private async cloneSnapshot(context: StepContext): Promise<ArrayClone> {
    context.resources.record('array-clone', { array: this.array.name, purpose: this.jobId });
    const clone = await this.array.clone(this.request.snapshot.id, this.jobId);
    this.clone = clone;
    this.cloneId = clone.id;
    context.log(`snapshot ${this.request.snapshot.id} cloned as ${clone.id}`);
    killPoint('array-clone-made');
    return clone;
  }

  private async present(clone: ArrayClone, context: StepContext): Promise<Presentation> {
    const presentation = await this.array.present(clone.id, this.request.host, (message) => context.log(message));
    this.presentation = presentation;
    context.log(
      `clone ${clone.id} presented to ${this.request.host} as datastore ${presentation.datastore} (${presentation.protocol}, ${presentation.target})`,
    );
    return presentation;
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
    return {
      snapshot: this.request.snapshot.id,
      array: this.array.name,
      clone: this.cloneId,
      vms: this.request.vms.map((vm) => vm.name),
      host: this.request.host,
      datastore: this.presentation?.datastore ?? null,
      ...this.operation.result(),
    };
  }
}
