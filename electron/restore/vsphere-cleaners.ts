// The janitor's cleaners of what a restore to or a backup from vSphere leaves on a host: a
// half-restored VM (found by its name and the annotation the restore gave it) is destroyed, a disk
// hot-added to a proxy VM is detached, a backup's snapshot (found by the name the job gave it) is
// removed. One session per host serves every leftover of a janitor run.
import { snapshotsNamed } from '../drivers/vsphere/snapshot-tree.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { textOf } from '../drivers/vsphere/xml.ts';
import { refField, type Janitor, type JanitorRun } from '../jobs/janitor.ts';

export function registerVsphereCleaners(janitor: Janitor, connectHost: (name: string) => Promise<VsphereClient>): void {
  const sessionsByRun = new WeakMap<JanitorRun, Map<string, Promise<VsphereClient>>>();
  const session = (run: JanitorRun, host: string): Promise<VsphereClient> => {
    let sessions = sessionsByRun.get(run);
    if (!sessions) {
      const opened = new Map<string, Promise<VsphereClient>>();
      run.atEnd(async () => {
        for (const connecting of opened.values()) await connecting.then((client) => client.logout()).catch(() => undefined);
      });
      sessionsByRun.set(run, opened);
      sessions = opened;
    }
    let connecting = sessions.get(host);
    if (!connecting) sessions.set(host, (connecting = connectHost(host)));
    return connecting;
  };
  janitor.register('vsphere-vm', async (resource, run) => {
    const host = refField(resource, 'host');
    const name = refField(resource, 'name');
    const vsphere = await session(run, host);
    const vms = await vsphere.retrieve('VirtualMachine', ['name', 'config.annotation']);
    const ours = vms.filter(({ props }) => textOf(props.name) === name && textOf(props['config.annotation']) === resource.ref.annotation);
    for (const vm of ours) await vsphere.runTask('Destroy_Task', vm.obj, [], `remove half-restored VM ${name}`);
    return ours.length > 0 ? `removed half-restored VM ${name} from ${host}` : `VM ${name} was never created`;
  });
  janitor.register('vsphere-hot-added-disk', async (resource, run) => {
    const path = refField(resource, 'path');
    const proxyVm = refField(resource, 'proxyVm');
    const vsphere = await session(run, refField(resource, 'host'));
    const proxy = (await vsphere.retrieve('VirtualMachine', ['name'])).find(({ props }) => textOf(props.name) === proxyVm);
    if (proxy) await vsphere.detachDisk(proxy.obj, path);
    return `detached ${path} from proxy VM ${proxyVm}`;
  });
  janitor.register('vsphere-snapshot', async (resource, run) => {
    const vmName = refField(resource, 'vm');
    const snapshot = refField(resource, 'snapshot');
    const vsphere = await session(run, refField(resource, 'host'));
    const vms = (await vsphere.retrieve('VirtualMachine', ['name'])).filter(({ props }) => textOf(props.name) === vmName);
    let removed = 0;
    for (const vm of vms) {
      for (const ref of await snapshotsNamed(vsphere, vm.obj, snapshot)) {
        // Consolidated into the VM's disks: what was written since the snapshot is kept.
        await vsphere.removeSnapshot(ref, `remove snapshot ${snapshot}`);
        removed++;
      }
    }
    return removed > 0 ? `removed backup snapshot ${snapshot} of VM ${vmName}` : `VM ${vmName} has no snapshot ${snapshot}`;
  });
}
