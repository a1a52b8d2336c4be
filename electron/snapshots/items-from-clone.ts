// Item-level restore from a presented clone: the VM's disks on the clone, read through the disk
// readers, browsed like a restore point's, and the picked items copied as an item restore does.
import { join } from 'node:path';
import { readSourceVm } from '../disks/vm-folder.ts';
import { openDisk } from '../disks/vmdk-chain.ts';
import { quietHooks, type StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { PointBrowser } from '../items/point-browser.ts';
import { RestoreItemsWork, type ItemRequest } from '../items/restore-items.ts';
import type { CloneOperation, VmOnSnapshot } from './clone-work.ts';

export class ItemsFromClone implements CloneOperation {
  readonly step = { name: 'copy-items', title: 'Find and copy the items from the clone' };
  private readonly request: ItemRequest;
  private items: RestoreItemsWork | null = null;

  constructor(request: ItemRequest) {
    this.request = request;
  }

  async run(seen: string, vms: VmOnSnapshot[], context: StepContext): Promise<void> {
    const [vm] = vms;
    if (!vm || vms.length !== 1) throw new LifeboatError('bad-request', 'items come from one VM at a time');
    const source = await readSourceVm(join(seen, vm.folder));
    const items = new RestoreItemsWork(
      async () => PointBrowser.fromDisks(await Promise.all(source.vmx.disks.map((disk) => openDisk(join(source.folder, disk.fileName))))),
      this.request,
    );
    this.items = items;
    await items.plan.run(context, quietHooks);
  }

  async finish(): Promise<void> {
    await this.items?.finish();
  }

  result(): Record<string, unknown> {
    return this.items?.result() ?? {};
  }
}
