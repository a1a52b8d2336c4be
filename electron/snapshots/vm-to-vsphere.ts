// A VM restored from a presented clone to vSphere: the entire-VM restore (configuration,
// snapshot, disks through the chosen transport, commit), its bytes read from the clone.
import { join } from 'node:path';
import type { JobWork } from '../jobs/job-work.ts';
import { quietHooks, type StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { folderSource, type VmSource } from '../restore/vm-source.ts';
import type { CloneOperation, VmOnSnapshot } from './clone-work.ts';

export class VmToVsphere implements CloneOperation {
  readonly step = { name: 'restore-vm', title: 'Restore the VM from the clone to vSphere (configuration, snapshot, disks)' };
  private readonly makeRestore: (openSource: () => Promise<VmSource>) => JobWork;
  private restore: JobWork | null = null;

  constructor(makeRestore: (openSource: () => Promise<VmSource>) => JobWork) {
    this.makeRestore = makeRestore;
  }

  async run(seen: string, vms: VmOnSnapshot[], context: StepContext): Promise<void> {
    const [vm] = vms;
    if (!vm || vms.length !== 1) throw new LifeboatError('bad-request', 'a restore to vSphere takes one VM at a time');
    const restore = this.makeRestore(() => folderSource(join(seen, vm.folder)));
    this.restore = restore;
    await restore.plan.run(context, quietHooks);
  }

  async finish(succeeded: boolean): Promise<void> {
    await this.restore?.finish(succeeded);
  }

  result(): Record<string, unknown> {
    return this.restore?.result() ?? {};
  }
}
