// A VM's disk read where it lies on a vSphere datastore (the NBD transport): the same readers
// and snapshot-chain rules as a local VM folder, over ranged reads of the host's file service.
import { openDiskChain, type OpenedChain } from '../../disks/vmdk-chain.ts';
import { DatastoreFiles } from './datastore-files.ts';
import type { VsphereClient } from './vsphere-client.ts';

/**
 * Opens the disk whose descriptor is `path` inside the datastore ("web01/web01.vmdk"), through
 * its snapshot chain. The chain's fileNames are relative to the descriptor's folder; `files`
 * are datastore paths ("[datastore1] web01/web01-flat.vmdk"). `signal` (the job's) ends a read
 * under way when the job is cancelled.
 */
export async function openDatastoreDisk(
  client: VsphereClient,
  where: { datacenter: string; datastore: string; path: string },
  signal?: AbortSignal,
): Promise<OpenedChain> {
  const files = new DatastoreFiles(client, where.datacenter, where.datastore, signal);
  return openDiskChain(files.nameOf(where.path), files);
}
