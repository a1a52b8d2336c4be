// The janitor: removes what jobs recorded and did not get to clean up (the engine died, or their
// cleanup failed). It keeps what an interrupted restore needs to resume, until it is resumed or
// discarded. What it cannot remove now stays recorded for the next start, and is said in the
// owning job's log.
import { rm, rmdir } from 'node:fs/promises';
import type { Catalog, JobResource } from '../catalog/catalog.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { textOf } from '../drivers/vsphere/xml.ts';
import { toWireError } from '../errors.ts';
import { FileArray } from '../drivers/array/file-array.ts';
import { isResumableJob } from './resumable.ts';
import { killPoint } from '../kill-point.ts';

export type JanitorDeps = { catalog: Catalog; connectHost(name: string): Promise<VsphereClient> };

/** Resources an interrupted restore to a local folder needs for `jobs resume`. */
export function keptForResume(catalog: Catalog, resource: JobResource): boolean {
  if (resource.kind !== 'staging-folder' && resource.kind !== 'target-folder' && resource.kind !== 'published-file') return false;
  return catalog.getJob(resource.jobId)?.state === 'interrupted' && isResumableJob(catalog, resource.jobId);
}

async function removeOne(resource: JobResource, clients: Map<string, Promise<VsphereClient>>, deps: JanitorDeps): Promise<string> {
  const client = (host: string): Promise<VsphereClient> => {
    let connecting = clients.get(host);
    if (!connecting) clients.set(host, (connecting = deps.connectHost(host)));
    return connecting;
  };
  switch (resource.kind) {
    case 'staging-folder':
    case 'partial-point':
      await rm(resource.ref.path as string, { recursive: true, force: true });
      return `removed ${resource.ref.path}`;
    case 'published-file':
      // A file a restore had moved into its target before it stopped: undone with the restore,
      // unless the restore succeeded (its cleanup failed after, and left its records open).
      if (deps.catalog.getJob(resource.jobId)?.state === 'succeeded') return `kept ${resource.ref.path}: its restore succeeded`;
      await rm(resource.ref.path as string, { force: true });
      return `removed ${resource.ref.path}`;
    case 'target-folder':
      // Only an empty folder is ours to remove; anything in it was published or is not ours.
      await rmdir(resource.ref.path as string).catch(() => undefined);
      return `tidied target folder ${resource.ref.path}`;
    case 'vsphere-vm': {
      const vsphere = await client(resource.ref.host as string);
      const vms = await vsphere.retrieve('VirtualMachine', ['name', 'config.annotation']);
      const ours = vms.filter(({ props }) => textOf(props.name) === resource.ref.name && textOf(props['config.annotation']) === resource.ref.annotation);
      for (const vm of ours) await vsphere.runTask('Destroy_Task', vm.obj, [], `remove half-restored VM ${resource.ref.name}`);
      return ours.length > 0 ? `removed half-restored VM ${resource.ref.name} from ${resource.ref.host}` : `VM ${resource.ref.name} was never created`;
    }
    case 'array-clone': {
      const known = deps.catalog.arrays.find(resource.ref.array as string);
      if (!known) return `array ${resource.ref.array} is no longer in the catalog`;
      const removed = await FileArray.open(known.name, known.path).removeClonesOf(resource.ref.purpose as string);
      return removed.length > 0 ? `unpresented and deleted clone ${removed.join(', ')} on array ${known.name}` : `no clone was made on array ${known.name}`;
    }
    case 'vsphere-hot-added-disk': {
      const vsphere = await client(resource.ref.host as string);
      const proxy = (await vsphere.retrieve('VirtualMachine', ['name'])).find(({ props }) => textOf(props.name) === resource.ref.proxyVm);
      if (proxy) await vsphere.detachDisk(proxy.obj, resource.ref.path as string);
      return `detached ${resource.ref.path} from proxy VM ${resource.ref.proxyVm}`;
    }
  }
}

/** Cleans up open resources (of one job, or all); returns how many were removed. */
export async function runJanitor(deps: JanitorDeps, options: { jobId?: string; keepResumable: boolean }): Promise<number> {
  const open = deps.catalog.openResources(options.jobId).filter((resource) => !options.keepResumable || !keptForResume(deps.catalog, resource));
  const clients = new Map<string, Promise<VsphereClient>>();
  let removed = 0;
  for (const resource of open) {
    const at = new Date().toISOString();
    try {
      const what = await removeOne(resource, clients, deps);
      killPoint('janitor-removed');
      deps.catalog.releaseResources(resource.jobId, [resource.id]);
      deps.catalog.addJobEvent(resource.jobId, { at, level: 'info', step: null, message: `janitor: ${what}` });
      removed++;
    } catch (error) {
      deps.catalog.addJobEvent(resource.jobId, { at, level: 'warning', step: null, message: `janitor: could not clean up ${resource.kind} (${toWireError(error).message}); will retry at the next start` });
    }
  }
  for (const connecting of clients.values()) await connecting.then((client) => client.logout()).catch(() => undefined);
  return removed;
}
