// A storage snapshot from the catalog and the VMs asked for on it, or one clear error each.
import type { StorageSnapshotPoint } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';

export type VmOnSnapshot = StorageSnapshotPoint['vms'][number];

export function snapshotWith(
  catalog: Catalog,
  snapshotId: string,
  vmNames: string[],
): { snapshot: StorageSnapshotPoint; vms: VmOnSnapshot[] } {
  const snapshot = catalog.arrays.snapshot(snapshotId);
  if (!snapshot) throw new LifeboatError('not-found', `no storage snapshot "${snapshotId}"; \`lifeboat snapshots\` lists them`);
  const missing = vmNames.filter((name) => !snapshot.vms.some((vm) => vm.name.toLowerCase() === name.toLowerCase()));
  if (missing.length > 0)
    throw new LifeboatError(
      'not-found',
      `snapshot ${snapshot.id} holds no VM ${missing.join(', ')}; it holds ${snapshot.vms.map((vm) => vm.name).join(', ') || 'none'}`,
    );
  return { snapshot, vms: vmNames.map((name) => snapshot.vms.find((vm) => vm.name.toLowerCase() === name.toLowerCase()) as VmOnSnapshot) };
}
